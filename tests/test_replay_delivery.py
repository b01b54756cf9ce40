"""What delivery does with actions a rebuild marked ``replay: true`` (real broker, webhook).

The same action_id as one already sent: a no-op (no second call, no second outcome). A replay
action delivery never saw: not sent, recorded ``suppressed`` with reason ``replay``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until
from tests.test_delivery_support import (
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)

pytestmark = pytest.mark.kafka


def _of(kafka: KafkaSettings, action_id: str) -> list[dict[str, Any]]:
    return [o for o in outcomes(kafka) if o["action_id"] == action_id]


def test_replayed_actions_are_never_sent(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-replay"))
    receiver = Receiver(statuses=[])
    live = action("cand-replay")
    stale = action("cand-replay", step_id="second")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        with running_delivery(kafka, settings):
            publish_actions(kafka, live)
            wait_until(lambda: _of(kafka, live.action_id), what="the live action's outcome")
            publish_actions(
                kafka,
                live.model_copy(update={"replay": True}),  # a rebuild decided it again
                stale.model_copy(update={"replay": True}),  # a rebuild decided it only now
            )
            suppressed = wait_until(lambda: _of(kafka, stale.action_id), what="stale outcome")
    assert receiver.count() == 1
    assert [o["outcome"] for o in _of(kafka, live.action_id)] == ["sent"]
    assert [(o["outcome"], o["reason"]) for o in suppressed] == [("suppressed", "replay")]
