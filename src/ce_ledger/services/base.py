"""What every use case shares: the event store and its cache, the clock, the chain's
next link, retries, and who hears of a save.

A lost race (another writer saved the same version first) raises the library's
``IntegrityError``; commands retry from a fresh load, and a retried request finds its
own earlier write and reports a duplicate, so nothing is recorded twice.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import TopicError, resolve_topic, strtobool
import orjson
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ce_ledger.audit.verification import Break, Row, check_stream
from ce_ledger.domain.aggregate import Chained
from ce_ledger.domain.chain import GENESIS
from ce_ledger.domain.events import RECORD_EVENTS, ActivityKeyReserved, ActivityRecorded, LedgerEvent
from ce_ledger.domain.identity import professional_id
from ce_ledger.domain.values import uuid5
from ce_ledger.domain.professional import (
    PERSON_TERMS, NotARecord, Outcome, Professional, activity_term, generation_of, global_key_of, project_professional,
)
from ce_ledger.persistence import PYDANTIC_ENV
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.ruleset import Registry
from ce_ledger.storage import IndexRow, KeyClaim, LedgerRecorder
from ce_ledger.storage.repository import SharedCacheRepository

E = TypeVar("E", bound=LedgerEvent)
SaveSubscriber = Callable[[int], None]
log = logging.getLogger(__name__)
INDEX_PAGE = 2_000  # rows read (and index rows written) at a time while the index is built
# Records' heads this process wrote, kept for a process that writes its own share of the records
# (an import share: ``Records.record_batch(sole_writer=True)``): about 300 bytes each, 30 MB at most.
HEADS_KEPT = 100_000
KEY_NAMESPACE = UUID("0b5e8f43-8d0c-5e8e-b6a4-4f6f7e2d9c31")


@functools.lru_cache(maxsize=8192)  # pure; asked twice a recording (the read of the key's claims, the claim)
def key_stream(key: str) -> UUID:
    """The id of a globally unique key (canonical spelling): what its claims are filed under."""
    return uuid5(KEY_NAMESPACE, key)


def claim(key_id: UUID, version: int, professional_id: UUID, activity_id: UUID) -> KeyClaim:
    """A claim on a global key (``key_stream``), naming its activity and the term the activity's
    events are filed under: a read of the key finds them through it (``Store.in_part``)."""
    return KeyClaim(key_id, version, professional_id, activity_id, term_key(activity_term(activity_id)))


@functools.lru_cache(maxsize=8192)  # pure; an activity's own term is asked by its claim, then by its index row
def term_key(term: str) -> int:
    """A record-index term as a signed 64-bit number: small rows, one index. Two terms that
    share a number only make a command read an event it did not need, never miss one."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "big", signed=True)


@functools.lru_cache(maxsize=256)  # a handful of topics, asked once per record read
def _is_record_event(topic: str) -> bool:
    """Whether a stored event of this topic belongs on a professional's record."""
    try:
        return issubclass(resolve_topic(topic), RECORD_EVENTS)
    except (TopicError, TypeError):
        return False


def index_rows(aggregate: Chained) -> list[IndexRow]:
    """The record-index rows for what ``aggregate`` triggered and has not saved yet."""
    return [(aggregate.id, term_key(term), event.originator_version)
            for event in aggregate.pending() for term in aggregate.index_terms(event)]


_DIGEST = re.compile("[0-9a-f]{64}")


@functools.cache
def _field_names(kind: type) -> tuple[frozenset[str], frozenset[str]]:
    """A ledger event kind's fields, and those without a default (``Store._link``)."""
    fields = kind.model_fields  # type: ignore[attr-defined]  # AttributeError: not a ledger event
    return frozenset(fields), frozenset(n for n, f in fields.items() if f.is_required())


def utc_now() -> datetime:
    return datetime.now(UTC)


def retrying() -> Retrying:
    # Random backoff so that racing writers stop colliding; 30 tries is far past
    # what two-core contention needs, and a clear IntegrityError beats an endless loop.
    return Retrying(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(30),
        wait=wait_random_exponential(multiplier=0.002, max=0.1),
        reraise=True,
    )


