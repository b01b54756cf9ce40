"""Machine-readable contracts for other systems: the AsyncAPI document of every topic and the
gateway's OpenAPI document (docs/asyncapi.yaml, docs/openapi.json; `nurture spec`)."""
