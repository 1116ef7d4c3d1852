"""The professional: one event stream per person, the aggregate that guards it.

Commands check the record's invariants and *trigger* events; ``apply`` is the only
place state changes, so replaying the stored events rebuilds exactly what the
commands saw. Nothing here touches a clock or a database: the caller passes
``today`` and ``now``.
"""

from __future__ import annotations

import functools

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import UUID

from ce_ledger.domain.aggregate import Chained
from ce_ledger.domain.chain import GENESIS
from ce_ledger.domain.details import (
    GLOBAL_KEY_KINDS, MAX_HOURS_TAUGHT_PER_DAY, ActivityDetails, Teaching, field_names,
)
from ce_ledger.domain.errors import Conflict, InvalidInput, NotFound
from ce_ledger.domain.identity import refuse_id_numbers
from ce_ledger.domain.events import (
    EVENT_FOR_DETAILS,
    ActivityRecorded,
    ActivityVoided,
    ClaimDecided,
    LedgerEvent,
    ProfessionalRegistered,
    RegistrationCorrected,
    SpecialtyCreditClaimed,
    SpecialtyCreditRejected,
    SpecialtyCreditUnverified,
    SpecialtyCreditVerified,
    TransferConfirmed,
    TransferProposed,
)
from ce_ledger.domain.values import ActivityKind, Decision, Series, uuid5

ACTIVITY_NAMESPACE = UUID("6f1c7f0e-3d2b-5a59-9a57-1e0c2b6f0a11")


class Status(StrEnum):
    RECORDED = "recorded"  # needs no verification (platform, documents)
    PENDING = "pending"  # a specialty claim awaiting its verifier
    VERIFIED = "verified"
    REJECTED = "rejected"
    VOIDED = "voided"


@dataclass(slots=True, eq=False)
class Activity:
    """One activity as known now: its recording, the decision on it, its void.

    Compared and hashed by identity: rule-sets key their working tables by activity.
    """

    recorded: ActivityRecorded
    decision: ClaimDecided | None = None
    void: ActivityVoided | None = None
    # Read for every activity by every verdict: computed once, not per access.
    id: UUID = field(init=False)
    kind: ActivityKind = field(init=False)
    occurred_on: date = field(init=False)

    def __post_init__(self) -> None:
        self.id = self.recorded.activity_id
        self.kind = self.recorded.kind
        self.occurred_on = self.recorded.valid_on

    @property
    def status(self) -> Status:
        if self.void is not None:
            return Status.VOIDED
        if isinstance(self.decision, SpecialtyCreditVerified):
            return Status.VERIFIED
        if isinstance(self.decision, SpecialtyCreditRejected):
            return Status.REJECTED
        if isinstance(self.recorded, SpecialtyCreditClaimed):
            return Status.PENDING
        return Status.RECORDED


@dataclass(frozen=True)
class Outcome:
    """What a command did: ``recorded`` a new event, or found a ``duplicate`` of its retry.

    ``position`` is filled in by the application once saved: the place in the ledger's
    log that a reader of a view can wait for to see this outcome.
    """

    activity_id: UUID
    status: Literal["recorded", "duplicate"]
    position: int | None = field(default=None, compare=False)


@functools.lru_cache(maxsize=8192)  # pure; asked by a recording's claim, then by its index row
def activity_term(activity_id: UUID) -> str:
    """The term all of an activity's events are filed under: its recording, the decision on it, its void."""
    return f"activity:{activity_id}"


KEY_TERM = "key:"  # and the key in its canonical spelling: the activities under a retry key


def global_key_of(term: str) -> str | None:
    """The key (canonical spelling) a term asks for, if it is a key unique across everyone, whose
    activities hold claims on it (``GLOBAL_KEY_KINDS``)."""
    if not term.startswith(KEY_TERM):
        return None
    key = term[len(KEY_TERM):]
    return key if key.partition(":")[0] in GLOBAL_KEY_KINDS else None


def activity_terms(recorded: ActivityRecorded, *, recording_claimed: bool = False) -> tuple[str, ...]:
    """The record index's terms for an activity's events (its recording, the decision on it,
    its void): what a command about this activity, its key or its day will ask for.

    ``recording_claimed``: for the recording of an activity that holds a claim on its global key,
    the key's term is left out. The claim names the activity (``storage.KeyClaim``) and a read of
    the key finds the activity through it (``Store.in_part``). That is one index row fewer for
    each completion and certificate. Decisions and voids are still filed under the key, so that a
    claim written before claims named their activity's term still finds them."""
    terms = (activity_term(recorded.activity_id),)
    if not recording_claimed:
        terms += (KEY_TERM + recorded.canonical_key(),)
    if isinstance(recorded, Teaching):
        terms += (f"taught-on:{recorded.taught_on.isoformat()}",)
    return terms