class Events:
    """Loose events handed to ``save`` as one object: the library checks each object it
    is given against a runtime protocol, which cost more than the insert itself for a
    batch of hundreds of key reservations."""

    id = UUID(int=0)  # the library files each object it saves by id; these events name their own streams

    def __init__(self, events: Iterable[LedgerEvent], index: Sequence[IndexRow] = (), keys: Sequence[KeyClaim] = ()):
        self.events = list(events)
        self.index = list(index)  # record-index rows for these events (``index_rows``), if any
        self.keys = list(keys)  # claims on global keys the activities among them make, if any

    def collect_events(self) -> list[LedgerEvent]:
        return self.events


class Store(Application[UUID]):
    name = "ledger"
    env: ClassVar[dict[str, str]] = PYDANTIC_ENV
    recorder: LedgerRecorder  # type: ignore[assignment]  # chosen by PERSISTENCE_MODULE (ce_ledger.storage)

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
        self._subscribers: list[SaveSubscriber] = []
        self._secret_key = secret_key
        self._zone = ZoneInfo(timezone)
        self.clock = clock
        self.rule_sets = rule_sets
        # The last version and digest of the records this process saved (``written_heads``): None
        # until a batch asks for them, so that a server, whose workers share the records, keeps none.
        self._heads: OrderedDict[UUID, tuple[int, str]] | None = None
        self._heads_lock = threading.Lock()  # a server's threads save at once (a workbench import keeps heads)
        if not self.recorder.index_ready():
            self.build_index()  # works ``_claims_complete`` out as it builds
        else:
            self._claims_complete = self.recorder.claims_complete()

    def construct_repository(self) -> SharedCacheRepository:
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return SharedCacheRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(size) if size else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
        )

    @property
    def repository(self) -> SharedCacheRepository:
        return self._repository  # type: ignore[return-value]

    # -- after a save ----------------------------------------------------------------

    def subscribe(self, subscriber: SaveSubscriber) -> None:
        """Call ``subscriber(position)`` after every save, in the saving thread.

        The composition root subscribes the read side's catch-up here when the view is
        kept inline (SQLite, which has no subscriptions): a command then returns only
        once the view shows it.
        """
        self._subscribers.append(subscriber)

    def _notify(self, recordings: list) -> None:  # the library's hook after each save
        super()._notify(recordings)
        if recordings and self._subscribers:
            position = max(r.notification.id for r in recordings)
            for subscriber in self._subscribers:
                subscriber(position)

    def position(self) -> int:
        """The last position in the log: what a reader waits for after a duplicate."""
        return self.recorder.max_notification_id() or 0

    # -- time and identity ---------------------------------------------------------------

    def now(self) -> tuple[datetime, date]:
        """Transaction time in UTC, and "today" where the ledger's users live."""
        moment = self.clock()
        return moment, moment.astimezone(self._zone).date()

    def professional_id_for(self, id_number: str) -> UUID:
        """The stream id of a (validated, normalised) ID number; reads nothing."""
        return professional_id(id_number, self._secret_key)

    # -- reading streams -------------------------------------------------------------------

    def aggregate(self, stream: UUID, projector: Any, version: int | None = None, *, copy: bool = True) -> Any:
        """An aggregate now (from the shared cache, brought up to date) or at ``version``.

        Commands change what they load, so they get a private copy; read-only callers
        pass ``copy=False`` and share the cached one.
        """
        found = self.repository.get_shared(stream, projector, version)
        return deepcopy(found) if copy and version is None and self.repository.cache is not None else found

    def aggregates_now(self, streams: list[UUID], projector: Any) -> dict[UUID, Any]:
        """Many aggregates now, shared (do not change them): the cached ones brought up to date and
        the others read, all in one query (a verdict reads a dozen CE bases; one query each was a
        quarter of its time). A stream with no events is left out."""
        cached = {s: self.repository.cached(s) for s in streams}
        found = self.recorder.events_after({s: c.version if c is not None else 0 for s, c in cached.items()})
        to_domain = self.mapper.to_domain_event
        out: dict[UUID, Any] = {}
        for stream, known in cached.items():
            events = [to_domain(e) for e in found.get(stream, ())]  # type: ignore[arg-type]
            if events:  # never changed in place: a new object replaces the cache entry
                known = projector(deepcopy(known) if known is not None else None, events)
                self.repository.remember(stream, known)
            if known is not None:
                out[stream] = known
        return out

    def exists(self, stream: UUID) -> bool:
        return bool(self.recorder.select_events(stream, limit=1))

    def first(self, stream: UUID) -> LedgerEvent | None:
        found = list(self.events.get(stream, limit=1))
        return found[0] if found else None  # type: ignore[return-value]

    def head(self, stream: UUID, version: int | None = None) -> LedgerEvent | None:
        """A stream's last event (at or before ``version``): what the next event links to."""
        found = list(self.events.get(stream, lte=version, desc=True, limit=1))
        return found[0] if found else None  # type: ignore[return-value]

    def next_event(self, event_class: type[E], stream: UUID, **fields: Any) -> E:
        """The next event of a stream the application writes itself (an index, a key, a
        checkpoint), sealed after the stored head."""
        head = self.head(stream)
        return event_class.next_in_chain(stream, head.link if head else None, **fields)

    def chain_breaks(self, streams: dict[UUID, int | None]) -> list[Break]:
        """Every break in these streams' hash chains (up to the given versions), from the rows as
        stored: what a command that concludes from a record checks before it trusts it."""
        breaks: list[Break] = []
        plain = self.mapper.plain  # type: ignore[attr-defined]
        found = self.recorder.events_after({stream: 0 for stream in streams})  # every stream in one query
        for stream, version in streams.items():
            rows = [r for r in found.get(stream, ()) if version is None or r.originator_version <= version]
            breaks += check_stream(stream, (Row(r.originator_version, r.topic, plain(r.state)) for r in rows))[0]
        return breaks

    def in_part(
        self, wanted: dict[UUID, Sequence[str]], *, registration: bool = True, written: bool = False,
    ) -> dict[UUID, Professional | None]:
        """Records loaded in part for commands: per record, what the record index holds under
        the command's terms (``Professional.in_part``), in one query for them all. Its cost does
        not depend on how many activities a record holds. None: no such record.

        ``registration=False`` (recording activities, which decide nothing from the person): the
        registration is not read; that the stream is a record's is told by its head's kind.
        ``written`` (with it): a record wanted for no term whose head this process wrote
        (``written_heads``) is not read at all."""
        known: dict[UUID, tuple[int, str]] = {}
        if written and not registration and self._heads:
            with self._heads_lock:
                heads = self._heads
                known = {pid: heads[pid] for pid, terms in wanted.items() if not terms and pid in heads}
        asked = {pid: terms for pid, terms in wanted.items() if pid not in known}
        # A global key's activities on a record: those its claims by the record name (an activity
        # holding a claim files its recording under its own term only, ``activity_terms``), and
        # those filed under the key's own term, unless the store knows every such activity holds a
        # claim that names its term (``claims_complete``): then each is found through its claim,
        # decisions and voids too, and the key's term is one index probe a completion saved.
        hashes: dict[UUID, list[int]] = {}
        claimed: dict[UUID, list[UUID]] = {}
        for pid, terms in asked.items():
            keys = {t: k for t in terms if (k := global_key_of(t)) is not None}
            if keys:
                claimed[pid] = [key_stream(k) for k in keys.values()]
            hashes[pid] = [term_key(t) for t in terms if not (self._claims_complete and t in keys)]
        found = self.recorder.in_part(hashes, registration, claimed) if asked else {}
        to_domain = self.mapper.to_domain_event
        records: dict[UUID, Professional | None] = {}
        for pid in wanted:
            if pid in known:
                records[pid] = Professional.in_part([], known[pid], stream=pid)
                continue
            part = found.get(pid)
            try:
                if part is None or not (registration or _is_record_event(part.head.topic)):
                    records[pid] = None
                    continue
                events = [to_domain(e) for e in part.found]  # type: ignore[arg-type]
                head = events[-1].link if events and events[-1].originator_version == part.head.originator_version else (
                    self._link(part.head))
                records[pid] = Professional.in_part(events, head, person=PERSON_TERMS[0] in wanted[pid],
                                                    stream=None if registration else pid)
            except NotARecord:  # another kind's stream (a verdict id, say)
                records[pid] = None
        return records

    def _link(self, head: StoredEvent) -> tuple[int, str]:
        """What the next event of a stream links to, read from its head row: the version and the
        digest its JSON holds. The event is not decoded whole (a seventh of a completion's cost on
        the bulk path): the row must name a known event kind, hold that kind's fields and no
        other, and name this stream and version; any other row is decoded, so the mapper's own
        error is raised as before. Its field values are checked by ``verify``, as a decoded
        head's digest always was."""
        try:
            kind = resolve_topic(head.topic)
            doc = orjson.loads(self.mapper.plain(head.state))  # type: ignore[attr-defined]
            digest = doc["digest"]
            fields, required = _field_names(kind)
            if (doc["originator_version"] == head.originator_version and doc["originator_id"] == str(head.originator_id)
                    and isinstance(digest, str) and _DIGEST.fullmatch(digest) and required <= doc.keys() <= fields):
                return head.originator_version, digest
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, TopicError):
            pass
        event = self.mapper.to_domain_event(head)  # type: ignore[arg-type]
        # Another kind's stream may end in an event without a digest: the record check decides.
        return event.originator_version, getattr(event, "digest", GENESIS)

    def key_claims(self, key: str) -> list[KeyClaim]:
        """Every claim on a global key (canonical spelling), the first first."""
        return self.recorder.key_claims(key_stream(key))

    def build_index(self) -> None:
        """Fill the record index and the key claims from the events, for a store written before
        they existed or restored from a backup: stream by stream in key order, one record in
        memory at a time."""
        log.warning("building the record index from the stored events (once; a large store takes a while)")
        rows: list[IndexRow] = []
        claims: list[KeyClaim] = []
        stream: UUID | None = None
        record: Professional | None = None
        plain_ok = True
        recordings = 0  # under global keys: each should hold a claim of its own (``claims_complete``)
        for raw in self.recorder.raw_rows(INDEX_PAGE):
            if len(rows) + len(claims) >= INDEX_PAGE:  # whatever kind of stream filled them: bounded memory
                self.recorder.insert_index(rows, keys=claims)
                rows, claims = [], []
            if raw.originator_id != stream:
                stream, record, plain_ok = raw.originator_id, None, True
            try:
                event = self.mapper.to_domain_event(raw)  # type: ignore[arg-type]
            except Exception:  # a row the mapper refuses: the audit reports it; the record stops here
                plain_ok = False
                continue
            # Claims come from each event on its own, so that a record the projector refuses past
            # some row still has every key it took claimed (else a second person could take one).
            if isinstance(event, ActivityKeyReserved):  # a claim as a store written before December 2026 holds it
                claims.append(claim(stream, event.originator_version, event.professional_id, event.activity_id))
                continue
            recordings += isinstance(event, ActivityRecorded) and event.key_is_global
            claims += self._claims_made(stream, event)
            if not plain_ok:
                continue
            try:
                record = project_professional(record, [event])
            except Exception:  # not a record (a verdict's stream, say), or a broken one: the audit reports it
                plain_ok = False
                continue
            if record is not None:  # a rebuilt recording is filed under its key as well (``index_terms``)
                rows += [(stream, term_key(t), event.originator_version) for t in record.index_terms(event)]
        self.recorder.insert_index(rows, keys=claims, ready=True)
        # Complete if every recording under a global key holds a claim of its own, naming its term
        # (counted, not kept: the build's memory does not grow with the store).
        held, without_term = self.recorder.count_claims()
        self._claims_complete = held == recordings and without_term == 0
        self.recorder.insert_index((), complete=self._claims_complete)

    @staticmethod
    def _claims_made(stream: UUID, event: LedgerEvent) -> list[KeyClaim]:
        """The claim on a global key that recording this event made (none for other events)."""
        if not isinstance(event, ActivityRecorded) or not event.key_is_global:
            return []
        generation = generation_of(stream, event, event.activity_id)
        if generation is None:  # not an id this ledger makes: the audit reports the record
            log.warning("activity %s on %s: no claim on its key rebuilt (its id is not one this ledger makes)",
                        event.activity_id, stream)
            return []
        return [claim(key_stream(event.canonical_key()), generation + 1, stream, event.activity_id)]

    # -- saving ----------------------------------------------------------------------------

    def save(self, *objs: Any, keys: Sequence[KeyClaim] = (), **kwargs: Any) -> Any:
        """The library's save, with the record-index rows and the key claims of what is saved
        in the same transaction (a key another record holds fails it: IntegrityError)."""
        rows = [row for obj in objs for row in (obj.index if isinstance(obj, Events) else
                                                index_rows(obj) if isinstance(obj, Chained) else ())]
        if rows:
            kwargs["index"] = rows
        claims = [*keys, *(k for obj in objs if isinstance(obj, Events) for k in obj.keys)]
        if claims:
            kwargs["keys"] = claims
        recordings = super().save(*objs, **kwargs)
        if self._heads is not None:
            self._keep_heads([r.domain_event for r in recordings])
        return recordings

    # -- the heads of the records this process wrote ------------------------------------

    def written_heads(self) -> OrderedDict[UUID, tuple[int, str]]:
        """The heads (version, digest) of the records this process has saved since it first asked
        (asking starts the keeping), the oldest dropped past HEADS_KEPT. A head another writer has
        moved on since is never trusted blindly: the next event sealed after it takes a version
        already stored, the save fails (IntegrityError) and the caller forgets the head
        (``forget_heads``) and reads it. A store that goes back under a running process (a
        backup restored into it) would not be noticed: restore with every writer stopped."""
        if self._heads is None:
            self._heads = OrderedDict()
        return self._heads

    def forget_heads(self, streams: Iterable[UUID]) -> None:
        if self._heads is not None:
            with self._heads_lock:
                for stream in streams:
                    self._heads.pop(stream, None)

    def _keep_heads(self, events: Sequence[Any]) -> None:
        heads = self._heads
        assert heads is not None
        # Each stream's last event (a batch saves several a record): a record's own stream only
        # (``in_part`` serves records).
        last = {event.originator_id: event for event in events if isinstance(event, RECORD_EVENTS)}
        with self._heads_lock:
            for stream, event in last.items():
                heads[stream] = event.link
                heads.move_to_end(stream)  # the oldest first
            # An OrderedDict: a plain dict's first entry, after many taken from the front, is found
            # by scanning past the holes they left, which grows with the entries kept.
            while len(heads) > HEADS_KEPT:
                heads.popitem(last=False)

    def _after_recorded(self, professional_id: UUID, details: Any, outcome: Outcome) -> Outcome:
        """After an activity is recorded: services.filings settles a claim its base filed already."""
        return outcome

    def _after_recorded_batch(self, done: Sequence[tuple[UUID, Any, Outcome]]) -> list[Outcome]:
        """``_after_recorded`` for each activity a batch recorded (services.filings reads their
        filings in one query)."""
        return [self._after_recorded(pid, details, outcome) for pid, details, outcome in done]

    def save_outcome(self, outcome: Outcome, *objs: Any, keys: Sequence[KeyClaim] = ()) -> Outcome:
        """Save what the command triggered (if anything) and stamp the log position."""
        if outcome.status == "recorded":
            recordings = self.save(*objs, keys=keys)
            return replace(outcome, position=max(r.notification.id for r in recordings))
        return replace(outcome, position=self.position())


__all__ = ["AggregateNotFoundError", "Events", "IntegrityError", "KeyClaim", "Store", "key_stream", "retrying", "utc_now"]
