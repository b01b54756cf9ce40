"""The engagement score model: pure functions over plain data, no Kafka (see docs/scoring.md)."""

from streams.scoring.config import ScoringModel, load_model

__all__ = ["ScoringModel", "load_model"]
