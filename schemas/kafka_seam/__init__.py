"""The Kafka seam under producers, streams and consumers (kafka-python and aiokafka).

* :mod:`schemas.kafka_seam.clients`            the one factory of Kafka clients (both libraries)
* :mod:`schemas.kafka_seam.connection_errors`  why a client could not connect, in words
* :mod:`schemas.kafka_seam.topic_admin`        create, describe and delete the declared topics
* :mod:`schemas.kafka_seam.partitioner`        the key partitioner (murmur2, memoised)
* :mod:`schemas.kafka_seam.proto`              what components use of Kafka, as Protocols
* :mod:`schemas.kafka_seam.reader`             read topics or partitions to their end offsets

It lives in ``schemas`` because every layer above the contract uses it (and the wheel ships the
five top-level packages only). Within ``schemas`` it is a layer of its own: it may import the
contract, the contract never imports it, and it is the only part of ``schemas`` that knows a
Kafka client (both checked by ``.importlinter``).
"""
