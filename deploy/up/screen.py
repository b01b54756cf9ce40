"""The live view of `nurture up` laid out to fit the terminal: a pure function of the view's
state and the terminal's width and height.

The view must redraw in place, so it is never taller than the terminal (a taller render makes
each refresh scroll) and no line is wider (it would wrap). When everything does not fit, the
most useful lines stay and the rest collapse, in this order of importance: the title line
(process counts, always), events/s, processes starting or restarting, one line per pipeline
section (consumer lag and dead letters first), the running processes, recent supervisor
messages, then the wrapped continuation of long sections. Whatever is left out is named on
the last line ("hidden: ..."), so nothing disappears silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Group
from rich.text import Text

from deploy.up.supervisor import ChildState
from deploy.up.view import Row

#: Width of the process name column (the longest name, deliver-career_event_invite, fits).
NAME_WIDTH = 27
#: Width of the label column of the pipeline sections (characters).
LABEL_WIDTH = 19
SEPARATOR = " · "
#: Short labels for sections whose names (from :func:`deploy.up.view.view_rows`) are long.
SHORT_LABELS = {
    "consumer lag (records)": "lag (records)",
    "candidates per tier": "candidates/tier",
    "actions held (quiet hours)": "held (quiet hours)",
}
#: Sections that get their first line before the others when lines are short.
FIRST_SECTIONS = ("events/s", "consumer lag (records)", "dead letters")
#: How many recent supervisor messages the view shows at most.
RECENT_LINES = 3
NEEDS_ATTENTION = frozenset({"starting", "restarting"})
STATUS_STYLES = {"running": "green", "restarting": "bold red", "starting": "yellow", "done": "dim"}


@dataclass(frozen=True)
class ProcessLine:
    """What the view shows of one supervised process."""

    name: str
    status: str
    pid: int | None
    restarts: int
    last_exit: int | None
    metrics_port: int | None


@dataclass(frozen=True)
class ViewState:
    """Everything the live view shows; :func:`render` lays it out for a terminal size."""

    processes: tuple[ProcessLine, ...]
    rows: tuple[Row, ...]
    log_dir: str
    #: The latest supervisor messages (restarts, exits), oldest first.
    recent: tuple[str, ...] = ()


def processes_of(children: Sequence[ChildState]) -> tuple[ProcessLine, ...]:
    """The view's lines of the supervisor's children, in start order."""
    return tuple(
        ProcessLine(
            child.spec.name,
            child.status,
            child.process.pid if child.process else None,
            child.restarts,
            child.last_exit,
            child.spec.metrics_port,
        )
        for child in children
    )


@dataclass(frozen=True)
class _Block:
    """Lines of one part of the view that can be shown in full or collapsed.

    ``lines(k)`` gives exactly ``min(k, full)`` lines (``0 <= k``); ``hidden(k)`` says what
    ``lines(k)`` leaves out (None when nothing).
    """

    full: int
    minimum: int
    lines: Callable[[int], list[Text]]
    hidden: Callable[[int], _Hidden | None]


@dataclass(frozen=True)
class _Hidden:
    """What a block leaves out: ``count`` processes, values of a section, or messages."""

    count: int
    what: str
    kind: Literal["processes", "values", "messages"]


def _fit(text: Text, width: int) -> Text:
    text.no_wrap = True
    text.overflow = "ellipsis"
    text.truncate(width, overflow="ellipsis")
    return text


def _process_row(process: ProcessLine) -> Text:
    row = Text(f"{process.name:<{NAME_WIDTH}.{NAME_WIDTH}} ")
    row.append(f"{process.status:<11}", STATUS_STYLES.get(process.status, ""))
    port = "-" if process.metrics_port is None else f":{process.metrics_port}"
    last_exit = "-" if process.last_exit is None else str(process.last_exit)
    row.append(f"{process.pid or '-'!s:>7} {process.restarts:>8} {last_exit:>9}  {port}")
    return row


def _process_block(processes: Sequence[ProcessLine]) -> _Block:
    # Processes starting or restarting come first when rows are short: they need attention.
    ranked = sorted(processes, key=lambda p: p.status not in NEEDS_ATTENTION)
    troubled = sum(p.status in NEEDS_ATTENTION for p in processes)
    full = 1 + len(processes) if processes else 0
    header = Text(
        f"{'process':<{NAME_WIDTH}} {'status':<11}"
        f"{'pid':>7} {'restarts':>8} {'last exit':>9}  metrics",
        "bold",
    )

    def shown(k: int) -> int:
        """How many process rows ``k`` lines show (a header, rows, and a summary line)."""
        return len(processes) if k >= full else max(0, k - 2)

    def lines(k: int) -> list[Text]:
        if k <= 0 or not processes:
            return []
        if k >= full:
            return [header, *(_process_row(p) for p in processes)]
        rest = ranked[shown(k) :]
        summary = Text(f"+{len(rest)} more processes ({_counts(rest)})", "dim")
        return (
            [summary] if k == 1 else [header, *(_process_row(p) for p in ranked[: k - 2]), summary]
        )

    def hidden(k: int) -> _Hidden | None:
        rest = ranked[shown(k) :]
        return _Hidden(len(rest), f"processes ({_counts(rest)})", "processes") if rest else None

    # At least the header, every process that needs attention and a line summing up the rest;
    # none when no process needs attention (the title line counts them).
    minimum = 0 if not troubled else min(full, 1 + troubled + (troubled < len(processes)))
    return _Block(full, minimum, lines, hidden)


def _counts(processes: Sequence[ProcessLine]) -> str:
    statuses = [p.status for p in processes]
    if len(set(statuses)) == 1:
        return f"all {statuses[0]}"
    order = sorted(set(statuses), key=lambda s: (s != "running", s))
    return ", ".join(f"{statuses.count(s)} {s}" for s in order)


def _magnitude(row: Row) -> float:
    try:
        return float(row.value.replace(",", ""))
    except ValueError:
        return float("-inf")


def _joined(*parts: str) -> str:
    return SEPARATOR.join(part for part in parts if part)


def _flow(items: Sequence[str], width: int, max_lines: int) -> tuple[list[str], int]:
    """``items`` joined by :data:`SEPARATOR` into at most ``max_lines`` lines of ``width``
    characters; when some do not fit, the last line ends with ``+N more``. Returns the lines
    and N (how many items were left out). A single item wider than ``width`` gets a line of
    its own (the view cuts it with an ellipsis)."""
    lines: list[str] = []
    line = ""
    index = 0
    while index < len(items):
        last = len(lines) == max_lines - 1
        left_after = len(items) - index - 1
        suffix = f"+{left_after} more" if last and left_after else ""
        if len(_joined(line, items[index], suffix)) <= width or not (line or last):
            line = _joined(line, items[index])
            index += 1
        elif last and not line:  # the item cut short, so that the count of the rest fits
            room = max(1, width - len(_joined("", suffix)) - len(SEPARATOR))
            return [*lines, _joined(items[index][: room - 1] + "…", suffix)], left_after
        elif last:
            more = len(items) - index
            return [*lines, _joined(line, f"+{more} more")], more
        else:
            lines.append(line)
            line = ""
    return ([*lines, line] if line else lines), 0


def _section_block(section: str, rows: Sequence[Row], width: int) -> _Block:
    label = SHORT_LABELS.get(section, section)
    flow_width = max(10, width - LABEL_WIDTH)
    items = [f"{r.item} {r.value}".strip() for r in rows]
    full = len(_flow(items, flow_width, len(items))[0])
    # When not all fit, the largest values are the ones worth keeping.
    largest_first = [
        f"{r.item} {r.value}".strip() for r in sorted(rows, key=_magnitude, reverse=True)
    ]

    def flowed(k: int) -> tuple[list[str], int]:
        return _flow(items if k >= full else largest_first, flow_width, min(k, full))

    def lines(k: int) -> list[Text]:
        if k <= 0:
            return []
        texts = []
        for index, line in enumerate(flowed(k)[0]):
            prefix = (
                f"{label:<{LABEL_WIDTH - 1}.{LABEL_WIDTH - 1}} "
                if index == 0
                else " " * LABEL_WIDTH
            )
            text = Text(prefix, "bold" if index == 0 else "")
            text.append(line)
            texts.append(text)
        return texts

    def hidden(k: int) -> _Hidden | None:
        left_out = len(items) if k <= 0 else flowed(k)[1]
        return _Hidden(left_out, label, "values") if left_out else None

    return _Block(full, 1, lines, hidden)


def _recent_block(recent: Sequence[str]) -> _Block:
    kept = list(recent[-RECENT_LINES:])

    def lines(k: int) -> list[Text]:
        return (
            [Text(f"recent  {message}", "yellow") for message in kept[len(kept) - k :]]
            if k > 0
            else []
        )

    def hidden(k: int) -> _Hidden | None:
        return None if k >= len(kept) else _Hidden(len(kept) - k, "recent messages", "messages")

    return _Block(len(kept), 0, lines, hidden)


def _sections(rows: Sequence[Row]) -> dict[str, list[Row]]:
    sections: dict[str, list[Row]] = {}
    for row in rows:
        sections.setdefault(row.section, []).append(row)
    return sections


def _allocate(
    blocks: Sequence[_Block], steps: Sequence[tuple[int, bool]], budget: int
) -> list[int]:
    """Lines per block, given out step by step: ``(block index, True)`` raises that block to
    its full size, ``(block index, False)`` to its minimum, as far as ``budget`` lines go."""
    given = [0] * len(blocks)
    for index, full in steps:
        block = blocks[index]
        extra = min((block.full if full else block.minimum) - given[index], budget)
        if extra > 0:
            given[index] += extra
            budget -= extra
    return given


def _hidden_notice(hidden: Sequence[_Hidden], width: int) -> str:
    """``hidden: ...``: each part by name, or when that is too wide for ``width``, the values
    of sections summed up (each such section shows its own ``+N more``); with the way to see
    it all when that fits."""
    named = ", ".join(f"{h.count} {h.what}" for h in hidden)
    values = [h for h in hidden if h.kind == "values"]
    summed = ", ".join(
        [f"{h.count} {h.what}" for h in hidden if h.kind != "values"]
        + ([f"{sum(h.count for h in values)} values in {len(values)} sections"] if values else [])
    )
    hint = "; enlarge the terminal or see /metrics"
    for notice in (named + hint, named, summed + hint):
        if len(f"hidden: {notice}") <= width:
            return f"hidden: {notice}"
    return f"hidden: {summed}"


def _title(state: ViewState) -> Text:
    title = Text("nurture up", "bold")
    title.append(f"  {len(state.processes)} processes: {_counts(state.processes)}")
    title.append(f"  logs {state.log_dir}", "dim")
    return title


def render(state: ViewState, width: int, height: int) -> Group:
    """The view of ``state`` in at most ``height`` lines of at most ``width`` characters."""
    sections = _sections(state.rows)
    names = list(sections)
    blocks = [
        _process_block(state.processes),
        *(_section_block(name, sections[name], width) for name in names),
        _recent_block(state.recent),
    ]
    first = [1 + names.index(n) for n in FIRST_SECTIONS if n in names]
    sections_in_order = [*first, *(i for i in range(1, 1 + len(names)) if i not in first)]
    processes, recent = 0, len(blocks) - 1
    steps = [
        *((i, False) for i in sections_in_order[:1]),  # events/s
        (processes, False),  # the title line and the processes starting or restarting
        *((i, False) for i in sections_in_order[1:]),  # one line per section
        (processes, True),
        (recent, True),
        *((i, True) for i in sections_in_order),  # the wrapped rest of long sections
    ]
    given = _allocate(blocks, steps, max(0, height - 1))
    hidden = [h for block, k in zip(blocks, given, strict=True) if (h := block.hidden(k))]
    if hidden:  # one line less, for the line that says what is hidden
        given = _allocate(blocks, steps, max(0, height - 2))
        hidden = [h for block, k in zip(blocks, given, strict=True) if (h := block.hidden(k))]
    lines = [_title(state)]
    for block, k in zip(blocks, given, strict=True):
        lines += block.lines(k)
    if hidden:
        lines.append(Text(_hidden_notice(hidden, width), "reverse"))
    return Group(*(_fit(line, width) for line in lines[: max(1, height)]))
