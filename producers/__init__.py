"""Producers: everything that writes the pipeline's input topics.

The SDK (:class:`NurtureProducer`) publishes activity events, profile upserts and erasure
requests; ``nurture publish`` (:mod:`producers.publish`) sends JSON-lines files through it and
``nurture simulate`` (:mod:`producers.simulate`) generates synthetic candidates and journeys.
"""

from producers.delivery import (
    BulkResult,
    Delivery,
    DeliveryRejectedError,
    PublishTimeoutError,
    RecordMetadata,
    Rejection,
)
from producers.producer import NurtureProducer
from producers.settings import ProducerSettings, load_producer_settings

__all__ = [
    "BulkResult",
    "Delivery",
    "DeliveryRejectedError",
    "NurtureProducer",
    "ProducerSettings",
    "PublishTimeoutError",
    "RecordMetadata",
    "Rejection",
    "load_producer_settings",
]
