"""The verdict: what a rule-set concluded, with one checkable line per activity.

A verdict holds no wall-clock time of its own, so the same record (as of the same
version) under the same rule-set gives the same canonical bytes, and the same
fingerprint, on any machine and at any later date.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
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


class Reason(Value):
    """A sentence as data: a code and its figures (dates, hours, names as text), so that it can be
    worded in any language. The rule-set words it in English into the verdict beside it (``reason``,
    ``summary``); the workbench and the form word the same code and figures in Chinese. Verdicts
    from rule-sets before NX-2019.2 have none (and their canonical bytes no such key)."""

    code: str
    figures: dict[str, str] = {}


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
    # From NX-2019.2: the reason, the arithmetic and the activity as codes and figures.
    because: Reason | None = None
    working: Reason | None = None
    what: Reason | None = None


# Keys added after verdicts were first fingerprinted: left out of the canonical bytes when empty,
# so every verdict issued before keeps its bytes and its fingerprint.
_LATER_KEYS = ("because", "working", "what", "outcome")


def _without_empty_later_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty_later_keys(v) for k, v in value.items() if not (k in _LATER_KEYS and v is None)}
    if isinstance(value, list):
        return [_without_empty_later_keys(v) for v in value]
    return value


class Verdict(Value):
    professional_id: UUID
    record_version: int
    rule_set: RuleSetRef
    level: Level
    evaluation_year: int
    window: Window | None  # None from NX-2019.2 for a junior title: nothing is weighed (reading 5)
    required: Required
    credited: Credited
    shortfall: Required
    passed: bool
    waived_by_degree: bool
    summary: str
    readings: tuple[str, ...]
    items: tuple[VerdictLine, ...]
    outcome: Reason | None = None  # from NX-2019.2: the summary as a code and figures

    def canonical_json(self) -> bytes:
        """Sorted keys, no spaces, UTF-8: the bytes the fingerprint is taken over."""
        return json.dumps(
            _without_empty_later_keys(self.model_dump(mode="json")), sort_keys=True, separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()


ZERO = Decimal(0)


# -- window arithmetic --------------------------------------------------------------------
# The sum of effects, the shortfall and the result, for every caller after NX-2019.1: the
# read side's totals and staff standings, and each new rule-set. NX-2019 and NX-2019.1 were
# published with this arithmetic written out in their own text, and their digests cover
# that text, so they keep it byte for byte; `tests/test_window.py` holds this to theirs.


def add_effects(by_kind: dict[str, Decimal], effects: Iterable[Any]) -> bool:
    """Add each effect's credit to its kind (in place); returns whether one waives the window."""
    waived = False
    for effect in effects:
        if effect.credited_as is not None:
            by_kind[effect.credited_as] += effect.credited
        waived = waived or effect.counts_toward is CountsToward.WAIVER
    return waived


def shortfall(required: Any, credited: Credited, waived: bool = False) -> Required:
    """What is still missing of a requirement, never below zero (§3(2)); nothing once a degree
    waives the window (reading 10: from NX-2019.2 a waiver shows no shortfall)."""
    if waived:
        return Required(total_hours=ZERO, public_hours=ZERO)
    return Required(
        total_hours=max(ZERO, required.total_hours - credited.total_hours),
        public_hours=max(ZERO, required.public_hours - credited.public_hours),
    )


def passes(short: Required, waived: bool) -> bool:
    """Met when nothing is missing, or when a degree waives the window (reading 10)."""
    return waived or (short.total_hours == 0 and short.public_hours == 0)
