"""Schema Registry mode: the Confluent wire format against a Confluent-compatible registry.

Off unless ``NURTURE_SCHEMA_REGISTRY_URL`` is set; then records are framed ``00`` + 4-byte
schema id + Avro body so Kafka Connect, ksqlDB, Flink and other-language clients read and write
the topics, and every reader accepts both framings per record during a migration
(docs/integrations.md, "Schema Registry mode").

* :mod:`.settings`   the frozen settings model (URL, auth, timeouts, cache of failures)
* :mod:`.framing`    the 5-byte Confluent header, and which framing a payload carries
* :mod:`.subjects`   which registry subject each topic's records go under (one pure function)
* :mod:`.client`     a thin Confluent-compatible REST client (httpx)
* :mod:`.resolver`   schema id -> the catalog's subject and version, cached
* :mod:`.codec`      encoders and the both-framings decoder; :func:`.codec.wire_codec` picks
  the codec from the settings
* :mod:`.register`   registering every subject's versions (`nurture schemas register`)
"""
