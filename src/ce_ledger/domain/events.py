"""The events of a professional's record, named in the past tense of the domain.

Each carries its transaction time (``recorded_at``, UTC) and exposes its valid time
(``valid_on``: when the activity happened or the decision was taken). Events are
frozen pydantic models; their JSON is what the store keeps.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Self
from uuid import UUID

import orjson
from pydantic import Field
from pydantic_core import to_json

from ce_ledger.domain.chain import GENESIS, event_digest
from ce_ledger.domain.details import (
    ActivityDetails,
    Degree,
    ExamPass,
    PublicCourse,
    SpecialtyCredit,
    StudyTour,
    Teaching,
    field_names,
)
from ce_ledger.domain.values import Code, Day, Series, Text, Value

Digest = Field(pattern=r"^[0-9a-f]{64}$")
# The JSON ``sealed`` made, by the sealed object's id, until the store asks for it
# (``stored_json``). Kept beside the events, not in them: an extra entry in a model's
# ``__dict__`` travels with ``model_copy`` (stale after an update) and makes pydantic's union
# serialiser pick another member. Each entry holds its event, so an id is never reused while
# kept; events sealed and never saved (a refused command) are dropped when the table is full.
_SEALED_JSON: dict[int, tuple[LedgerEvent, bytes]] = {}
_SEALED_KEPT = 10_000  # ten batches of the largest size


def _keep_json(event: LedgerEvent, made: bytes) -> None:
    if len(_SEALED_JSON) >= _SEALED_KEPT:
        _SEALED_JSON.clear()  # a miss only costs a dump
    _SEALED_JSON[id(event)] = (event, made)


class LedgerEvent(Value):
    """Every stored fact. ``previous_digest`` and ``digest`` chain a stream (``chain.py``):
    build events with :meth:`sealed`, which fills in the digest."""

    originator_id: UUID
    originator_version: int
    recorded_at: datetime
    previous_digest: str = Digest
    digest: str = Digest
    # Who caused it (a token's actor: role, binding, name) and through which door (``Channel``).
    # Events recorded before these existed have neither; their digests cover what they hold.
    caused_by: str | None = None
    channel: str | None = None

    @classmethod
    def sealed(cls, *, previous_digest: str = GENESIS, checked: bool = False, **fields: Any) -> Self:
        """The event with these fields, its digest filled in.

        ``checked``: every value is already what validation would make of it — an activity's
        details, validated when the command was made, and the ledger's own ids, versions, clock
        and digests — so the model is built without validating again (``_built``). On the write
        path validation was a third of sealing a completion. tests/test_chain.py builds each
        kind both ways and compares them, value and JSON."""
        if checked:
            fields["previous_digest"], fields["digest"] = previous_digest, GENESIS  # ``fields`` is this call's own
            draft = cls._built(fields)
        else:
            draft = cls(previous_digest=previous_digest, digest=GENESIS, **fields)
        # One dump serves the digest and the stored JSON (``stored_json``): on the write path
        # these were two of a completion's costliest steps. Set in place rather than by
        # ``model_copy``: the draft is new and nobody else holds it yet.
        content = cls.__pydantic_serializer__.to_python(draft, mode="json")  # ``model_dump``, without its wrapper
        hashed = content.copy()
        del hashed["digest"]
        digest = event_digest(cls.__name__, hashed, float_free=checked)
        content["digest"] = digest  # in its place among the fields, as the model writes it
        draft.__dict__["digest"] = digest
        # orjson writes what pydantic's ``to_json`` writes for content without floats (every code
        # point, tests/test_chain.py), four times faster; floats are possible only unchecked.
        _keep_json(draft, orjson.dumps(content) if checked else to_json(content))
        return draft

    @classmethod
    def _built(cls, values: dict[str, Any]) -> Self:
        """The model of ``values``, taken as they are: what ``model_construct`` does for a model
        given every field, without its per-field search for aliases and defaults (more than twice
        this cost). A field left out is a KeyError and one the model does not have a TypeError:
        nothing is filled in or dropped silently."""
        names = field_names(cls)  # in the model's order: its JSON's order
        if len(values) != len(names) and (extra := sorted(values.keys() - set(names))):
            raise TypeError(f"{cls.__name__} has no field {', '.join(extra)}")
        event = cls.__new__(cls)
        _set = object.__setattr__  # the model is frozen; these are the slots pydantic fills
        _set(event, "__dict__", {name: values[name] for name in names})
        _set(event, "__pydantic_fields_set__", set(values))
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event

    def stored_json(self) -> bytes:
        """The event's JSON as the store keeps it: ``model_dump_json``, byte for byte; the bytes
        made when this very object was sealed, if they are still kept."""
        kept = _SEALED_JSON.pop(id(self), None)  # the entry holds this object: its id is this one's
        return kept[1] if kept is not None else self.model_dump_json().encode("utf-8")

    @classmethod
    def next_in_chain(
        cls, stream_id: UUID, head: tuple[int, str] | None = None, *, checked: bool = False, **fields: Any,
    ) -> Self:
        """The event after ``head`` (the stream's last version and digest; None: the stream
        is new), sealed and linked to it. Every event of a chained stream is made here."""
        version, digest = head or (0, GENESIS)
        return cls.sealed(originator_id=stream_id, originator_version=version + 1, previous_digest=digest,
                          checked=checked, **fields)

    @property
    def link(self) -> tuple[int, str]:
        """What the next event of this stream links to: this version and digest."""
        return self.originator_version, self.digest

    def content_digest(self) -> str:
        """What ``digest`` must be for this content; a stored event whose digest differs was altered."""
        return event_digest(type(self).__name__, self.model_dump(mode="json", exclude={"digest"}))

    @property
    def valid_on(self) -> date:
        """When the fact happened. By default the day it was recorded: true of the ledger's
        own facts (keys held, verdicts issued, tokens given); activities and decisions say."""
        return self.recorded_at.date()


class ProfessionalRegistered(LedgerEvent):
    """The record opened. Holds the masked ID number only, never the clear one."""

    masked_id: str
    name: Text
    series: Series
    employer_unit: Code
    registered_on: Day

    @property
    def valid_on(self) -> date:
        return self.registered_on


class RegistrationCorrected(LedgerEvent):
    """A committee's or auditor's correction of the registered name or series settings
    (which decide exam substitution and teaching credit), with the reason and the decision."""

    name: Text
    series: Series
    reason: Text
    decision_ref: Text
    corrected_by: Text


class TransferProposed(LedgerEvent):
    """The new unit (or a committee) asks to take a person over from the date given."""

    from_unit: Code
    to_unit: Code
    effective_on: Day
    proposed_by: Text

    @property
    def valid_on(self) -> date:
        return self.effective_on


class TransferConfirmed(LedgerEvent):
    """The old unit (or a committee) agrees: from ``effective_on`` the person is the new unit's staff."""

    from_unit: Code
    to_unit: Code
    effective_on: Day
    confirmed_by: Text

    @property
    def valid_on(self) -> date:
        return self.effective_on


