"""The contract of candidate-nurture: what travels through Kafka, and how.

Read top-down:

* ``registry/``            the Avro schemas, every version forever (the source of truth)
* :mod:`schemas.catalog`   loads and checks the registry; fingerprints; ``SUBJECTS``
* :mod:`schemas.compatibility`  evolution rules between versions (Avro's own checker)
* :mod:`schemas.wire`      the single-object frame: ``C3 01`` + fingerprint + Avro body
* :mod:`schemas.codec`     dict records <-> bytes (``encode``, ``decode``, ``decode_as``)
* :mod:`schemas.models`    pydantic models of every record, for the edges (SDK, gateway)
* :mod:`schemas.bench`     ``bench_codec()``: what encoding, decoding and validation cost

``errors``, ``settings`` and ``topics`` are shared by every layer, and so are the rules more than
one layer applies: ``consent`` (may a candidate be contacted), ``tracking_tokens`` and
``tracking_secret`` (e-mail link tokens: delivery signs, the gateway checks), ``metric_names``
(metrics several processes write). :mod:`schemas.kafka_seam` (topic admin, connection
diagnostics) is the only part that knows a Kafka client; the rest never imports it
(``.importlinter``). Importing this package loads nothing else: the registry is read on first use.
"""
