"""The ledger application: the service layer. It owns transactions and retries.

Every command loads a record, asks the aggregate to decide, and saves what it
triggered in one transaction. A lost race (another writer saved the same version
first) is retried from a fresh load; a retried request finds its own earlier
write and reports a duplicate, so nothing is recorded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ce_ledger.domain.chain import GENESIS
from ce_ledger.domain.commands import Registration, Verification, Voiding
from ce_ledger.domain.details import ActivityDetails, SpecialtyCredit
from ce_ledger.domain.errors import Conflict, InvalidInput, LedgerError, NotFound
from ce_ledger.domain.events import ActivityKeyReserved, LedgerEvent
from ce_ledger.domain.identity import mask, professional_id
from ce_ledger.domain.professional import Outcome, Professional, project_professional
from ce_ledger.domain.programme import Programme, ProgrammePlanned, programme_stream
from ce_ledger.domain.provider import (
    Provider,
    ProviderLevel,
    ProviderRegister,
    ProviderStatusChange,
    project_provider,
    provider_stream,
)
from ce_ledger.domain.values import ActivityKind, Level, Series
from ce_ledger.domain.verdicts import Pin, VerdictFiled, VerdictIssued, verdict_index
from ce_ledger.persistence import PYDANTIC_ENV, StreamReader
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.ruleset import Registry
from ce_ledger.rules.verdict import Verdict

KEY_NAMESPACE = UUID("0b5e8f43-8d0c-5e8e-b6a4-4f6f7e2d9c31")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _retrying() -> Retrying:
    # Random backoff so that racing writers stop colliding; 30 tries is far past
    # what two-core contention needs, and a clear IntegrityError beats an endless loop.
    return Retrying(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(30),
        wait=wait_random_exponential(multiplier=0.002, max=0.1),
        reraise=True,
    )


@dataclass
class _Pending:
    """Loose events handed to ``save`` as one object: the library checks each object
    it is given against a runtime protocol, which cost more than the insert itself
    for a batch of hundreds of key reservations."""

    events: list[LedgerEvent]
    id: UUID = KEY_NAMESPACE

    def collect_events(self) -> list[LedgerEvent]:
        return self.events


@dataclass(frozen=True)
class Registered:
    professional_id: UUID
    created: bool


@dataclass(frozen=True)
class ProviderDecision:
    provider: Provider
    status: Literal["recorded", "duplicate"]


class Ledger(Application[UUID]):
    name = "ledger"
    env: ClassVar[dict[str, str]] = PYDANTIC_ENV

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        secret_key: bytes,
        timezone: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = utc_now,
        rule_sets: Registry = PUBLISHED,
    ):
        super().__init__(env)
        self._saved_listeners: list[Callable[[int], None]] = []
        self._streams = StreamReader(self.recorder)
        self._secret_key = secret_key
        self._zone = ZoneInfo(timezone)
        self.clock = clock
        self.rule_sets = rule_sets
        self._programmes: dict[str, ProgrammePlanned] = {}  # a plan is one immutable event

    # -- after a save ----------------------------------------------------------------

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after every save, in the saving thread.

        The embedded (SQLite) composition uses this to bring the read side up to date
        before a command returns; the library offers no subscription on SQLite.
        """
        self._saved_listeners.append(listener)

    def _notify(self, recordings: list) -> None:
        super()._notify(recordings)
        if recordings and self._saved_listeners:
            position = max(r.notification.id for r in recordings)
            for listener in self._saved_listeners:
                listener(position)

    def position(self) -> int:
        """The last position in the log: what a reader waits for after a duplicate."""
        return self.recorder.max_notification_id() or 0

    # -- time ------------------------------------------------------------------------

    def _now(self) -> tuple[datetime, date]:
        """Transaction time in UTC, and "today" where the ledger's users live."""
        now = self.clock()
        return now, now.astimezone(self._zone).date()

    # -- identity --------------------------------------------------------------------

    def professional_id_for(self, id_number: str) -> UUID:
        """The stream id of a (validated, normalised) ID number; reads nothing."""
        return professional_id(id_number, self._secret_key)

    # -- commands --------------------------------------------------------------------

    def register(self, registration: Registration) -> Registered:
        pid = self.professional_id_for(registration.id_number)
        if self._exists(pid):
            return Registered(pid, created=False)
        now, today = self._now()
        professional = Professional.register(
            pid,
            masked_id=mask(registration.id_number),
            name=registration.name,
            series=Series(
                name=registration.series,
                requires_foreign_language_exam=registration.requires_foreign_language_exam,
                requires_computer_exam=registration.requires_computer_exam,
                own_ce_regulation=registration.own_ce_regulation,
            ),
            employer_unit=registration.employer_unit,
            now=now,
            today=today,
        )
        try:
            self.save(professional)
        except IntegrityError:
            return Registered(pid, created=False)  # registered concurrently: same person, same id
        return Registered(pid, created=True)

    def record(self, professional_id: UUID, details: ActivityDetails) -> Outcome:
        """Record one activity, or recognise its retry (reading 13)."""
        generation: int | None = None
        for attempt in _retrying():
            with attempt:
                professional = self.professional(professional_id)
                now, today = self._now()
                try:
                    return self._record_into(professional, details, now, today, generation)
                except IntegrityError:
                    if details.key_is_global:
                        generation = self._generation_for(professional_id, details)
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def record_batch(
        self, items: Sequence[tuple[UUID, ActivityDetails]]
    ) -> list[Outcome | LedgerError]:
        """Record many activities in one transaction; one bad item never blocks the others.

        The optimistic path loads each record once and saves everything together. If
        another writer got in first, the batch falls back to one command per item,
        each with its own retry, so the outcome is the same, only slower.
        """
        results: list[Outcome | LedgerError | None] = [None] * len(items)
        records = self._load_many(list(dict.fromkeys(pid for pid, _ in items)))
        reservations: list[ActivityKeyReserved] = []
        now, today = self._now()
        for i, (pid, details) in enumerate(items):
            professional = records[pid]
            if professional is None:
                results[i] = NotFound("professional_id", "no such professional is registered")
                continue
            try:
                outcome = self._record_activity(professional, details, now, today, None, reservations)
            except LedgerError as e:
                results[i] = e
            else:
                results[i] = outcome
        try:
            pending = [e for p in records.values() if p is not None for e in p.collect_events()]
            recordings = self.save(_Pending(pending + reservations))
        except IntegrityError:
            return [
                r if isinstance(r, LedgerError) else self._record_or_error(pid, details)
                for r, (pid, details) in zip(results, items, strict=True)
            ]
        position = max((r.notification.id for r in recordings), default=None) or self.position()
        return [r if isinstance(r, LedgerError) else replace(r, position=position) for r in results]  # type: ignore[arg-type]

    def decide(
        self, professional_id: UUID, activity_id: UUID, verification: Verification, *, by: str
    ) -> Outcome:
        """Verify or reject a specialty claim (§3(5))."""

        def command(p: Professional, now: datetime, today: date) -> Outcome:
            return p.decide(
                activity_id, verification.decision, by=by, reason=verification.reason, now=now, today=today
            )

        return self._update(professional_id, command)

    def void(self, professional_id: UUID, activity_id: UUID, voiding: Voiding, *, by: str) -> Outcome:
        def command(p: Professional, now: datetime, today: date) -> Outcome:
            return p.void(
                activity_id,
                by=by,
                reason=voiding.reason,
                decision_ref=voiding.decision_ref,
                now=now,
                today=today,
            )

        return self._update(professional_id, command)

    # -- queries ---------------------------------------------------------------------

    def professional(
        self, professional_id: UUID, version: int | None = None, *, for_update: bool = True
    ) -> Professional:
        """The record now, or as it was at ``version``.

        With the aggregate cache on, a cached record is first brought up to date with
        whatever was stored since, so it is never stale. Commands get a private copy
        (they change it); read-only callers pass ``for_update=False`` and skip the copy.
        """
        try:
            return self._aggregate(professional_id, project_professional, version, for_update=for_update)
        except AggregateNotFoundError:
            raise NotFound("professional_id", "no such professional is registered") from None

    def _aggregate(self, aggregate_id: UUID, projector: Any, version: int | None = None, *, for_update: bool = True) -> Any:
        """The library's cached ``repository.get``, made safe for threads.

        The library fast-forwards a cached aggregate in place under a lock, then copies it
        for the caller *after* releasing the lock: a second thread fast-forwarding the same
        record meanwhile made the copy fail ("dictionary changed size during iteration";
        found by two server processes and twelve client threads). Here a cached aggregate
        is never changed once cached: bringing it up to date builds a new one from a copy
        and replaces the cache entry, so readers may share it and commands copy it at will.
        (The lock helpers are private: pinned by the exact library version.)
        """
        repository = self.repository
        cache = repository.cache
        if cache is None or version is not None:
            return repository.get(aggregate_id, version=version, projector_func=projector)  # built afresh
        lock = repository._use_fastforward_lock(aggregate_id)
        try:
            with lock:
                try:
                    cached = cache.get(aggregate_id)
                except KeyError:
                    cached = None
                new_events = list(self.events.get(aggregate_id, gt=cached.version if cached is not None else None))
                if new_events or cached is None:
                    cached = projector(deepcopy(cached) if cached is not None else None, new_events)
                    if cached is None:
                        raise AggregateNotFoundError(aggregate_id)
                    cache.put(aggregate_id, cached)
        finally:
            repository._disuse_fastforward_lock(aggregate_id)
        return deepcopy(cached) if for_update else cached

    def history(
        self, professional_id: UUID, *, as_of_version: int | None = None, as_of_time: datetime | None = None
    ) -> list[LedgerEvent]:
        """The record's events in recorded order; as known at a past version or time, if given."""
        events: list[LedgerEvent] = list(self.events.get(professional_id, lte=as_of_version))  # type: ignore[arg-type]
        if not events:
            self._require(professional_id)
        if as_of_time is not None:
            events = [e for e in events if e.recorded_at <= as_of_time]
        return events

    def evaluate(
        self,
        professional_id: UUID,
        level: Level,
        evaluation_year: int,
        *,
        rule_set: str | None = None,
        version: int | None = None,
    ) -> Verdict:
        """A verdict on the record as known at ``version`` (default: now)."""
        rules = self.rule_sets.get(rule_set) if rule_set else self.rule_sets.in_force(evaluation_year)
        record = self.professional(professional_id, version, for_update=False)
        return rules.evaluate(record, level, evaluation_year, self.providers_of(record))

    def issue_verdict(
        self,
        professional_id: UUID,
        level: Level,
        evaluation_year: int,
        *,
        by: str,
        rule_set: str | None = None,
    ) -> VerdictIssued:
        """Evaluate the record as it is now and record the verdict, pinned to what it read.

        The verdict and its entry on the person's verdict index are saved together; two
        committees issuing at once race only for the index's next version, and retry.
        """
        rules = self.rule_sets.get(rule_set) if rule_set else self.rule_sets.in_force(evaluation_year)
        record = self.professional(professional_id, for_update=False)
        providers = self.providers_of(record)
        verdict = rules.evaluate(record, level, evaluation_year, providers)
        pins = (
            Pin(stream_id=professional_id, version=record.version, digest=record.head_digest),
            *(
                Pin(stream_id=p.id, version=p.version, digest=p.head_digest, role="provider")
                for _, p in sorted(providers.items())
            ),
        )
        index = verdict_index(professional_id)
        for attempt in _retrying():
            with attempt:
                now, _ = self._now()
                issued = VerdictIssued.sealed(
                    originator_id=uuid4(),
                    originator_version=1,
                    recorded_at=now,
                    professional_id=professional_id,
                    issued_by=by,
                    verdict=verdict,
                    fingerprint=verdict.fingerprint,
                    pins=pins,
                )
                head = self._head(index)
                filed = VerdictFiled.sealed(
                    originator_id=index,
                    originator_version=head.originator_version + 1 if head else 1,
                    previous_digest=head.digest if head else GENESIS,
                    recorded_at=now,
                    verdict_id=issued.originator_id,
                    level=level,
                    evaluation_year=evaluation_year,
                    rule_set_id=verdict.rule_set.id,
                    passed=verdict.passed,
                    fingerprint=verdict.fingerprint,
                )
                self.save(_Pending([issued, filed]))
                return issued
        raise AssertionError("unreachable")  # pragma: no cover

    # -- providers (CE bases, §1(4)) ---------------------------------------------------

    def accredit_provider(
        self, code: str, *, name: str, level: ProviderLevel, effective_on: date, decision_ref: str, by: str
    ) -> ProviderDecision:
        """Open a provider's record; the same accreditation again is a retry."""
        now, today = self._now()
        try:
            existing = self.provider(code)
        except NotFound:
            provider = Provider.accredit(
                code, name=name, level=level, effective_on=effective_on, decision_ref=decision_ref,
                by=by, now=now, today=today,
            )
            try:
                self.save(provider)
            except IntegrityError:
                existing = self.provider(code)  # accredited concurrently: judge it as a retry
            else:
                return ProviderDecision(provider, "recorded")
        if existing.same_accreditation(name, level, effective_on, decision_ref):
            return ProviderDecision(existing, "duplicate")
        raise Conflict("code", f"provider {code} is already accredited with other details")

    def change_provider_status(self, code: str, change: ProviderStatusChange, *, by: str) -> ProviderDecision:
        for attempt in _retrying():
            with attempt:
                provider = self.provider(code)
                now, today = self._now()
                status = provider.change(change, by=by, now=now, today=today)
                if status == "recorded":
                    self.save(provider)
                return ProviderDecision(provider, status)
        raise AssertionError("unreachable")  # pragma: no cover

    def provider(self, code: str, version: int | None = None) -> Provider:
        try:
            return self._aggregate(provider_stream(code), project_provider, version)
        except AggregateNotFoundError:
            raise NotFound("code", f"no provider {code} is accredited in the ledger") from None

    def providers_of(self, record: Professional, versions: dict[UUID, int] | None = None) -> ProviderRegister:
        """The records of the providers whose certificates ``record`` holds: now, or at
        the given versions (a replay reads them as its verdict pinned them)."""
        register: ProviderRegister = {}
        codes = {
            a.recorded.provider_code  # type: ignore[attr-defined]
            for a in record.activities.values()
            if a.kind is ActivityKind.SPECIALTY
        }
        for code in sorted(codes):
            stream = provider_stream(code)
            if versions is not None and stream not in versions:
                continue  # the verdict read no record of this provider: it had none then
            try:
                register[code] = self.provider(code, versions[stream] if versions else None)
            except NotFound:
                continue
        return register

    # -- programmes of the knowledge-update project (§2) -------------------------------

    def plan_programme(self, programme: Programme, *, by: str) -> tuple[ProgrammePlanned, bool]:
        """Record a programme's plan; returns it and whether it is new (the same plan again is a retry)."""
        try:
            return self._same_plan(self.programme(programme.code), programme), False
        except NotFound:
            pass
        try:
            self.provider(programme.provider_code)
        except NotFound:
            raise InvalidInput(
                "provider_code", f"no provider {programme.provider_code} is accredited: accredit it first"
            ) from None
        now, _ = self._now()
        planned = ProgrammePlanned.sealed(
            originator_id=programme_stream(programme.code), originator_version=1, recorded_at=now,
            planned_by=by, **programme.model_dump(),
        )
        try:
            self.save(_Pending([planned]))
        except IntegrityError:  # planned concurrently: judge it as a retry
            return self._same_plan(self.programme(programme.code), programme), False
        return planned, True

    @staticmethod
    def _same_plan(found: ProgrammePlanned, programme: Programme) -> ProgrammePlanned:
        if found.programme() != programme:
            raise Conflict("code", f"programme {programme.code} is already planned with other details")
        return found

    def programme(self, code: str) -> ProgrammePlanned:
        if code not in self._programmes:
            found = list(self.events.get(programme_stream(code), limit=1))
            if not found:
                raise NotFound("programme_code", f"no programme {code} is planned")
            self._programmes[code] = found[0]  # type: ignore[assignment]
        return self._programmes[code]

    def check_programme(self, details: ActivityDetails) -> None:
        """A certificate that names a programme must name one that exists, run by its issuer."""
        if not isinstance(details, SpecialtyCredit) or details.programme_code is None:
            return
        try:
            programme = self.programme(details.programme_code)
        except NotFound as e:
            raise InvalidInput("programme_code", e.rule) from None
        if programme.provider_code != details.provider_code:
            raise InvalidInput(
                "programme_code",
                f"programme {programme.code} is run by provider {programme.provider_code}, "
                f"not {details.provider_code}",
            )

    def verdict(self, verdict_id: UUID) -> VerdictIssued:
        found = list(self.events.get(verdict_id, limit=1))
        if not found or not isinstance(found[0], VerdictIssued):
            raise NotFound("verdict_id", f"no verdict {verdict_id}")
        return found[0]

    def verdicts_of(self, professional_id: UUID) -> list[VerdictFiled]:
        """The person's verdicts, oldest first (from their verdict index)."""
        self._require(professional_id)
        return list(self.events.get(verdict_index(professional_id)))  # type: ignore[arg-type]

    # -- inside ----------------------------------------------------------------------

    def _exists(self, pid: UUID) -> bool:
        return bool(self.recorder.select_events(pid, limit=1))

    def _require(self, pid: UUID) -> None:
        if not self._exists(pid):
            raise NotFound("professional_id", "no such professional is registered")

    def _head(self, stream: UUID, version: int | None = None) -> LedgerEvent | None:
        """A stream's last event (at or before ``version``): what the next event links to."""
        found = list(self.events.get(stream, lte=version, desc=True, limit=1))
        return found[0] if found else None  # type: ignore[return-value]

    def _load_many(self, pids: list[UUID]) -> dict[UUID, Professional | None]:
        """Many records for one command, with one query: cached records fast-forwarded,
        the rest read whole. Each caller gets its own copy; the cache keeps another."""
        cache = self.repository.cache
        known: dict[UUID, Professional | None] = {}
        for pid in pids:
            known[pid] = self._cached_copy(pid) if cache else None
        new_events = self._streams.after({pid: p.version if p else 0 for pid, p in known.items()})
        loaded: dict[UUID, Professional | None] = {}
        for pid in pids:
            start = known[pid]
            events = (self.mapper.to_domain_event(e) for e in new_events.get(pid, ()))
            record = project_professional(start, events)  # type: ignore[arg-type]
            loaded[pid] = record
            if cache is not None and record is not None and pid in new_events:
                cache.put(pid, deepcopy(record))
        return loaded

    def _cached_copy(self, pid: UUID) -> Professional | None:
        """A private copy of a cached record (cached records are never changed: ``_aggregate``)."""
        try:
            return deepcopy(self.repository.cache.get(pid))  # type: ignore[union-attr]
        except KeyError:
            return None

    def _record_or_error(self, pid: UUID, details: ActivityDetails) -> Outcome | LedgerError:
        try:
            return self.record(pid, details)
        except LedgerError as e:
            return e

    def _record_activity(
        self,
        professional: Professional,
        details: ActivityDetails,
        now: datetime,
        today: date,
        generation: int | None,
        reservations: list[ActivityKeyReserved],
    ) -> Outcome:
        key = details.natural_key()
        if generation is None:
            generation = len(professional.keys.get(key, []))
        self.check_programme(details)
        outcome = professional.record(details, now=now, today=today, generation=generation)
        if outcome.status == "recorded" and details.key_is_global:
            stream = uuid5(KEY_NAMESPACE, key)
            # A key is taken again only after a void (reading 13): rare, so its head is read here.
            head = self._head(stream, generation) if generation else None
            reservations.append(
                ActivityKeyReserved.sealed(
                    originator_id=stream,
                    originator_version=generation + 1,
                    previous_digest=head.digest if head else GENESIS,
                    recorded_at=now,
                    professional_id=professional.id,
                    activity_id=outcome.activity_id,
                )
            )
        return outcome

    def _record_into(
        self,
        professional: Professional,
        details: ActivityDetails,
        now: datetime,
        today: date,
        generation: int | None,
    ) -> Outcome:
        reservations: list[ActivityKeyReserved] = []
        outcome = self._record_activity(professional, details, now, today, generation, reservations)
        return self._saved(outcome, professional, *reservations)

    def _saved(self, outcome: Outcome, *objs: object) -> Outcome:
        """Save what the command triggered (if anything) and stamp the log position."""
        if outcome.status == "recorded":
            recordings = self.save(*objs)  # type: ignore[arg-type]
            return replace(outcome, position=max(r.notification.id for r in recordings))
        return replace(outcome, position=self.position())

    def _generation_for(self, pid: UUID, details: ActivityDetails) -> int | None:
        """After a clash on a global key: may this person take it, and as which generation?

        Reading 12: a certificate or platform record is one credit across everyone.
        Another person's live claim on it is a conflict; a voided one frees the key.
        """
        key = details.natural_key()
        held = list(self.events.get(uuid5(KEY_NAMESPACE, key), desc=True, limit=1))
        if not held:
            return None
        last: ActivityKeyReserved = held[0]  # type: ignore[assignment]
        if last.professional_id == pid:
            return None  # our own record moved on; reload and decide again
        holder = self.professional(last.professional_id)
        if holder.activities[last.activity_id].void is None:
            field = "record_id" if key.startswith("platform-record:") else "certificate_no"
            raise Conflict(
                field,
                f"{key} is already credited to another professional; one certificate or "
                "platform record is one credit (reading 12)",
            )
        return last.originator_version

    def _update(
        self, professional_id: UUID, command: Callable[[Professional, datetime, date], Outcome]
    ) -> Outcome:
        for attempt in _retrying():
            with attempt:
                professional = self.professional(professional_id)
                now, today = self._now()
                return self._saved(command(professional, now, today), professional)
        raise AssertionError("unreachable")  # pragma: no cover
