"""Printing a chaos run: its figures as a JSON-ready dict, and the same figures as text.

Both forms come from :func:`figures`, so ``--json`` and the text never disagree. Exit status:
:data:`EXIT_CLEAN` when nothing was found, :data:`EXIT_FINDINGS` otherwise (a difference, a
duplicate e-mail, a run that did not drain, a stuck partition, an unexpected exit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deploy.chaos.compare import Comparison
from deploy.chaos.outcome import Outcome
from deploy.chaos.result import ChaosResult
from deploy.chaos.schedule import KILL_KINDS

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
#: Ids listed per kind of difference.
SHOWN_IDS = 5


def exit_status(result: ChaosResult) -> int:
    return EXIT_CLEAN if result.clean else EXIT_FINDINGS


def figures(result: ChaosResult) -> dict[str, Any]:
    """Everything the run measured, as plain JSON values."""
    options = result.options
    return {
        "seed": options.seed,
        "prefix": options.prefix,
        "workers": options.workers,
        "scale": options.scale,
        "rate": options.rate,
        "input": {
            "profiles": result.profiles,
            "events": result.events,
            "duplicate_event_ids": result.duplicates,
        },
        "kills": _kills(result),
        "recovery_s": _recovery(result),
        "reference": _outcome(result.reference, result.reference_s),
        "chaos": {
            **_outcome(result.chaos, result.chaos_s),
            "drain_seconds": _round(result.drain_s),
        },
        "comparison": _comparison(result.comparison),
        "delivery": _delivery(result),
        "drained": result.drained,
        "longest_stall_s": _round(result.longest_stall_s),
        "broker_faults": _broker_faults(result),
        "stuck_partitions": _stuck_partitions(result),
        "stalled_processes": {name: list(tail) for name, tail in result.stalled_processes.items()},
        "exits": _exits(result),
        "findings": result.findings(),
        "clean": result.clean,
        "exit_status": exit_status(result),
        "kept_dir": None if result.kept_dir is None else str(result.kept_dir),
        "cleanup_problems": result.cleanup_problems,
    }


def _kills(result: ChaosResult) -> dict[str, Any]:
    return {
        "scheduled": result.scheduled,
        "applied": result.kills_by_kind(),
        "workers": result.kills_by_kind("worker"),
        "delivery": result.kills_by_kind("delivery"),
        "total": len(result.kills),
    }


def _recovery(result: ChaosResult) -> dict[str, Any]:
    p50, p99 = result.recovery_percentiles()
    return {
        "worker_sigkill": [_round(s) for s in result.worker_recovery_s],
        "p50": _round(p50),
        "p99": _round(p99),
        "delivery_sigkill": [_round(s) for s in result.delivery_recovery_s],
    }


def _comparison(comparison: Comparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "candidates": comparison.candidates,
        "candidates_differing": len(comparison.differing_candidates),
        "engagement_differing": len(comparison.engagement),
        "suppression_differing": len(comparison.suppression),
        "examples": [d.summary() for d in comparison.examples],
        "actions_missing": len(comparison.missing_actions),
        "actions_extra": len(comparison.extra_actions),
        "missing_ids": list(comparison.missing_actions[:SHOWN_IDS]),
        "extra_ids": list(comparison.extra_actions[:SHOWN_IDS]),
    }


def _delivery(result: ChaosResult) -> dict[str, Any]:
    return {
        "emails": result.emails,
        "duplicate_sends": sum(n - 1 for n in result.duplicate_sends.values()),
        "duplicated": dict(list(result.duplicate_sends.items())[:SHOWN_IDS]),
        "outcomes": dict(sorted(result.delivery_outcomes.items())),
    }


def _stuck_partitions(result: ChaosResult) -> list[dict[str, Any]]:
    return [
        {
            "partition": str(pid),
            "committed": pos.committed,
            "end": pos.end,
            "lag": pos.lag,
            "committed_recheck": result.committed_recheck.get(pid),
        }
        for pid, pos in result.stuck
    ]


def _exits(result: ChaosResult) -> dict[str, Any]:
    return {
        "total": len(result.exits),
        "unexpected": [
            {
                "member": e.member,
                "code": e.code,
                "sent": e.sent,
                "hung": e.hung,
                "what": e.describe(),
                "log_tail": list(e.log_tail),
            }
            for e in result.unexpected_exits
        ],
    }


def _broker_faults(result: ChaosResult) -> dict[str, Any] | None:
    if result.options.broker_faults is None:
        return None
    check = result.publish
    start = result.broker_events[0].at if result.broker_events else 0.0
    return {
        "mode": result.options.broker_faults,
        "events": [
            {"at_s": _round(e.at - start), "node": e.node, "what": e.what}
            for e in result.broker_events
        ],
        "acknowledged": None if check is None else check.acknowledged,
        "found": None if check is None else check.found,
        "missing": None if check is None else len(check.missing),
        "missing_ids": [] if check is None else list(check.missing[:SHOWN_IDS]),
        "extra_copies": None if check is None else check.extra_copies,
        "in_sync_at_end": result.in_sync_at_end,
    }


def _outcome(outcome: Outcome | None, seconds: float) -> dict[str, Any]:
    if outcome is None:
        return {"read": False, "seconds": _round(seconds)}
    return {
        "read": True,
        "candidates": len(outcome.engagement),
        "actions": len(outcome.actions),
        "suppression_records": len(outcome.suppression),
        "dead_letters": dict(outcome.dead_letters),
        "seconds": _round(seconds),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def render_text(data: dict[str, Any]) -> list[str]:
    """The figures of :func:`figures` as lines for a terminal."""
    return [
        *_run_lines(data),
        *_comparison_lines(data["comparison"]),
        *_health_lines(data),
        *_exit_lines(data),
    ]


def _run_lines(data: dict[str, Any]) -> list[str]:
    """What ran: the options, the input, the kills, the recovery and both runs' outcomes."""
    kills, recovery, chaos = data["kills"], data["recovery_s"], data["chaos"]
    return [
        f"nurture chaos: seed {data['seed']}, {data['workers']} workers + 1 e-mail delivery "
        f"consumer, scale {data['scale']:g}, prefix {data['prefix']}",
        f"input             {data['input']['events']:,} events "
        f"({data['input']['duplicate_event_ids']:,} repeat an event id), "
        f"{data['input']['profiles']:,} profiles; {data['rate']:g} events/s during the schedule",
        f"kills             {kills['total']} applied: {_kinds(kills['applied'])} "
        f"(delivery consumer: {_kinds(kills['delivery'])}); scheduled {_kinds(kills['scheduled'])}",
        f"recovery          after SIGKILL of a worker: p50 {_seconds(recovery['p50'])}, "
        f"p99 {_seconds(recovery['p99'])} "
        f"({_measured(recovery['worker_sigkill'])})",
        f"reference         {_outcome_text(data['reference'])}",
        f"chaos             {_outcome_text(chaos)}"
        + ("" if not chaos["read"] else f", drained in {chaos['drain_seconds']}s after the kills"),
    ]


