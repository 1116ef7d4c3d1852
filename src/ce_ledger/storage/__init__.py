"""The storage adapters: the only code that speaks SQL to the library's tables or
touches the library's private members.

The store is chosen through the library's own setting, ``PERSISTENCE_MODULE``:
``ce_ledger.storage.sqlite`` or ``ce_ledger.storage.postgres`` (``config.py`` sets
it from ``CE_LEDGER_DATABASE_URL``). Each module's factory makes the library's own
recorders, subclassed with the few reads and writes the ledger needs that the
library has no call for:

- ``events_after``: many streams after given versions in one query (a batch of
  completions touches hundreds of records);
- ``events_at``: single events by stream and version, in one query (the read side
  keeps where each activity's events are, not the events);
- ``log_page``: a page of the log with only the columns a projection reads, split
  by stream for a rebuild in several processes;
- ``raw_rows``, ``heads``, ``count_events``: rows exactly as stored, for the audit,
  which must see rows the mapper would refuse;
- ``insert_with_positions``: a restore keeps each row's log position;
- the **record index** (``<events table>_index``): which versions of a stream concern a
  term (an activity, a retry key, a day of teaching), written in the same transaction as
  the events through the library's ``_insert_events`` hook (``save(…, index=rows)``), and
  read by ``in_part``: what one command needs of a record, whatever the record's depth.
  It is derived from the events and rebuilt from them (``index_ready``/``insert_index``);
- the **key claims** (``<events table>_keys``): who holds each globally unique key (a
  platform record id, a certificate; reading 12), one row per claim, unique by key and
  claim number, written in the same transaction as the activity (``save(…, keys=claims)``)
  so that two people can never both hold one; read by ``key_claims``, and by ``in_part``, which
  finds a key's activities on a record through the record's claims (each names the index term of
  its activity, whose recording is not filed under the key; ``<events table>_keys_complete`` says
  whether every such activity holds a claim with its term, so that the key's own term need not be
  read). Derived from the
  activities and rebuilt with the record index. (Until December 2026 each claim was an
  ``ActivityKeyReserved`` event on the key's own stream: a second event per activity.
  Stores written then keep those events, which say the same as the rows built beside them.)
- the **log tree** (``<events table>_tree`` and ``_chunks``): the stored hashes of complete
  subtrees of the log's Merkle tree (``audit.tree``) and where each chunk of 16 leaves
  lies in the log, so that a checkpoint hashes only new rows and a proof reads O(log n)
  hashes; ``log_rows`` reads the log in position order, ``head_at`` a stream's head at
  a position.

Everything else goes through the library's public API. ``repository.py`` holds the
one use of the library's private members (its fast-forward locks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent


class LogRow(NamedTuple):
    """What a projection reads of a notification (the library's ``Notification`` has the same names)."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class RawRow(NamedTuple):
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class Head(NamedTuple):
    originator_id: UUID
    originator_version: int
    state: bytes


IndexRow = tuple[UUID, int, int]  # stream, term (a 64-bit hash, services.base.term_key), version


class KeyClaim(NamedTuple):
    """A claim on a globally unique key: the key's id (``services.base.key_stream``), the claim's
    number (1, then one more each time a void freed the key and someone took it), its holder,
    and the record-index term its activity's events are filed under (``services.base.claim``).
    A read of the key on the holder's record finds the activity by that term (``in_part``),
    because the recording is not filed under the key. Claims written before December 2026 have
    no term; their activities were filed under the key."""

    key_id: UUID
    version: int
    professional_id: UUID
    activity_id: UUID
    activity_term: int | None = None


class InPart(NamedTuple):
    """What ``in_part`` found of one stream: version 1 (unless not asked for) and the indexed
    versions, in order; the head."""

    found: list[StoredEvent]
    head: StoredEvent


TreeRow = tuple[int, int, bytes]  # level, index, hash of a complete subtree (audit.tree)
ChunkRow = tuple[int, int, int]  # chunk index, first and last log position of its 16 leaves


class LedgerRecorder(Protocol):
    """What the ledger asks of a store beyond the library's ``ApplicationRecorder``."""

    partitionable: bool

    def events_after(self, versions: dict[UUID, int]) -> dict[UUID, list[StoredEvent]]: ...

    def events_at(self, keys: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], StoredEvent]: ...

    def log_end(self) -> int: ...

    def log_page(
        self, after: int, stop: int, topics: Sequence[str], limit: int, part: tuple[int, int] = (0, 1)
    ) -> list[LogRow]: ...

    def raw_rows(self, page: int) -> Iterator[RawRow]: ...

    def stream_rows(
        self, stop: int, topics: Sequence[str], page: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[LogRow]: ...

    def heads(self, position: int) -> list[Head]: ...

    def count_events(self) -> int: ...

    def insert_with_positions(self, rows: list[tuple[int, UUID, int, str, bytes]]) -> None: ...

    def in_part(
        self, wanted: dict[UUID, list[int]], registration: bool = True, claimed: dict[UUID, list[UUID]] | None = None,
    ) -> dict[UUID, InPart]: ...

    def index_ready(self) -> bool: ...

    def log_rows(self, after: int, stop: int, limit: int) -> list[LogRow]: ...

    def head_at(self, stream: UUID, position: int) -> LogRow | None: ...

    def tree_hash(self, level: int, index: int) -> bytes | None: ...

    def tree_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...

    def rows_between(self, after: int, before: int) -> int: ...

    def tree_end(self) -> ChunkRow | None: ...

    def chunk_at(self, position: int) -> ChunkRow | None: ...

    def chunk(self, index: int) -> ChunkRow | None: ...

    def insert_tree(self, nodes: Sequence[TreeRow], chunks: Sequence[ChunkRow]) -> None: ...

    def insert_index(
        self, rows: Sequence[IndexRow], *, keys: Sequence[KeyClaim] = (), ready: bool = False, complete: bool | None = None,
    ) -> None: ...

    def count_claims(self) -> tuple[int, int]:
        """How many claims there are, and how many of them name no term."""
        ...

    def claims_complete(self) -> bool:
        """Whether every activity under a global key holds a claim that names its term (a new
        store; or one whose index was built and found no activity without a claim): a read of such
        a key then finds everything through the claims, and need not read the key's own term."""
        ...

    def key_claims(self, key_id: UUID) -> list[KeyClaim]: ...


def as_bytes(state: object) -> bytes:
    # A row edited by hand with SQLite's text functions comes back as text, not a blob.
    return state.encode() if isinstance(state, str) else bytes(state)  # type: ignore[arg-type]


class StreamByStream:
    """The ledger's reads through the library's public calls, for stores where a query costs
    no round trip (SQLite, memory): stream by stream, and the library's own log pages."""

    partitionable = False

    def events_after(self, versions: dict[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        return {stream: list(self.select_events(stream, gt=version)) for stream, version in versions.items()}  # type: ignore[attr-defined]

    def events_at(self, keys: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], StoredEvent]:
        found = {}
        for stream, version in keys:
            for event in self.select_events(stream, gt=version - 1, lte=version):  # type: ignore[attr-defined]
                found[stream, version] = event
        return found

    def log_end(self) -> int:
        return self.max_notification_id() or 0  # type: ignore[attr-defined]

    def stream_rows(
        self, stop: int, topics: Sequence[str], page: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[LogRow]:
        """The log up to ``stop`` stream by stream (a rebuild keeps one group of whole streams in
        memory at a time); here, from the log in position order, sorted (memory and tests)."""
        if part != (0, 1):
            raise ValueError("part: only PostgreSQL pages are split by stream")
        rows = [r for r in self.log_page(0, stop, topics, max(stop, 1))]
        yield from sorted(rows, key=lambda r: (r.originator_id, r.originator_version))

    def in_part(
        self, wanted: dict[UUID, list[int]], registration: bool = True, claimed: dict[UUID, list[UUID]] | None = None,
    ) -> dict[UUID, InPart]:
        found: dict[UUID, InPart] = {}
        for stream, terms in wanted.items():
            head = self.select_events(stream, desc=True, limit=1)  # type: ignore[attr-defined]
            if head:
                keys = (claimed or {}).get(stream)
                indexed = self._indexed(stream, terms) if terms else set()  # a head alone may be wanted
                indexed |= self._claimed(stream, keys) if keys else set()
                versions = sorted(indexed | {1} if registration else indexed)
                found[stream] = InPart(self._versions(stream, versions), head[0])
        return found

    def _indexed(self, stream: UUID, terms: list[int]) -> set[int]:
        raise NotImplementedError

    def _claimed(self, stream: UUID, keys: list[UUID]) -> set[int]:
        """The versions filed under the terms of the activities that ``stream``'s claims on ``keys`` name."""
        raise NotImplementedError

    def _versions(self, stream: UUID, versions: list[int]) -> list[StoredEvent]:
        got = self.events_at((stream, v) for v in versions)
        return [got[stream, v] for v in versions if (stream, v) in got]

    def log_page(
        self, after: int, stop: int, topics: Sequence[str], limit: int, part: tuple[int, int] = (0, 1)
    ) -> list[LogRow]:
        if part != (0, 1):
            raise ValueError("part: only PostgreSQL pages are split by stream")
        return [
            LogRow(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in self.select_notifications(  # type: ignore[attr-defined]
                start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
            )
        ]


def creating(env: dict[str, str]) -> AbstractContextManager[None]:
    """Held while a process builds every store it needs (``bootstrap.build_services``): on
    PostgreSQL the schema's creation lock, taken once for all of them (see ``LockedCreation``)."""
    if env.get("PERSISTENCE_MODULE") == "ce_ledger.storage.postgres":
        from ce_ledger.storage.postgres import creating as on_postgres  # psycopg: only on PostgreSQL

        return on_postgres(env)
    return nullcontext()


class LockedCreation:
    """A factory whose recorders create their tables one process at a time (``creation_lock``):
    the library's "create if not exists" is not atomic, and processes started together on a
    new store (a server and a projection worker, say) clashed."""

    def _creation_lock(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _creating(self) -> AbstractContextManager[None]:
        # Only where this process creates tables (a rebuild's helpers do not, and must not
        # wait for the lock their parent holds while it rebuilds).
        return self._creation_lock() if self.env_create_table() else nullcontext()  # type: ignore[attr-defined]

    def application_recorder(self) -> Any:
        with self._creating():
            return super().application_recorder()  # type: ignore[misc]

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> Any:
        with self._creating():
            return super().tracking_recorder(tracking_recorder_class)  # type: ignore[misc]
