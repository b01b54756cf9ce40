"""A run's own topics and consumer groups: checked fresh before, deleted after.

Every topic and group a run makes starts with its prefix (the declared topics, faust's changelog
and leader topics, the worker and delivery groups), and a run refuses a prefix that anything in
the cluster already uses, so deleting by prefix removes its own things and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kafka.errors import KafkaError

from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings

#: How long to keep retrying the deletion of a group whose members have not left yet (a
#: SIGKILLed member stays until its session times out), seconds.
GROUP_DELETE_TIMEOUT_S = 30.0


@dataclass
class Cleanup:
    """What :func:`delete_run` removed, and what it could not."""

    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def in_use(kafka: KafkaSettings, prefix: str) -> list[str]:
    """Topics and consumer groups whose names start with ``prefix`` (empty: it is fresh)."""
    with topic_admin.admin_client(kafka) as admin:
        topics = [t for t in admin.list_topics() if t.startswith(prefix)]
        groups = [g["group_id"] for g in admin.list_groups() if g["group_id"].startswith(prefix)]
    return sorted(topics) + sorted(f"group {g}" for g in groups)


def delete_run(
    kafka: KafkaSettings, prefix: str, timeout_s: float = GROUP_DELETE_TIMEOUT_S
) -> Cleanup:
    """Delete every consumer group and topic whose name starts with ``prefix`` (not empty)."""
    if not prefix:
        raise ValueError("refusing to delete topics and groups without a prefix")
    done = Cleanup()
    deadline = time.monotonic() + timeout_s
    with topic_admin.admin_client(kafka) as admin:
        pending = {g["group_id"] for g in admin.list_groups() if g["group_id"].startswith(prefix)}
        while pending:
            try:
                answers = admin.delete_groups(sorted(pending))
            except KafkaError as exc:
                answers = dict.fromkeys(pending, f"{type(exc).__name__}: {exc}")
            for group, error in answers.items():
                if not error or error == "GroupIdNotFoundError":
                    pending.discard(group)
                    done.groups.append(group)
            if pending and time.monotonic() > deadline:
                done.problems += [f"group {g}: {answers.get(g)}" for g in sorted(pending)]
                break
            if pending:
                time.sleep(0.5)
        topics = sorted(t for t in admin.list_topics() if t.startswith(prefix))
        if topics:
            try:
                topic_admin.delete_topics(admin, topics)
                done.topics = topics
            except KafkaError as exc:
                done.problems.append(f"topics: {type(exc).__name__}: {exc}")
    return done