def _comparison_lines(comparison: dict[str, Any] | None) -> list[str]:
    if comparison is None:
        return ["compared          no (the run ended early)"]
    return [
        f"candidates        {comparison['candidates_differing']} of "
        f"{comparison['candidates']} differ (engagement {comparison['engagement_differing']}, "
        f"suppression {comparison['suppression_differing']})",
        *(f"                  e.g. {example}" for example in comparison["examples"]),
        f"actions           missing {comparison['actions_missing']}, "
        f"extra {comparison['actions_extra']}"
        + _ids(" missing e.g. ", comparison["missing_ids"])
        + _ids(" extra e.g. ", comparison["extra_ids"]),
    ]


def _health_lines(data: dict[str, Any]) -> list[str]:
    """Sends, draining, broker faults, stuck partitions (with each stalled process's dump) and
    dead letters."""
    delivery = data["delivery"]
    outcomes = ", ".join(f"{k} {v}" for k, v in delivery["outcomes"].items()) or "none"
    return [
        f"duplicate sends   {delivery['duplicate_sends']} ({delivery['emails']} e-mails in the "
        f"outbox; delivery outcomes: {outcomes})",
        f"drained           {'yes' if data['drained'] else 'no'}; longest time with records "
        f"waiting and no commit: {_seconds(data['longest_stall_s'])}",
        *_broker_lines(data["broker_faults"]),
        "stuck partitions  "
        + (
            ", ".join(
                f"{s['partition']} (lag {s['lag']}, committed {s['committed']}" + _recheck(s) + ")"
                for s in data["stuck_partitions"]
            )
            or "none"
        ),
        *(
            f"                  {name}: {line}"
            for name, tail in data["stalled_processes"].items()
            for line in tail
        ),
        f"dead letters      chaos {_dead_letters(data['chaos'])}, "
        f"reference {_dead_letters(data['reference'])}",
    ]


