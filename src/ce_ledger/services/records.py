"""Professionals' records: register, record activities (one or a batch), decide on a
specialty claim, void; and read a record and its history.

A certificate or platform record is one credit across everyone (reading 12): the activity
and its claim on the key (a row unique by key and claim number, ``storage.KeyClaim``) are
saved in one transaction, so two people can never both hold it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from ce_ledger import collector
from ce_ledger.domain.commands import Correction, Registration, Transfer, Verification, Voiding
from ce_ledger.domain.details import ActivityDetails
from ce_ledger.domain.errors import Conflict, LedgerError, NotFound
from ce_ledger.domain.events import LedgerEvent, ProfessionalRegistered
from ce_ledger.domain.identity import mask
from ce_ledger.domain.professional import (
    NotARecord,
    Outcome,
    Professional,
    project_professional,
    PERSON_TERMS,
    terms_to_decide,
    terms_to_record,
)
from ce_ledger.domain.values import Channel, Series
from ce_ledger.services.base import (
    AggregateNotFoundError, Events, IntegrityError, KeyClaim, Store, claim, index_rows, key_stream, retrying,
)

BATCH_ATTEMPTS = 2  # a batch decided again once after a lost race, then item by item
NO_SUCH_PROFESSIONAL = ("professional_id", "no such professional is registered")


@dataclass(frozen=True)
class Registered:
    professional_id: UUID
    created: bool


class Records(Store):
    # -- commands --------------------------------------------------------------------

    def register(self, registration: Registration, *, by: str, channel: Channel = Channel.DIRECT) -> Registered:
        """Open a record; the same registration again is a retry, other content a conflict."""
        pid = self.professional_id_for(registration.id_number)
        series = _series(registration)
        if not self.exists(pid):
            now, today = self.now()
            professional = _opened(pid, registration, now, today, by, channel)
            named = self._naming(registration, by, channel)
            try:
                self.save(professional, *([Events([named])] if named else []))
                return Registered(pid, created=True)
            except IntegrityError:
                pass  # registered concurrently: judge it as a retry
        differ = self._in_part(pid, PERSON_TERMS).differs_from(registration.name, series, registration.employer_unit)
        if differ:
            raise Conflict(
                differ[0],
                f"this person is registered already, with another {', '.join(differ)}; a correction is made "
                "by a committee or auditor (…/corrections), a move to another unit by the new unit (…/transfers)",
            )
        named = self._naming(registration, by, channel)
        if named is not None:
            try:
                self.save(Events([named]))
            except IntegrityError:
                pass  # named concurrently; the register holds one name or the other
        return Registered(pid, created=False)

    def register_batch(
        self, registrations: Sequence[Registration], *, by: str, channel: Channel = Channel.DIRECT
    ) -> list[Registered | LedgerError]:
        """Open many records in one transaction (a migration's people): one read for them all and
        one save for the new ones. A registration that names its unit, a person already on record
        or twice in the batch, or a lost race goes through ``register`` on its own, so every
        outcome is the one ``register`` gives; one bad registration never blocks the others."""
        pids = [self.professional_id_for(r.id_number) for r in registrations]
        on_record = self.in_part({pid: PERSON_TERMS for pid in pids})
        now, today = self.now()
        opened: dict[UUID, Professional] = {}
        results: list[Registered | LedgerError | None] = []
        for pid, registration in zip(pids, registrations, strict=True):
            if on_record[pid] is not None or pid in opened or registration.employer_unit_name is not None:
                results.append(None)  # on its own, below
                continue
            try:
                opened[pid] = _opened(pid, registration, now, today, by, channel)
            except LedgerError as e:
                results.append(e.with_traceback(None))
            else:
                results.append(Registered(pid, created=True))
        if opened:
            try:
                self.save(*opened.values())
            except IntegrityError:  # another writer opened one of them meanwhile: each on its own
                results = [None if isinstance(r, Registered) else r for r in results]
        return [r if r is not None else self._register_or_error(registration, by, channel)
                for r, registration in zip(results, registrations, strict=True)]

    def _register_or_error(self, registration: Registration, by: str, channel: Channel) -> Registered | LedgerError:
        try:
            return self.register(registration, by=by, channel=channel)
        except LedgerError as e:
            return e.with_traceback(None)  # a value now: no frame kept alive in a cycle

    def _naming(self, registration: Registration, by: str, channel: Channel) -> object | None:
        if registration.employer_unit_name is None:
            return None
        return self.unit_naming(  # type: ignore[attr-defined]  # services.units
            registration.employer_unit, registration.employer_unit_name, by=by, channel=channel
        )

    def correct_registration(
        self, professional_id: UUID, correction: Correction, *, by: str, channel: Channel = Channel.DIRECT
    ) -> tuple[Professional, str]:
        """A committee's or auditor's correction of the name or series settings."""
        series = _series(correction)
        return self._change_person(professional_id, lambda p, now, today: p.correct(
            name=correction.name, series=series, reason=correction.reason, decision_ref=correction.decision_ref,
            by=by, now=now, channel=channel,
        ))

    def propose_transfer(
        self, professional_id: UUID, transfer: Transfer, *, by: str, channel: Channel = Channel.DIRECT
    ) -> tuple[Professional, str]:
        return self._change_person(professional_id, lambda p, now, today: p.propose_transfer(
            transfer.to_unit, transfer.effective_on, by=by, now=now, today=today, channel=channel,
        ))

    def confirm_transfer(
        self, professional_id: UUID, transfer: Transfer, *, by: str, channel: Channel = Channel.DIRECT
    ) -> tuple[Professional, str]:
        return self._change_person(professional_id, lambda p, now, today: p.confirm_transfer(
            transfer.to_unit, transfer.effective_on, by=by, now=now, channel=channel,
        ))

    def _change_person(self, professional_id: UUID, decide: Callable[[Professional, datetime, date], str]) -> tuple[Professional, str]:
        """Get the record, let it decide on a change to the person, save what it triggered."""
        for attempt in retrying():
            with attempt:
                professional = self._in_part(professional_id, PERSON_TERMS)
                now, today = self.now()
                status = decide(professional, now, today)
                if status == "recorded":
                    self.save(professional)
                return professional, status
        raise AssertionError("unreachable")  # pragma: no cover

    def record(
        self, professional_id: UUID, details: ActivityDetails, *, by: str, channel: Channel = Channel.DIRECT
    ) -> Outcome:
        """Record one activity, or recognise its retry (reading 13)."""
        self.check_programme(details)  # type: ignore[attr-defined]  # services.programmes
        generation: int | None = None
        for attempt in retrying():
            with attempt:
                professional = self._in_part(professional_id, terms_to_record(details), registration=False)
                now, today = self.now()
                outcome, claims = self._decide_activity(professional, details, now, today, generation, by, channel)
                try:
                    done = self.save_outcome(outcome, professional, keys=claims)
                except IntegrityError:
                    if details.key_is_global:
                        generation = self._generation_after_clash(professional_id, details)
                    raise
                return self._after_recorded(professional_id, details, done)
        raise AssertionError("unreachable")  # pragma: no cover

    def record_batch(
        self, items: Sequence[tuple[UUID, ActivityDetails]], *, by: str, channel: Channel = Channel.DIRECT,
        sole_writer: bool = False,
    ) -> list[Outcome | LedgerError]:
        """Record many activities in one transaction; one bad item never blocks the others.

        The optimistic path loads each record once and saves everything together. If
        another writer got in first, the batch is decided again on fresh records, once (two
        batches at a time touching the same people: without it, one of them fell back item
        by item and cost ten times as much); if that is refused too (a key another record
        holds, say), it falls back to one command per item, each with its own retry, so the
        outcome is the same, only slower. The collector is paused meanwhile (``collector.paused``).

        ``sole_writer``: the caller writes these records alone for now and its rows are almost
        all new — a migration's share of the people (``ce-ledger import``). The first try then
        reads nothing it can do without: not a global key's activities (a record that has one
        holds a claim on the key, so the save fails) and not the head of a record this process
        wrote last (``written_heads``; moved on by another writer after all, the save fails on
        the version). A failed first try is decided again with everything read, as above, and
        later batches read too until one records every item as new: a file imported again
        costs one wasted try, not one a batch. The outcomes are the same either way — except on a
        record the audit reports, whose activity under a global key has an id this ledger does
        not make: no claim was rebuilt for it (``build_index``), so only reading its key sees it.
        """
        fresh = sole_writer and self._fresh_keys
        if sole_writer:
            self.written_heads()  # kept from now on
        with collector.paused():
            for attempt in range(BATCH_ATTEMPTS):
                unread = fresh and attempt == 0
                if attempt and not fresh:
                    time.sleep(random.uniform(0, 0.02))  # let the other writer's transaction end
                results, saved = self._try_batch(items, by, channel, unread=unread)
                if saved:
                    if sole_writer:
                        self._fresh_keys = all(isinstance(r, Outcome) and r.status == "recorded" for r in results)
                    return results
                if unread:
                    self._fresh_keys = False
        return [  # each item that was not refused on its own: one command each
            r if isinstance(r, LedgerError) else self._record_or_error(pid, details, by, channel)
            for r, (pid, details) in zip(results, items, strict=True)
        ]

    _fresh_keys = True  # a sole writer's batches take their global keys as new (``record_batch``)

    def _try_batch(
        self, items: Sequence[tuple[UUID, ActivityDetails]], by: str, channel: Channel, *, unread: bool = False,
    ) -> tuple[list[Outcome | LedgerError], bool]:
        """Decide every item on records loaded in part and save them all together; False if the
        save lost a race (nothing was saved). ``unread``: without reading global keys' activities
        or the heads this process wrote (``record_batch(sole_writer=True)``)."""
        wanted: dict[UUID, list[str]] = {}
        for pid, details in items:
            wanted.setdefault(pid, []).extend(terms_to_record(details, key=not (unread and details.key_is_global)))
        records = self.in_part(wanted, registration=False, written=unread)
        results: list[Outcome | LedgerError] = []
        claims: list[KeyClaim] = []
        now, today = self.now()
        for pid, details in items:
            professional = records[pid]
            try:
                if professional is None:
                    raise NotFound(*NO_SUCH_PROFESSIONAL)
                self.check_programme(details)  # type: ignore[attr-defined]
                outcome, made = self._decide_activity(professional, details, now, today, None, by, channel)
            except LedgerError as e:
                results.append(e.with_traceback(None))  # a value now: no frame kept alive in a cycle
            else:
                results.append(outcome)
                claims += made
        touched = [p for p in records.values() if p is not None]
        index = [row for p in touched for row in index_rows(p)]
        pending = [e for p in touched for e in p.collect_events()]
        try:
            recordings = self.save(Events(pending, index, claims))
        except IntegrityError:
            self.forget_heads(records)  # a head moved on by another writer is read next time
            return results, False
        position = max((r.notification.id for r in recordings), default=None) or self.position()
        settled = iter(self._after_recorded_batch([
            (pid, details, Outcome(r.activity_id, r.status, position))  # not ``replace``: a tenth as costly
            for r, (pid, details) in zip(results, items, strict=True) if not isinstance(r, LedgerError)]))
        return [r if isinstance(r, LedgerError) else next(settled) for r in results], True

    def decide(
        self, professional_id: UUID, activity_id: UUID, verification: Verification, *, by: str,
        channel: Channel = Channel.DIRECT,
    ) -> Outcome:
        """Verify or reject a specialty claim (§3(5))."""
        for attempt in retrying():
            with attempt:
                professional = self._in_part(professional_id, terms_to_decide(activity_id))
                now, today = self.now()
                outcome = professional.decide(
                    activity_id, verification.decision, by=by, reason=verification.reason, now=now, today=today,
                    channel=channel,
                )
                return self.save_outcome(outcome, professional)
        raise AssertionError("unreachable")  # pragma: no cover

    def void(
        self, professional_id: UUID, activity_id: UUID, voiding: Voiding, *, by: str, channel: Channel = Channel.DIRECT
    ) -> Outcome:
        for attempt in retrying():
            with attempt:
                professional = self._in_part(professional_id, terms_to_decide(activity_id))
                now, today = self.now()
                outcome = professional.void(
                    activity_id, by=by, reason=voiding.reason, decision_ref=voiding.decision_ref, now=now, today=today,
                    channel=channel,
                )
                return self.save_outcome(outcome, professional)
        raise AssertionError("unreachable")  # pragma: no cover

    def decide_batch(
        self, items: Sequence[tuple[UUID, UUID, Verification]], *, by: str, channel: Channel = Channel.DIRECT
    ) -> list[Outcome | LedgerError]:
        """Many decisions in one transaction (a migration's, a committee's list): as ``decide``
        item by item, each record read in part once."""
        def deciding(aid: UUID, v: Verification) -> Callable[[Professional, datetime, date], Outcome]:
            return lambda p, now, today: p.decide(aid, v.decision, by=by, reason=v.reason, now=now, today=today,
                                                  channel=channel)

        return self._batch_on_activities(
            [(pid, aid, deciding(aid, v)) for pid, aid, v in items],
            lambda pid, aid, i: self.decide(pid, aid, items[i][2], by=by, channel=channel),
        )

    def void_batch(
        self, items: Sequence[tuple[UUID, UUID, Voiding]], *, by: str, channel: Channel = Channel.DIRECT
    ) -> list[Outcome | LedgerError]:
        """Many voids in one transaction: as ``void`` item by item."""
        def voiding(aid: UUID, v: Voiding) -> Callable[[Professional, datetime, date], Outcome]:
            return lambda p, now, today: p.void(aid, by=by, reason=v.reason, decision_ref=v.decision_ref, now=now,
                                                today=today, channel=channel)

        return self._batch_on_activities(
            [(pid, aid, voiding(aid, v)) for pid, aid, v in items],
            lambda pid, aid, i: self.void(pid, aid, items[i][2], by=by, channel=channel),
        )

    def _batch_on_activities(
        self, items: list[tuple[UUID, UUID, Callable[[Professional, datetime, date], Outcome]]],
        one: Callable[[UUID, UUID, int], Outcome],
    ) -> list[Outcome | LedgerError]:
        wanted: dict[UUID, list[str]] = {}
        for pid, aid, _ in items:
            wanted.setdefault(pid, []).extend(terms_to_decide(aid))
        records = self.in_part(wanted)
        now, today = self.now()
        results: list[Outcome | LedgerError] = []
        for pid, _, command in items:
            try:
                record = records[pid]
                if record is None:
                    raise NotFound(*NO_SUCH_PROFESSIONAL)
                results.append(command(record, now, today))
            except LedgerError as e:
                results.append(e.with_traceback(None))  # a value now: no frame kept alive in a cycle
        touched = [p for p in records.values() if p is not None]
        index = [row for p in touched for row in index_rows(p)]
        pending = [e for p in touched for e in p.collect_events()]
        if not pending:
            return [r if isinstance(r, LedgerError) else replace(r, position=self.position()) for r in results]
        try:
            recordings = self.save(Events(pending, index))
        except IntegrityError:  # another writer got in first: item by item, each with its retry
            out: list[Outcome | LedgerError] = []
            for i, (r, (pid, aid, _)) in enumerate(zip(results, items, strict=True)):
                try:
                    out.append(r if isinstance(r, LedgerError) else one(pid, aid, i))
                except LedgerError as e:
                    out.append(e)
            return out
        position = max(r.notification.id for r in recordings)
        return [r if isinstance(r, LedgerError) else replace(r, position=position) for r in results]

    # -- queries ---------------------------------------------------------------------

    def professional(self, professional_id: UUID, version: int | None = None, *, copy: bool = True) -> Professional:
        """The record now, or as it was at ``version``; a private copy unless ``copy=False``."""
        try:
            return self.aggregate(professional_id, project_professional, version, copy=copy)
        except (AggregateNotFoundError, NotARecord):  # no stream, or another kind's (a verdict id, say)
            raise NotFound(*NO_SUCH_PROFESSIONAL) from None

    def history(
        self, professional_id: UUID, *, as_of_version: int | None = None, as_of_time: datetime | None = None
    ) -> list[LedgerEvent]:
        """The record's events in recorded order; as known at a past version or time, if given."""
        self.require(professional_id)
        events: list[LedgerEvent] = list(self.events.get(professional_id, lte=as_of_version))  # type: ignore[arg-type]
        if as_of_time is not None:
            events = [e for e in events if e.recorded_at <= as_of_time]
        return events

    def require(self, professional_id: UUID) -> None:
        """That the stream is a professional's record (not missing, not a verdict's or a key's)."""
        if not isinstance(self.first(professional_id), ProfessionalRegistered):
            raise NotFound(*NO_SUCH_PROFESSIONAL)

    # -- inside ----------------------------------------------------------------------

    def _decide_activity(
        self, professional: Professional, details: ActivityDetails, now: datetime, today: date,
        generation: int | None, by: str, channel: Channel,
    ) -> tuple[Outcome, list[KeyClaim]]:
        """The aggregate decides; a new activity with a global key also makes the key's next claim
        (who made it, and when, is on the activity's own event)."""
        key = details.canonical_key()
        if generation is None:
            generation = len(professional.keys.get(key, []))
        outcome = professional.record(details, now=now, today=today, generation=generation, by=by, channel=channel,
                                      key=key)
        if outcome.status != "recorded" or not details.key_is_global:
            return outcome, []
        return outcome, [claim(key_stream(key), generation + 1, professional.id, outcome.activity_id)]

    def _in_part(self, professional_id: UUID, terms: Sequence[str], *, registration: bool = True) -> Professional:
        """The record loaded in part for one command (``Store.in_part``)."""
        found = self.in_part({professional_id: terms}, registration=registration)[professional_id]
        if found is None:
            raise NotFound(*NO_SUCH_PROFESSIONAL)
        return found

    def _record_or_error(self, pid: UUID, details: ActivityDetails, by: str, channel: Channel) -> Outcome | LedgerError:
        try:
            return self.record(pid, details, by=by, channel=channel)
        except LedgerError as e:
            return e.with_traceback(None)  # a value now: no frame kept alive in a cycle

    def _generation_after_clash(self, pid: UUID, details: ActivityDetails) -> int | None:
        """After a clash on a global key: may this person take it, and as which generation?

        Reading 12: a certificate or platform record is one credit across everyone.
        Another person's live claim on it is a conflict; a voided one frees the key.
        """
        key = details.canonical_key()
        last = next(reversed(self.key_claims(key)), None)
        if last is None:
            return None  # no claim after all: decide again
        holder = self._in_part(last.professional_id, terms_to_decide(last.activity_id))
        if holder.activities[last.activity_id].void is None:
            if last.professional_id == pid:
                return None  # our own record moved on: reload and decide again
            field = "record_id" if key.startswith("platform-record:") else "certificate_no"
            raise Conflict(
                field,
                f"{key} is already credited to another professional; one certificate or "
                "platform record is one credit (reading 12)",
            )
        # Freed by a void (ours or another's): the next claim, whatever this record counted.
        return last.version


def _series(given: Registration | Correction) -> Series:
    """The series settings a registration or a correction gives."""
    return Series(
        name=given.series,
        requires_foreign_language_exam=given.requires_foreign_language_exam,
        requires_computer_exam=given.requires_computer_exam,
        own_ce_regulation=given.own_ce_regulation,
    )


def _opened(pid: UUID, registration: Registration, now: datetime, today: date, by: str, channel: Channel) -> Professional:
    """A new record for ``registration`` (not saved)."""
    return Professional.register(
        pid, masked_id=mask(registration.id_number), name=registration.name, series=_series(registration),
        employer_unit=registration.employer_unit, now=now, today=today, by=by, channel=channel,
    )
