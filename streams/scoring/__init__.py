"""The engagement score model: pure functions over plain data, no Kafka (see docs/scoring.md).

The stream worker loads a :class:`ScoringModel` once (:func:`load_model`), keeps an
:class:`EngagementState` per candidate in its table and calls :func:`apply_event` for each
activity event, publishing :func:`engagement_record` and acting on ``Update.tier_changed``.
"""

from streams.scoring.config import ScoringModel, load_model
from streams.scoring.state import EngagementState, StateModelMismatchError, new_state
from streams.scoring.update import (
    ScoringInput,
    Update,
    apply_event,
    engagement_record,
    score_at,
    tier_for,
)

__all__ = [
    "EngagementState",
    "ScoringInput",
    "ScoringModel",
    "StateModelMismatchError",
    "Update",
    "apply_event",
    "engagement_record",
    "load_model",
    "new_state",
    "score_at",
    "tier_for",
]