def terms_to_record(details: ActivityDetails, *, key: bool = True) -> tuple[str, ...]:
    """What recording ``details`` must see of a record: the activities under the same key
    (retries, conflicts, the generation after a void) and, for teaching, the day's other
    teaching (24 hours a day). Nothing else in the record can change the decision.

    ``key=False`` leaves out a global key's activities: every one of them holds a claim on the
    key, so a record that has any cannot claim it again — the save fails (a batch that assumes
    its keys new, ``Records.record_batch(sole_writer=True)``, is then decided again with them)."""
    if not key and not details.key_is_global:
        raise ValueError("only a global key is checked by its claim; a record's own key must be read")
    terms: tuple[str, ...] = (KEY_TERM + details.canonical_key(),) if key else ()
    if isinstance(details, Teaching):
        terms += (f"taught-on:{details.taught_on.isoformat()}",)
    return terms


PERSON_TERMS = ("person",)  # the person's own events: corrections and moves (a registration retry, a change)


def terms_to_decide(activity_id: UUID) -> tuple[str, ...]:
    """What deciding on, unverifying or voiding an activity must see: that activity's events."""
    return (activity_term(activity_id),)


def activity_id_for(professional_id: UUID, details: ActivityDetails, generation: int) -> UUID:
    """Deterministic, so a retry computes the same id before it reads anything."""
    key = details.natural_key()
    scoped = key if details.key_is_global else f"{professional_id}/{key}"
    return uuid5(ACTIVITY_NAMESPACE, scoped if generation == 0 else f"{scoped}#{generation}")


def generation_of(professional_id: UUID, details: ActivityDetails, activity_id: UUID, tries: int = 1_000) -> int | None:
    """The generation ``activity_id`` was made with (``activity_id_for``): almost always 0; one
    more for each earlier claim on the same key that a void freed. None: not an id made here."""
    for generation in range(tries):
        if activity_id_for(professional_id, details, generation) == activity_id:
            return generation
    return None