def _exit_lines(data: dict[str, Any]) -> list[str]:
    """Exits (each unexpected one with its log's tail), what was kept, clean-up, the verdict."""
    lines = [
        f"exits             {data['exits']['total']} in all, "
        f"{len(data['exits']['unexpected'])} unexpected",
    ]
    for unexpected in data["exits"]["unexpected"]:
        lines.append(f"                  {unexpected['what']}")
        lines += [f"                    | {line}" for line in unexpected["log_tail"]]
    if data["kept_dir"]:
        lines.append(f"kept              {data['kept_dir']} and the topics of {data['prefix']}")
    lines += [f"clean-up          {problem}" for problem in data["cleanup_problems"]]
    verdict = "CLEAN" if data["clean"] else "FOUND: " + "; ".join(data["findings"])
    lines.append(f"result            {verdict} (exit {data['exit_status']})")
    return lines


def _broker_lines(faults: dict[str, Any] | None) -> list[str]:
    if faults is None:
        return []
    lines = [f"broker faults     {faults['mode']}:"]
    lines += [
        f"                  +{event['at_s']:6.1f}s broker {event['node']}: {event['what']}"
        for event in faults["events"]
    ]
    if faults["acknowledged"] is None:
        lines.append("published         not checked (publishing failed)")
    else:
        lines.append(
            f"published         {faults['acknowledged']:,} acknowledged, {faults['found']:,} "
            f"found in candidate.activity: missing {faults['missing']}, extra copies "
            f"{faults['extra_copies']}" + _ids(" missing e.g. ", faults["missing_ids"])
        )
    settled = {True: "yes", False: "NO", None: "unknown (the cluster did not answer)"}
    lines.append(f"in sync at end    {settled[faults['in_sync_at_end']]}")
    return lines


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {counts.get(kind, 0)}" for kind in KILL_KINDS)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _measured(values: list[float | None]) -> str:
    measured = sum(v is not None for v in values)
    if not values:
        return "no SIGKILL of a worker"
    return f"{measured} of {len(values)} measured"


def _outcome_text(outcome: dict[str, Any]) -> str:
    if not outcome["read"]:
        return "not read"
    return (
        f"{outcome['candidates']:,} candidates scored, {outcome['actions']:,} actions, "
        f"{outcome['suppression_records']:,} suppression records ({outcome['seconds']}s)"
    )


def _dead_letters(outcome: dict[str, Any]) -> str:
    if not outcome["read"]:
        return "-"
    return str(sum(outcome["dead_letters"].values()))


def _ids(label: str, ids: list[str]) -> str:
    return f";{label}{', '.join(ids)}" if ids else ""


def _recheck(stuck: Mapping[str, Any]) -> str:
    """A fresh client's reading of a stuck partition's committed offset, when it differs."""
    again = stuck.get("committed_recheck")
    if again is None or again == stuck["committed"]:
        return ""
    return f"; a fresh client reads {again}"
