"""The rows of the totals view, and how an event changes them.

Pure: no I/O. The credit of every activity comes from the rule-set's own functions
(``assess`` for the year-bound kinds), so the view can never credit differently
from a verdict; the window-wide kinds (exam passes, degrees) are kept as facts and
credited at query time by the rule-set's ``substitute_exams`` and ``count_degrees``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from eventsourcing.utils import resolve_topic

from ce_ledger.domain.events import (
    ActivityRecorded,
    ActivityVoided,
    ActivityDecided,
    LedgerEvent,
    ProfessionalRegistered,
    RegistrationCorrected,
    TransferConfirmed,
)
from ce_ledger.domain.professional import Activity, Status
from ce_ledger.domain.programme import ProgrammePlanned
from ce_ledger.domain.unit import UnitNamed
from ce_ledger.audit.signals import draw_weight
from ce_ledger.domain.verdicts import VerdictIssued
from ce_ledger.domain.provider import Provider, ProviderDecided
from ce_ledger.domain.values import ActivityKind, Series, canonical_code
from ce_ledger.rules.ruleset import RuleSet

ZERO = Decimal(0)
WINDOW_KINDS = frozenset({ActivityKind.EXAM_PASS, ActivityKind.DEGREE})
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

    @cached_property
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
    """An activity as the view knows it: what it credits now, in which year.

    Exam passes and degrees are credited per window at query time, so their rows also
    keep their events' JSON. A year-bound activity's row keeps its credit and where its
    events are in the log; when a later decision, void or provider decision needs the
    activity itself, the projection reads just those events (``TotalsProjection``), which
    keeps the view's rows small.
    """

    activity_id: str
    professional_id: str
    kind: str
    year: int
    credited_as: str | None = None
    credited: Decimal = ZERO
    pending: Decimal = ZERO
    recorded_topic: str | None = None
    recorded_state: str | None = None
    decision_topic: str | None = None
    decision_state: str | None = None
    void_state: str | None = None
    provider_code: str | None = None  # a specialty credit's: re-credited when the provider's standing changes
    programme_code: str | None = None  # for the knowledge-update programme report (§2)
    occurred_on: str | None = None
    status: str | None = None
    # Where the activity's own events are in the log (its record's stream, these versions):
    # a later decision, void or re-credit reads them there, not the whole record.
    recorded_version: int | None = None
    decision_version: int | None = None
    void_version: int | None = None
    decoded: Activity | None = field(default=None, repr=False, compare=False)  # not stored

    def activity(self) -> Activity:
        if self.decoded is None:
            if self.recorded_state is None:
                raise LookupError(f"activity {self.activity_id}: its events must be read from the ledger")
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
class ProgrammeRow:
    code: str
    title: str
    kind: str
    year: int
    planned_classes: int | None
    planned_trainees: int
    provider_code: str

    @classmethod
    def planned(cls, event: ProgrammePlanned) -> ProgrammeRow:
        return cls(
            event.code, event.title, event.kind.value, event.year, event.planned_classes,
            event.planned_trainees, event.provider_code,
        )


@dataclass
class PlaceRow:
    """Where a person stood from a place in the log on: their unit and series (registered,
    corrected or moved). A verdict's stratum is the person's place at the verdict's position."""

    professional_id: str
    position: int
    unit: str  # canonical (reading 16)
    series_name: str


@dataclass
class VerdictRow:
    """An issued verdict, as a spot check's population sees it."""

    verdict_id: str
    professional_id: str
    evaluation_year: int
    level: str
    issued_by: str
    passed: int
    position: int
    weight: int = 1  # for a weighted spot check (audit/signals.draw_weight)


@dataclass
class UnitRow:
    code: str  # canonical (reading 16): how records' unit codes are looked up
    name: str

    @classmethod
    def named(cls, event: UnitNamed) -> UnitRow:
        return cls(canonical_code(event.code), event.name)


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
    providers_decided: set[str] = field(default_factory=set)  # codes whose standing changed
    # Each person's teaching rows among those loaded: a corrected series re-credits them.
    teaching_of: dict[str, list[str]] = field(default_factory=dict)
    programmes: dict[str, ProgrammeRow] = field(default_factory=dict)  # planned in this batch
    units: dict[str, UnitRow] = field(default_factory=dict)  # named in this batch (the last name wins)
    places: list[PlaceRow] = field(default_factory=list)  # appended, never changed
    verdicts: list[VerdictRow] = field(default_factory=list)