@dataclass
class Professional(Chained):
    id: UUID
    version: int
    registration: ProfessionalRegistered | None  # None only in a record read to record activities (``in_part``)
    activities: dict[UUID, Activity] = field(default_factory=dict)
    keys: dict[str, list[UUID]] = field(default_factory=dict)
    head_digest: str = GENESIS  # the last event's digest: the next one links to it
    _pending: list[LedgerEvent] = field(default_factory=list, repr=False)
    # Activities ``record`` made here: one under a global key is saved with its claim (the service
    # makes it, ``Records``), so its recording is filed without the key (``index_terms``).
    _made: set[UUID] = field(default_factory=set, repr=False, compare=False)
    # The person as they stand now: the registration, corrected and moved since.
    name: str = ""
    series: Series = None  # type: ignore[assignment]
    employer_unit: str = ""
    transfer: TransferProposed | None = None  # proposed, not yet confirmed
    # False for a record loaded in part for one command (``in_part``): only the activities it
    # asked for, the head to link to, and the person as registered (and as corrected and moved
    # since, when it asked for PERSON_TERMS: ``knows_person``).
    whole: bool = True
    knows_person: bool = True

    def __post_init__(self) -> None:
        if self.series is None and self.registration is not None:
            reg = self.registration
            self.name, self.series, self.employer_unit = reg.name, reg.series, reg.employer_unit

    # -- reading -----------------------------------------------------------------

    def differs_from(self, name: str, series: Series, employer_unit: str) -> list[str]:
        """The fields of a registration that differ from the person as they stand now."""
        self._require_whole()
        differ = [k for k, a, b in (("name", name, self.name), ("employer_unit", employer_unit, self.employer_unit)) if a != b]
        return differ + [k for k, v in series.model_dump().items() if getattr(self.series, k) != v]

    def activity(self, activity_id: UUID) -> Activity:
        try:
            return self.activities[activity_id]
        except KeyError:
            raise NotFound("activity_id", f"no activity {activity_id} in this record") from None

    # -- commands ----------------------------------------------------------------

    @classmethod
    def register(
        cls,
        professional_id: UUID,
        *,
        masked_id: str,
        name: str,
        series: Series,
        employer_unit: str,
        now: datetime,
        today: date,
        by: str,
        channel: str = "direct",
    ) -> Professional:
        refuse_id_numbers({"name": name, "employer_unit": employer_unit})
        event = ProfessionalRegistered.next_in_chain(
            professional_id,
            recorded_at=now,
            caused_by=by,
            channel=channel,
            masked_id=masked_id,
            name=name,
            series=series,
            employer_unit=employer_unit,
            registered_on=today,
        )
        professional = cls(id=professional_id, version=1, registration=event, head_digest=event.digest)
        professional._pending.append(event)
        return professional

    def correct(
        self, *, name: str, series: Series, reason: str, decision_ref: str, by: str, now: datetime,
        channel: str = "direct",
    ) -> Literal["recorded", "duplicate"]:
        """Correct the name or the series settings (a committee's or auditor's decision)."""
        refuse_id_numbers({"name": name, "reason": reason, "decision_ref": decision_ref})
        if not self.differs_from(name, series, self.employer_unit):
            return "duplicate"  # nothing to correct: the record already says so (a retry)
        self._trigger(
            RegistrationCorrected, name=name, series=series, reason=reason, decision_ref=decision_ref,
            corrected_by=by, recorded_at=now, caused_by=by, channel=channel,
        )
        return "recorded"

    def propose_transfer(
        self, to_unit: str, effective_on: date, *, by: str, now: datetime, today: date, channel: str = "direct"
    ) -> Literal["recorded", "duplicate"]:
        """The new unit asks to take the person over; the move waits for the old unit's word."""
        self._require_whole()
        if to_unit == self.employer_unit:
            raise Conflict("to_unit", f"the person is already staff of {to_unit}")
        if effective_on > today:
            raise InvalidInput("effective_on", f"must not be in the future (today is {today.isoformat()})")
        pending = self.transfer
        if pending is not None and (pending.to_unit, pending.effective_on) == (to_unit, effective_on):
            return "duplicate"
        if pending is not None:
            raise Conflict(
                "to_unit", f"a move to {pending.to_unit} from {pending.effective_on.isoformat()} awaits confirmation"
            )
        self._trigger(
            TransferProposed, from_unit=self.employer_unit, to_unit=to_unit, effective_on=effective_on,
            proposed_by=by, recorded_at=now, caused_by=by, channel=channel,
        )
        return "recorded"

    def confirm_transfer(
        self, to_unit: str, effective_on: date, *, by: str, now: datetime, channel: str = "direct"
    ) -> Literal["recorded", "duplicate"]:
        """The old unit (or a committee) confirms the proposed move."""
        self._require_whole()
        pending = self.transfer
        if pending is None or (pending.to_unit, pending.effective_on) != (to_unit, effective_on):
            if to_unit == self.employer_unit:
                return "duplicate"  # confirmed already (a retry)
            raise Conflict("to_unit", f"no move to {to_unit} from {effective_on.isoformat()} awaits confirmation")
        self._trigger(
            TransferConfirmed, from_unit=pending.from_unit, to_unit=to_unit, effective_on=effective_on,
            confirmed_by=by, recorded_at=now, caused_by=by, channel=channel,
        )
        return "recorded"

    def existing(self, details: ActivityDetails, key: str | None = None) -> Outcome | None:
        """The retry rule (reading 13): same key and content → that activity; other content → conflict.

        A key whose every activity was voided may be recorded again with corrected
        content: the void is how a wrong entry is corrected, so it must not block
        the right one.
        """
        ids = self.keys.get(key if key is not None else details.canonical_key(), [])
        for activity_id in ids:
            if self.activities[activity_id].recorded.details().model_dump() == details.model_dump():
                return Outcome(activity_id, "duplicate")
        if ids and self.activities[ids[-1]].void is None:
            before = self.activities[ids[-1]].recorded.details().model_dump()
            after = details.model_dump()
            changed = [name for name in after if before[name] != after[name]]
            raise Conflict(
                changed[0] if changed else None,
                f"{details.natural_key()} is already recorded (compared in one spelling, reading 16) with other content "
                f"({', '.join(changed)} differ); a retry must repeat it exactly, "
                "a correction is a void and a new record",
            )
        return None

    def record(
        self,
        details: ActivityDetails,
        *,
        now: datetime,
        today: date,
        by: str,
        channel: str = "direct",
        generation: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Record an activity, or recognise its retry. ``generation`` comes from the
        key's own stream when the key is global and another record held it before;
        ``key`` is the details' canonical key, if the caller has it already. ``details`` is a
        model built by validation, as every door builds it (the API's bodies, an import's rows):
        its values go into the event as they are (``LedgerEvent.sealed(checked=True)``)."""
        refuse_id_numbers(details.__dict__)  # before anything: not even a conflict may echo it
        if key is None:
            key = details.canonical_key()
        found = self.existing(details, key)
        if found is not None:
            return found
        for name, day in details.dates().items():
            if day > today:
                raise InvalidInput(name, f"must not be in the future (today is {today.isoformat()})")
        if isinstance(details, Teaching):
            self._check_teaching_day(details)
        if generation is None:
            generation = len(self.keys.get(key, []))
        activity_id = activity_id_for(self.id, details, generation)
        self._made.add(activity_id)
        self._trigger(
            EVENT_FOR_DETAILS[type(details)],
            checked=True,  # the details were validated as the command was made; the rest is ours
            activity_id=activity_id,
            **{name: getattr(details, name) for name in field_names(type(details))},
            recorded_at=now,
            caused_by=by,
            channel=str(channel),  # a ``Channel`` is a str; validation would have made it a plain one
        )
        return Outcome(activity_id, "recorded")

    def decide(
        self,
        activity_id: UUID,
        decision: Decision,
        *,
        by: str,
        reason: str,
        now: datetime,
        today: date,
        channel: str = "direct",
    ) -> Outcome:
        """Verify or reject a specialty claim. Final: a wrong decision is corrected by a void."""
        activity = self.activity(activity_id)
        if activity.kind is not ActivityKind.SPECIALTY:
            raise InvalidInput(
                "activity_id",
                f"only a specialty credit is verified (§3(5)); this is a {activity.kind}",
            )
        wanted = SpecialtyCreditVerified if decision is Decision.VERIFIED else SpecialtyCreditRejected
        earlier = activity.decision
        if isinstance(earlier, wanted) and earlier.reason == reason:
            return Outcome(activity_id, "duplicate")  # a retry, even if voided since
        if activity.void is not None:
            raise Conflict("activity_id", "the claim is voided; there is nothing to decide")
        if earlier is not None and not isinstance(earlier, SpecialtyCreditUnverified):
            raise Conflict(
                "decision",
                f"already {activity.status} on {earlier.decided_on.isoformat()} by "
                f"{earlier.decided_by}; a decision is final, correct it with a void (reading 12)",
            )
        self._trigger(
            wanted, activity_id=activity_id, decided_by=by, reason=reason, decided_on=today, recorded_at=now,
            caused_by=by, channel=channel,
        )
        return Outcome(activity_id, "recorded")

    def unverify(self, activity_id: UUID, *, by: str, reason: str, now: datetime, today: date,
                 channel: str = "direct") -> Outcome:
        """The filing that verified a claim was withdrawn: the claim awaits a person's decision again.
        Only a verification by that filing is taken back; a person's decision stands."""
        activity = self.activity(activity_id)
        earlier = activity.decision
        if isinstance(earlier, SpecialtyCreditUnverified) and earlier.reason == reason:
            return Outcome(activity_id, "duplicate")
        if not (isinstance(earlier, SpecialtyCreditVerified) and earlier.decided_by.startswith("filing:")):
            return Outcome(activity_id, "duplicate")  # nothing a filing decided: nothing to take back
        self._trigger(
            SpecialtyCreditUnverified, activity_id=activity_id, decided_by=by, reason=reason, decided_on=today,
            recorded_at=now, caused_by=by, channel=channel,
        )
        return Outcome(activity_id, "recorded")

    def void(
        self,
        activity_id: UUID,
        *,
        by: str,
        reason: str,
        decision_ref: str,
        now: datetime,
        today: date,
        channel: str = "direct",
    ) -> Outcome:
        """Strike an activity out; it stays in the record, credited nothing (§3(5))."""
        activity = self.activity(activity_id)
        if activity.void is not None:
            if activity.void.reason == reason and activity.void.decision_ref == decision_ref:
                return Outcome(activity_id, "duplicate")
            raise Conflict(
                "activity_id",
                f"already voided on {activity.void.decided_on.isoformat()} "
                f"(decision {activity.void.decision_ref})",
            )
        self._trigger(
            ActivityVoided,
            activity_id=activity_id,
            decided_by=by,
            reason=reason,
            decision_ref=decision_ref,
            decided_on=today,
            recorded_at=now,
            caused_by=by,
            channel=channel,
        )
        return Outcome(activity_id, "recorded")

    def _require_whole(self) -> None:
        if not (self.whole or self.knows_person):
            raise RuntimeError("this record was loaded in part without the person's own events (PERSON_TERMS)")

    def _check_teaching_day(self, details: Teaching) -> None:
        taught = sum(
            (
                a.recorded.hours_taught  # type: ignore[attr-defined]
                for a in self.activities.values()
                if a.kind is ActivityKind.TEACHING
                and a.void is None
                and a.recorded.valid_on == details.taught_on
            ),
            Decimal(0),
        )
        if taught + details.hours_taught > MAX_HOURS_TAUGHT_PER_DAY:
            raise InvalidInput(
                "hours_taught",
                f"more than {MAX_HOURS_TAUGHT_PER_DAY} hours taught on "
                f"{details.taught_on.isoformat()} ({taught} already recorded)",
            )

    # -- events ------------------------------------------------------------------

    def index_terms(self, event: LedgerEvent) -> tuple[str, ...]:
        """An activity's events are filed under its terms (``activity_terms``); the person's
        own events are not: a command that needs them loads the record whole."""
        if isinstance(event, ActivityRecorded):
            # Without the key only for a claim saved with it: any other recording (rebuilt by
            # ``build_index``, where two spellings of one key in an older store make one claim) keeps it.
            return activity_terms(event, recording_claimed=event.key_is_global and event.activity_id in self._made)
        if isinstance(event, (ClaimDecided, ActivityVoided)):
            return activity_terms(self.activities[event.activity_id].recorded)
        if isinstance(event, (RegistrationCorrected, TransferProposed, TransferConfirmed)):
            return PERSON_TERMS
        return ()

    @classmethod
    def in_part(
        cls, found: list[LedgerEvent], head: tuple[int, str], *, person: bool = False, stream: UUID | None = None,
    ) -> Professional:
        """A record for one command: its registration and the events the record index found for
        the command's terms (in order), and its head's link (version and digest). What the
        command decides from, without reading the whole record; what it triggers is sealed
        after the stream's real head.

        Given ``stream``, ``found`` holds no registration: a record read to record activities,
        which decide nothing from the person (the caller has checked that the stream is a
        record's, from its head's kind). It knows no name, series or unit: ``registration`` is
        None and a command about the person refuses it (``_require_whole``)."""
        version, digest = head
        if stream is not None:
            record = cls(stream, version, None, head_digest=digest, whole=False, knows_person=False)
        else:
            registration = found[0] if found else None
            if not isinstance(registration, ProfessionalRegistered):
                raise NotARecord(f"a record must open with registration, not {type(registration).__name__}")
            record = cls(registration.originator_id, version, registration, head_digest=digest,
                         whole=False, knows_person=person)
            found = found[1:]
        for event in found:
            record._mutate(event)
        return record

    def __deepcopy__(self, memo: dict) -> Professional:
        # Events are frozen and shared; only the containers and activities change.
        copy = Professional(
            self.id, self.version, self.registration, head_digest=self.head_digest, name=self.name,
            series=self.series, employer_unit=self.employer_unit, transfer=self.transfer, whole=self.whole,
            knows_person=self.knows_person,
        )
        copy.activities = {
            k: Activity(a.recorded, a.decision, a.void) for k, a in self.activities.items()
        }
        copy.keys = {k: list(v) for k, v in self.keys.items()}
        return copy

    def _mutate(self, event: LedgerEvent) -> None:
        # Plain isinstance tests: this runs once per stored event on every load.
        if isinstance(event, ActivityRecorded):
            self.activities[event.activity_id] = Activity(event)
            self.keys.setdefault(event.canonical_key(), []).append(event.activity_id)  # type: ignore[attr-defined]
        elif isinstance(event, ActivityVoided):
            self.activities[event.activity_id].void = event
        elif isinstance(event, ClaimDecided):
            self.activities[event.activity_id].decision = event
        elif isinstance(event, RegistrationCorrected):
            self.name, self.series = event.name, event.series
        elif isinstance(event, TransferProposed):
            self.transfer = event
        elif isinstance(event, TransferConfirmed):
            self.employer_unit, self.transfer = event.to_unit, None
        else:
            raise TypeError(f"a professional's record has no event {type(event).__name__}")


class NotARecord(LookupError):
    """The stream named is not a professional's record (a verdict's, a key's, …)."""


def project_professional(
    professional: Professional | None, events: Iterable[LedgerEvent]
) -> Professional | None:
    """The repository's projector: fold stored events into the aggregate."""
    for event in events:
        if professional is None:
            if not isinstance(event, ProfessionalRegistered):
                raise NotARecord(f"a record must open with registration, not {type(event).__name__}")
            professional = Professional(
                event.originator_id, event.originator_version, event, head_digest=event.digest
            )
        else:
            professional.apply(event)
    return professional
