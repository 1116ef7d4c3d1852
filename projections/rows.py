"""The rows of the totals view, and how an event changes them.

Pure: no I/O. The credit of every activity comes from the rule-set's own functions
(``assess`` for the year-bound kinds), so the view can never credit differently
from a verdict; the window-wide kinds (exam passes, degrees) are kept as facts and
credited at query time by the rule-set's ``substitute_exams`` and ``count_degrees``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eventsourcing.utils import resolve_topic

from ce_ledger.domain.events import (
    ActivityRecorded,
    ActivityVoided,
    DecisionRecorded,
    LedgerEvent,
    ProfessionalRegistered,
)
from ce_ledger.domain.professional import Activity, Status
from ce_ledger.domain.values import ActivityKind, Series
from ce_ledger.rules.ruleset import RuleSet

ZERO = Decimal(0)
YEAR_COLUMNS = ("public_course", "specialty", "study_tour", "teaching")


@dataclass
class PersonRow:
    professional_id: str
    masked_id: str
    name: str
    series_name: str
    requires_foreign_language_exam: int
    requires_computer_exam: int
    own_ce_regulation: int
    employer_unit: str
    registered_on: str

    @property
    def series(self) -> Series:
        return Series(
            name=self.series_name,
            requires_foreign_language_exam=bool(self.requires_foreign_language_exam),
            requires_computer_exam=bool(self.requires_computer_exam),
            own_ce_regulation=bool(self.own_ce_regulation),
        )

    @classmethod
    def registered(cls, event: ProfessionalRegistered) -> PersonRow:
        s = event.series
        return cls(
            str(event.originator_id), event.masked_id, event.name, s.name,
            int(s.requires_foreign_language_exam), int(s.requires_computer_exam),
            int(s.own_ce_regulation), event.employer_unit, event.registered_on.isoformat(),
        )


@dataclass
class ActivityRow:
    """An activity as the view knows it: its events' JSON, and what it credits now."""

    activity_id: str
    professional_id: str
    kind: str
    year: int
    recorded_topic: str
    recorded_state: str
    decision_topic: str | None = None
    decision_state: str | None = None
    void_state: str | None = None
    credited_as: str | None = None
    credited: Decimal = ZERO
    pending: Decimal = ZERO
    decoded: Activity | None = field(default=None, repr=False, compare=False)  # not stored

    def activity(self) -> Activity:
        if self.decoded is None:
            self.decoded = self._decode()
        return self.decoded

    def _decode(self) -> Activity:
        recorded = resolve_topic(self.recorded_topic).model_validate_json(self.recorded_state)
        decision = (
            resolve_topic(self.decision_topic).model_validate_json(self.decision_state)
            if self.decision_topic
            else None
        )
        void = ActivityVoided.model_validate_json(self.void_state) if self.void_state else None
        return Activity(recorded, decision, void)


@dataclass
class YearRow:
    professional_id: str
    year: int
    public_course: Decimal = ZERO
    specialty: Decimal = ZERO
    study_tour: Decimal = ZERO
    teaching: Decimal = ZERO
    pending_count: int = 0
    pending_hours: Decimal = ZERO


@dataclass
class Changes:
    """The rows one batch of events touches, loaded first and written back after."""

    people: dict[str, PersonRow] = field(default_factory=dict)
    activities: dict[str, ActivityRow] = field(default_factory=dict)
    years: dict[tuple[str, int], YearRow] = field(default_factory=dict)
    dirty_people: set[str] = field(default_factory=set)
    dirty_activities: set[str] = field(default_factory=set)
    dirty_years: set[tuple[str, int]] = field(default_factory=set)


class Projector:
    """Applies events to rows, crediting with one rule-set."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set
        self.params = rule_set.parameters
        self.logic: Any = rule_set.logic

    def apply(self, changes: Changes, event: LedgerEvent, state: str, topic: str) -> None:
        if isinstance(event, ProfessionalRegistered):
            row = PersonRow.registered(event)
            changes.people[row.professional_id] = row
            changes.dirty_people.add(row.professional_id)
        elif isinstance(event, ActivityRecorded):
            row = ActivityRow(
                str(event.activity_id), str(event.originator_id), event.kind,
                event.valid_on.year, topic, state, decoded=Activity(event),
            )
            changes.activities[row.activity_id] = row
            self._credit(changes, row)
        elif isinstance(event, DecisionRecorded):
            row = changes.activities[str(event.activity_id)]
            activity = row.activity()
            if isinstance(event, ActivityVoided):
                row.void_state, activity.void = state, event
            else:
                row.decision_topic, row.decision_state = topic, state
                activity.decision = event
            self._credit(changes, row)

    def _credit(self, changes: Changes, row: ActivityRow) -> None:
        changes.dirty_activities.add(row.activity_id)
        if row.kind not in self.logic.YEARLY_KINDS:
            return  # exam passes and degrees are credited per window, at query time
        key = (row.professional_id, row.year)
        year = changes.years.get(key) or YearRow(*key)
        changes.years[key] = year
        changes.dirty_years.add(key)
        # Take back what the activity credited before, then add what it credits now.
        self._add(year, row, -1)
        activity = row.activity()
        effect = self.logic.assess(self.params, activity, changes.people[row.professional_id].series)
        row.credited_as, row.credited = effect.credited_as, effect.credited
        row.pending = effect.claimed if activity.status is Status.PENDING else ZERO
        self._add(year, row, +1)

    @staticmethod
    def _add(year: YearRow, row: ActivityRow, sign: int) -> None:
        if row.credited_as is not None:
            setattr(year, row.credited_as, getattr(year, row.credited_as) + sign * row.credited)
        if row.pending:
            year.pending_count += sign
            year.pending_hours += sign * row.pending


WINDOW_KINDS = (ActivityKind.EXAM_PASS, ActivityKind.DEGREE)
