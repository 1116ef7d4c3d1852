"""The verdict: what a rule-set concluded, with one checkable line per activity.

A verdict holds no wall-clock time of its own, so the same record (as of the same
version) under the same rule-set gives the same canonical bytes, and the same
fingerprint, on any machine and at any later date.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from ce_ledger.domain.values import ActivityKind, HoursFigure, Level, Value


class CountsToward(StrEnum):
    PUBLIC_AND_TOTAL = "public_and_total"  # public minimum and total (readings 2)
    TOTAL = "total"  # total only (reading 3)
    WAIVER = "waiver"  # a degree that deems the window's requirement met (reading 10)
    NOTHING = "nothing"


class Window(Value):
    from_year: int
    to_year: int

    def __contains__(self, day: date) -> bool:
        return self.from_year <= day.year <= self.to_year

    @property
    def first_day(self) -> date:
        return date(self.from_year, 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.to_year, 12, 31)

    def __str__(self) -> str:
        return f"{self.from_year}–{self.to_year}"


class Required(Value):
    total_hours: HoursFigure
    public_hours: HoursFigure


class Credited(Value):
    """Credited hours by kind; public = public courses + exam substitution (reading 2)."""

    public_course: HoursFigure
    exam_substitution: HoursFigure
    specialty: HoursFigure
    study_tour: HoursFigure
    teaching: HoursFigure
    degree: HoursFigure
    public_hours: HoursFigure
    total_hours: HoursFigure


class RuleSetRef(Value):
    id: str
    digest: str


class VerdictLine(Value):
    activity_id: UUID
    kind: ActivityKind
    occurred_on: date
    description: str
    status: str
    claimed_hours: HoursFigure | None
    arithmetic: str
    credited_hours: HoursFigure
    credited_as: str | None
    counts_toward: CountsToward
    reason: str


class Verdict(Value):
    professional_id: UUID
    record_version: int
    rule_set: RuleSetRef
    level: Level
    evaluation_year: int
    window: Window
    required: Required
    credited: Credited
    shortfall: Required
    passed: bool
    waived_by_degree: bool
    summary: str
    readings: tuple[str, ...]
    items: tuple[VerdictLine, ...]

    def canonical_json(self) -> bytes:
        """Sorted keys, no spaces, UTF-8: the bytes the fingerprint is taken over."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()


ZERO = Decimal(0)
