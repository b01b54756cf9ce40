"""Micro-benchmark of the scoring hot path on a realistic, deterministic event mix.

Run ``python -m streams.bench.scoring [n]``. The mix: activity per candidate is log-normal (a few
candidates do much of it), page views and e-mail opens dominate, 5% of events arrive late (up to
30 days) and 1% are duplicates of a recent event. Timings are per event / per row, in µs of CPU
time (other processes on the machine skew wall time), the best of a few runs, with the garbage
collector on as in the worker.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson

from streams.scoring.config import ScoringModel, load_model
from streams.scoring.rules import DAY_US
from streams.scoring.state import EngagementState, new_state
from streams.scoring.update import ScoringInput, apply_event

#: Share of each event type in the mix.
EVENT_MIX: Mapping[str, float] = {
    "page_viewed": 0.55,
    "email_opened": 0.15,
    "email_clicked": 0.07,
    "application_submitted": 0.05,
    "content_downloaded": 0.04,
    "career_event_registered": 0.03,
    "job_alert_subscribed": 0.02,
    "talent_pool_joined": 0.02,
    "career_event_attended": 0.02,
    "email_replied": 0.02,
    "unsubscribed": 0.01,
    "candidate_hired": 0.005,
}
PAGE_TYPES = ("job", "job", "career_home", "blog_post", "career_event", None)
START_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
SPAN_US = 180 * DAY_US  # the stream covers half a year of event time
RUNS = 3


def make_events(n: int, seed: int = 7) -> list[tuple[str, ScoringInput]]:
    """``n`` (candidate id, event) pairs of the realistic mix, in arrival order."""
    rng = random.Random(seed)
    candidates = max(n // 10, 1)
    rates = [rng.lognormvariate(0.0, 1.2) for _ in range(candidates)]
    who = rng.choices(range(candidates), weights=rates, k=n)
    types = rng.choices(list(EVENT_MIX), weights=list(EVENT_MIX.values()), k=n)
    recent: dict[int, list[ScoringInput]] = {}
    events: list[tuple[str, ScoringInput]] = []
    for index in range(n):
        candidate = who[index]
        earlier = recent.setdefault(candidate, [])
        if earlier and rng.random() < 0.01:
            events.append((f"c{candidate}", rng.choice(earlier)))
            continue
        occurred = START_US + SPAN_US * index // n - _lateness(rng)
        kind = types[index]
        payload: dict[str, Any] | None = None
        if kind == "page_viewed":
            payload = {"url": "https://jobs.example.com/x", "page_type": rng.choice(PAGE_TYPES)}
        event_id = f"{rng.getrandbits(128):032x}"  # as long as a UUID without dashes
        event = ScoringInput(event_id, kind, occurred, payload, index % 12, index)
        earlier.append(event)
        del earlier[:-20]
        events.append((f"c{candidate}", event))
    return events


def _lateness(rng: random.Random) -> int:
    draw = rng.random()
    if draw < 0.01:
        return rng.randrange(30 * DAY_US)
    if draw < 0.05:
        return rng.randrange(DAY_US)
    return rng.randrange(60_000_000)


def busiest_state(model: ScoringModel) -> EngagementState:
    """The largest row the model allows: every weighted type on every day of the horizon."""
    state = new_state()
    sequence = 0
    for day in range(model.horizon_days + 1):
        for kind in model.compiled.rules:
            sequence += 1
            occurred = START_US + day * DAY_US + sequence
            apply_event(model, state, ScoringInput(f"{sequence:032x}", kind, occurred, None))
    return state


def bench_scoring(n: int = 200_000, model: ScoringModel | None = None) -> dict[str, float]:
    """Time ``apply_event`` and the row round trip (to_dict + orjson + from_dict).

    Returns µs per event for ``apply_event_us``; µs per row round trip averaged over the rows
    (``row_roundtrip_us``) and weighted by the events each row saw
    (``row_roundtrip_per_event_us``: what a worker pays that reads and writes the row on every
    event); the same for the largest row of the mix and for the largest row the model allows
    (``busiest_row_*``); and row sizes in bytes.
    """
    model = model or load_model()
    events = make_events(n)
    apply_us = float("inf")
    states: dict[str, EngagementState] = {}
    for _ in range(RUNS):
        states = {}
        started = time.process_time()
        for candidate, event in events:
            state = states.get(candidate)
            if state is None:
                state = states[candidate] = new_state()
            apply_event(model, state, event)
        apply_us = min(apply_us, (time.process_time() - started) / n * 1e6)
    seen: dict[str, int] = {}
    for candidate, _ in events:
        seen[candidate] = seen.get(candidate, 0) + 1

    costs: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for candidate, state in states.items():
        costs[candidate], sizes[candidate] = _roundtrip(state)
    largest = max(sizes, key=sizes.__getitem__)
    busiest_us, busiest_bytes = _roundtrip(busiest_state(model))
    return {
        "events": float(n),
        "candidates": float(len(states)),
        "apply_event_us": apply_us,
        "row_roundtrip_us": sum(costs.values()) / len(costs),
        "row_roundtrip_per_event_us": sum(costs[c] * seen[c] for c in costs) / n,
        "mean_row_bytes": sum(sizes.values()) / len(sizes),
        "largest_row_roundtrip_us": costs[largest],
        "largest_row_bytes": float(sizes[largest]),
        "busiest_row_roundtrip_us": busiest_us,
        "busiest_row_bytes": float(busiest_bytes),
    }


def _roundtrip(state: EngagementState) -> tuple[float, int]:
    """Best time in µs of to_dict + orjson.dumps + orjson.loads + from_dict, and the row size."""
    best = float("inf")
    blob = b""
    for _ in range(RUNS):
        started = time.process_time()
        blob = orjson.dumps(state.to_dict())
        EngagementState.from_dict(orjson.loads(blob))
        best = min(best, time.process_time() - started)
    return best * 1e6, len(blob)


def main() -> None:
    """Print :func:`bench_scoring` results (``n`` from the command line, default 200,000)."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for name, value in bench_scoring(n).items():
        print(f"{name:28} {value:12.2f}")


if __name__ == "__main__":
    main()