class Providers(Mapping[str, Provider]):
    """The providers' records by code, read from the ledger when first asked for.

    The view credits by each provider's standing as recorded *now* (a verdict issued
    now reads the same); a decision on a provider re-credits its certificates.
    """

    def __init__(self, lookup: Callable[[str], Provider | None]):
        self._lookup = lookup
        self._known: dict[str, Provider | None] = {}

    def __getitem__(self, code: str) -> Provider:
        found = self.get(code)
        if found is None:
            raise KeyError(code)
        return found

    def get(self, code: str, default: Any = None) -> Any:
        # Called for every verified certificate during a rebuild: no exception on a miss.
        code = canonical_code(code)  # as the base's stream is named (reading 16)
        try:
            found = self._known[code]
        except KeyError:
            found = self._known[code] = self._lookup(code)
        return default if found is None else found

    def forget(self, codes: set[str]) -> None:
        for code in codes:
            self._known.pop(canonical_code(code), None)

    def __iter__(self) -> Iterator[str]:
        return (code for code, p in self._known.items() if p is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class RowUpdater:
    """Applies events to rows, crediting with one rule-set."""

    def __init__(self, rule_set: RuleSet, providers: Providers | None = None):
        self.rule_set = rule_set
        self.params = rule_set.parameters
        self.logic: Any = rule_set.logic
        self.providers = providers if rule_set.reads_providers else None

    def apply(self, changes: Changes, event: LedgerEvent, topic: str, position: int = 0) -> None:
        """Bring the rows' state up to ``event`` (at ``position`` in the log); credits are settled
        once per batch."""
        if isinstance(event, ActivityRecorded):
            activity = Activity(event)
            row = ActivityRow(
                str(event.activity_id), str(event.originator_id), event.kind, event.valid_on.year,
                occurred_on=event.valid_on.isoformat(), status=activity.status.value,
                recorded_version=event.originator_version, decoded=activity,
            )
            if row.kind in WINDOW_KINDS:
                row.recorded_topic, row.recorded_state = topic, event.model_dump_json()
            elif row.kind == ActivityKind.SPECIALTY:
                row.provider_code = canonical_code(event.provider_code)  # type: ignore[attr-defined]  # reading 16
                row.programme_code = event.programme_code  # type: ignore[attr-defined]
            changes.activities[row.activity_id] = row
            changes.dirty_activities.add(row.activity_id)
            if row.kind == ActivityKind.TEACHING:
                changes.teaching_of.setdefault(row.professional_id, []).append(row.activity_id)
        elif isinstance(event, ActivityDecided):
            row = changes.activities[str(event.activity_id)]
            activity = row.activity()
            if isinstance(event, ActivityVoided):
                activity.void = event
                row.void_version = event.originator_version
                if row.kind in WINDOW_KINDS:
                    row.void_state = event.model_dump_json()
            else:
                activity.decision = event
                row.decision_version = event.originator_version
                if row.kind in WINDOW_KINDS:
                    row.decision_topic, row.decision_state = topic, event.model_dump_json()
            row.status = activity.status.value
            changes.dirty_activities.add(row.activity_id)
        elif isinstance(event, ProfessionalRegistered):
            person = PersonRow.registered(event)
            changes.people[person.professional_id] = person
            changes.dirty_people.add(person.professional_id)
            changes.places.append(PlaceRow(person.professional_id, position, canonical_code(event.employer_unit),
                                           event.series.name))
        elif isinstance(event, RegistrationCorrected):
            pid, s = str(event.originator_id), event.series
            person = changes.people[pid]
            person.name, person.series_name = event.name, s.name
            person.requires_foreign_language_exam = int(s.requires_foreign_language_exam)
            person.requires_computer_exam = int(s.requires_computer_exam)
            person.own_ce_regulation = int(s.own_ce_regulation)
            person.__dict__.pop("series", None)  # the cached Series: read again
            changes.dirty_people.add(pid)
            changes.places.append(PlaceRow(pid, position, canonical_code(person.employer_unit), s.name))
            # Teaching credit depends on the series (reading 11): credit the person's again.
            changes.dirty_activities.update(changes.teaching_of.get(pid, ()))
        elif isinstance(event, TransferConfirmed):
            pid = str(event.originator_id)
            changes.people[pid].employer_unit = event.to_unit
            changes.dirty_people.add(pid)
            changes.places.append(PlaceRow(pid, position, canonical_code(event.to_unit), changes.people[pid].series_name))
        elif isinstance(event, ProviderDecided):
            changes.providers_decided.add(event.code)
        elif isinstance(event, ProgrammePlanned):
            changes.programmes[event.code] = ProgrammeRow.planned(event)
        elif isinstance(event, VerdictIssued):
            v = event.verdict
            changes.verdicts.append(VerdictRow(
                str(event.originator_id), str(event.professional_id), v.evaluation_year, v.level.value,
                event.issued_by, int(v.passed), position, draw_weight(v),
            ))
        elif isinstance(event, UnitNamed):
            row = UnitRow.named(event)
            changes.units[row.code] = row

    def settle(self, changes: Changes) -> None:
        """Credit every activity the batch touched, once: take back what its row credited
        before (nothing, if new), and add what the rule-set credits it now."""
        assess, params, yearly = self.logic.assess, self.params, self.logic.YEARLY_KINDS
        extra = () if self.providers is None else (self.providers,)
        people, years, dirty_years = changes.people, changes.years, changes.dirty_years
        for activity_id in changes.dirty_activities:
            row = changes.activities[activity_id]
            if row.kind not in yearly:
                continue  # exam passes and degrees are credited per window, at query time
            key = (row.professional_id, row.year)
            year = years.get(key)
            if year is None:
                year = years[key] = YearRow(*key)
            dirty_years.add(key)
            if row.credited or row.pending:
                _add(year, row, -1)
            activity = row.activity()
            effect = assess(params, activity, people[row.professional_id].series, *extra)
            row.credited_as, row.credited = effect.credited_as, effect.credited
            row.pending = effect.claimed if activity.status is Status.PENDING else ZERO
            _add(year, row, +1)


def _add(year: YearRow, row: ActivityRow, sign: int) -> None:
    if row.credited_as is not None and row.credited:
        setattr(year, row.credited_as, getattr(year, row.credited_as) + sign * row.credited)
    if row.pending:
        year.pending_count += sign
        year.pending_hours += sign * row.pending


