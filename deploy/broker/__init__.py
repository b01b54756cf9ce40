"""A real local Apache Kafka 4.x broker (single-node KRaft) for development, tests and `nurture up`.

``jars`` fetches the broker's jars from Maven Central into a cache outside the repository,
``config`` renders its configuration (pure functions), ``process`` starts, stops and inspects it.
``secure`` is the same broker with a SASL_SSL (SCRAM-SHA-512 + TLS) listener only, and ``tls``
makes its throw-away CA and certificate.
"""