# What a record holds about the person, beside activities (its own stream's first events).
PERSON_EVENTS: tuple[type[LedgerEvent], ...] = (RegistrationCorrected, TransferProposed, TransferConfirmed)


class ActivityRecorded(LedgerEvent):
    """Base of the six activity events; the subclass mixes in the activity's details."""

    details_class: ClassVar[type[ActivityDetails]]
    activity_id: UUID

    @property
    def valid_on(self) -> date:
        return self.occurred_on  # type: ignore[attr-defined]  # from the details mixin

    def details(self) -> ActivityDetails:
        fields = self.details_class.model_fields
        return self.details_class.model_construct(**{k: getattr(self, k) for k in fields})


class PublicCourseCompleted(ActivityRecorded, PublicCourse):
    details_class: ClassVar[type[ActivityDetails]] = PublicCourse


class SpecialtyCreditClaimed(ActivityRecorded, SpecialtyCredit):
    details_class: ClassVar[type[ActivityDetails]] = SpecialtyCredit


class StudyTourRecorded(ActivityRecorded, StudyTour):
    details_class: ClassVar[type[ActivityDetails]] = StudyTour


class TeachingRecorded(ActivityRecorded, Teaching):
    details_class: ClassVar[type[ActivityDetails]] = Teaching


class ExamPassed(ActivityRecorded, ExamPass):
    details_class: ClassVar[type[ActivityDetails]] = ExamPass


class DegreeObtained(ActivityRecorded, Degree):
    details_class: ClassVar[type[ActivityDetails]] = Degree


EVENT_FOR_DETAILS: dict[type[ActivityDetails], type[ActivityRecorded]] = {
    cls.details_class: cls
    for cls in (
        PublicCourseCompleted,
        SpecialtyCreditClaimed,
        StudyTourRecorded,
        TeachingRecorded,
        ExamPassed,
        DegreeObtained,
    )
}


class ActivityDecided(LedgerEvent):
    """Base of a later decision about a recorded activity: who took it, why, on which day."""

    activity_id: UUID
    decided_by: Text
    reason: Text
    decided_on: Day

    @property
    def valid_on(self) -> date:
        return self.decided_on


class ClaimDecided(ActivityDecided):
    """Base of the decision on a specialty claim (审核): verified or rejected, once."""


class SpecialtyCreditVerified(ClaimDecided):
    """An employer or committee attested the certificate and its relevance (§3(5))."""


class SpecialtyCreditRejected(ClaimDecided):
    """An employer or committee refused the certificate (§3(5), reading 4)."""


class SpecialtyCreditUnverified(ClaimDecided):
    """The CE base withdrew the filing (备案) that verified this claim: it awaits a person's
    decision again, and ``reason`` says why (the base's reason for the withdrawal)."""


class ActivityVoided(ActivityDecided):
    """A wrong or fraudulent activity struck out by a later decision (§3(5))."""

    decision_ref: Text


class ActivityKeyReserved(LedgerEvent):
    """On a key's own stream: who held a globally unique retry key (reading 12, 13).

    Written until December 2026, in the same transaction as the activity. A claim is now a
    row beside the record index, unique by key and claim number (``storage.KeyClaim``), made
    from the activity's own event (one event per activity). Stores written before keep these
    events; they say what the rows built beside them say, and the read side skips them.
    """

    professional_id: UUID
    activity_id: UUID


# Every event of a professional's own stream (key streams hold ActivityKeyReserved only).
RECORD_EVENTS: tuple[type[LedgerEvent], ...] = (
    ProfessionalRegistered,
    *PERSON_EVENTS,
    *EVENT_FOR_DETAILS.values(),
    SpecialtyCreditVerified,
    SpecialtyCreditRejected,
    SpecialtyCreditUnverified,
    ActivityVoided,
)
