"""The Kafka seam under producers, streams and consumers (kafka-python and aiokafka).

* :mod:`schemas.kafka_seam.clients`            the one factory of Kafka clients (both libraries)
* :mod:`schemas.kafka_seam.connection_errors`  why a client could not connect, in words
* :mod:`schemas.kafka_seam.topic_admin`        create, describe and delete the declared topics
* :mod:`schemas.kafka_seam.partitioner`        the key partitioner (murmur2, memoised)
* :mod:`schemas.kafka_seam.proto`              what components use of Kafka, as Protocols
* :mod:`schemas.kafka_seam.reader`             read topics or partitions to their end offsets
* :mod:`schemas.kafka_seam.broker`             record sink and topic admin on the real broker
* :mod:`schemas.kafka_seam.memory`             the in-memory twin of every role, for pure tests

``tests/test_kafka_seam_conformance.py`` runs one behaviour suite on the twin and on the broker.

It lives in ``schemas`` because every layer above the contract uses it (and the wheel ships the
five top-level packages only). Within ``schemas`` it is a layer of its own: it may import the
contract, the contract never imports it, and it is the only part of ``schemas`` that knows a
Kafka client (both checked by ``.importlinter``).
"""
