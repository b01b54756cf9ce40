"""What a verification found: readable leftovers (failures) and information, never PII."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: ``readable``: the candidate can still be read there (verification fails).
#: ``info``: kept, but nothing personal can be read (pseudonymous history awaiting retention or
#: compaction, erasure markers, contacts whose key is gone).
Severity = Literal["readable", "info"]


@dataclass(frozen=True)
class Finding:
    """One kind of leftover in one place (a topic, the worker, a delivery store)."""

    place: str
    severity: Severity
    what: str
    count: int = 1


@dataclass
class Report:
    """Everything found for one candidate, and the checks that could not be made."""

    candidate_id: str
    findings: list[Finding] = field(default_factory=list)
    #: Checks that could not be completed (unreachable worker, missing topic, ...).
    errors: list[str] = field(default_factory=list)

    @property
    def readable(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "readable"]

    @property
    def exit_code(self) -> int:
        """0: nothing readable; 1: something readable; 2: a check could not be made."""
        if self.readable:
            return 1
        return 2 if self.errors else 0
