"""The HTTP ingestion gateway (``nurture gateway``): activity events, CloudEvents, profile
upserts and erasure requests from systems not written in Python, into Kafka with acks=all.

Modules, in the order a request meets them: :mod:`.settings` (``GatewaySettings``),
:mod:`.auth` (API keys), :mod:`.limits` (content type, sizes), :mod:`.cloud_events` (mapping),
:mod:`.ratelimit`, :mod:`.ingest` (validate, de-duplicate via :mod:`.dedup`, publish via
:mod:`.publisher`), :mod:`.profiles`; :mod:`.routes`, :mod:`.openapi` and :mod:`.app` assemble
them; :mod:`.metrics` counts; :mod:`.server` runs uvicorn; :mod:`.bench` measures.
"""

from producers.gateway.app import create_app
from producers.gateway.settings import GatewaySettings, load_gateway_settings

__all__ = ["GatewaySettings", "create_app", "load_gateway_settings"]
