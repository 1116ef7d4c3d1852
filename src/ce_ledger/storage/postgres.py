"""The PostgreSQL adapter (``PERSISTENCE_MODULE=ce_ledger.storage.postgres``).

The library's recorders, with the ledger's extra queries against the library's own
events and tracking tables (see ``ce_ledger.storage``). Statements that read ranges
are not prepared: a generic plan for them sorts instead of walking the index.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from itertools import repeat
from typing import Any
from uuid import UUID

from eventsourcing import postgres as library
from eventsourcing.persistence import StoredEvent, Tracking
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from ce_ledger.storage import (
    ChunkRow, Head, IndexRow, InPart, KeyClaim, LockedCreation, LogRow, RawRow, TreeRow, as_bytes,
)


# -- arrays sent in binary ----------------------------------------------------------------
# Every write and every in-part read sends its rows as columns (``unnest`` of arrays). psycopg
# dumps a list element by element in Python (its array dumper finds a dumper per element): a
# fifth of a batch's own CPU on the bulk path. These wrappers carry a column whose element type
# is known, and their dumpers write PostgreSQL's binary array format in one pass.

class UuidArray(list):
    """A ``uuid[]`` parameter."""


class BigintArray(list):
    """A ``bigint[]`` parameter."""


class IntArray(list):
    """An ``integer[]`` parameter."""


def _array_header(element_oid: int, n: int) -> bytes:
    # One dimension, no NULLs, the element type, then the dimension's length and lower bound.
    return struct.pack("!iiiii", 1, 0, element_oid, n, 1)


class _UuidArrayDumper(Dumper):
    format = Format.BINARY
    oid = 2951  # uuid[]

    def dump(self, obj: list[UUID]) -> bytes:
        # ``int.to_bytes`` rather than the ``bytes`` property, which adds a Python call per element.
        return _array_header(2950, len(obj)) + b"".join([b"\0\0\0\x10" + u.int.to_bytes(16) for u in obj])


class _IntegersDumper(Dumper):
    format = Format.BINARY
    element_oid, size, code = 0, 0, ""

    def dump(self, obj: list[int]) -> bytes:
        # Each element its length, then its value: packed pairwise in C (half the cost of one
        # format string over a flattened list).
        pair = _PAIRS[self.code]
        return _array_header(self.element_oid, len(obj)) + b"".join(map(pair, repeat(self.size, len(obj)), obj))


_PAIRS = {code: struct.Struct(f"!i{code}").pack for code in "iq"}


class _BigintArrayDumper(_IntegersDumper):
    oid, element_oid, size, code = 1016, 20, 8, "q"  # int8[] of int8


class _IntArrayDumper(_IntegersDumper):
    oid, element_oid, size, code = 1007, 23, 4, "i"  # int4[] of int4


for _wrapper, _dumper in ((UuidArray, _UuidArrayDumper), (BigintArray, _BigintArrayDumper), (IntArray, _IntArrayDumper)):
    psycopg.adapters.register_dumper(_wrapper, _dumper)


@contextmanager
def _synced_on_error(curs: Any) -> Iterator[None]:
    """A statement's error in the write transaction's pipeline is raised by psycopg at whichever
    later statement reads results, before the library's own sync: the pipeline is then still
    aborted, and the library, which keeps the error to raise after the pipeline, commits into it
    — "pipeline aborted" (an OperationalError it retries, 0.2 s each time) would hide the clash.
    Synced here, the clash goes up as the library's own path raises it: IntegrityError."""
    try:
        yield
    except psycopg.Error:
        with suppress(psycopg.Error), curs.connection.pipeline() as pipeline:
            pipeline.sync()
        raise


def _index_order(row: IndexRow) -> tuple[int, int, int]:
    return row[0].int, row[1], row[2]  # numbers compare in C, UUIDs in Python: 0.36 against 1.2 ms a batch of 500


def _claim_order(claim: KeyClaim) -> tuple[int, int]:
    return claim.key_id.int, claim.version


class LedgerRecorder(library.PostgresApplicationRecorder):
    partitionable = True  # pages can be split by stream in the query

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.datastore.enable_db_functions:
            # The library's stored function inserts without our writers' lock and index rows.
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS is not supported: the ledger inserts its own rows")
        t = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._table = t
        self._events_after = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%b::uuid[], %b::bigint[]) AS k(id, after) "
            "JOIN {t} e ON e.originator_id = k.id AND e.originator_version > k.after "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(t=t)
        self._events_at = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%b::uuid[], %b::bigint[]) AS k(id, version) "
            "JOIN {t} e ON e.originator_id = k.id AND e.originator_version = k.version"
        ).format(t=t)
        self._log_page = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {t} "
            "WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s) "
            "AND get_byte(uuid_send(originator_id), 15) %% %s = %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(t=t)
        self._raw_page = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {t} "
            "WHERE (originator_id, originator_version) > (%s, %s) "
            "ORDER BY originator_id, originator_version LIMIT %s"
        ).format(t=t)
        self._count = SQL("SELECT count(*) FROM {t}").format(t=t)
        self._stream_rows = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {t} "
            "WHERE (originator_id, originator_version) > (%s, %s) AND notification_id <= %s AND topic = ANY(%s) "
            "AND get_byte(uuid_send(originator_id), 15) %% %s = %s "
            "ORDER BY originator_id, originator_version LIMIT %s"
        ).format(t=t)
        # The library's insert, with the rows sent as plain arrays in binary rather than one array of
        # a composite type (which psycopg dumps in Python, escaping every field as text), and the
        # payloads as one bytea cut by offsets: PostgreSQL took about 40 µs per element to take a
        # bytea[] of stored payloads apart, against 6 µs to cut one blob (bench_depth, 2 cores).
        self._insert_plain = SQL(
            "INSERT INTO {t} (originator_id, originator_version, topic, state) "
            "SELECT r.id, r.version, (%b::text[])[r.topic], substring(%b::bytea FROM r.start FOR r.size) "
            "FROM unnest(%b::uuid[], %b::integer[], %b::integer[], %b::integer[], %b::integer[]) "
            "WITH ORDINALITY AS r(id, version, topic, start, size, n) ORDER BY r.n RETURNING notification_id"
        ).format(t=t)
        writer_key = zlib.crc32(f"ce-ledger/insert/{self.datastore.schema}.{self.events_table_name}".encode())
        self._writer_lock = [
            SQL("SET LOCAL lock_timeout = '{}s'").format(self.datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock({})").format(writer_key & 0x7FFFFFFF),
        ]
        # The record index (see ce_ledger.storage): created with the events table.
        i = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"{self.events_table_name}_index"))
        i_state = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                      Identifier(f"{self.events_table_name}_index_state"))
        self._index, self._index_state = i, i_state
        keys = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"{self.events_table_name}_keys"))
        keys_state = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                         Identifier(f"{self.events_table_name}_keys_state"))
        keys_complete = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                            Identifier(f"{self.events_table_name}_keys_complete"))
        self._keys, self._keys_state, self._keys_complete = keys, keys_state, keys_complete
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {i} (stream_id uuid, term bigint, version integer, "
                "PRIMARY KEY (stream_id, term, version))").format(i=i),
            SQL("CREATE TABLE IF NOT EXISTS {s} (ready boolean NOT NULL)").format(s=i_state),
            # A new store's index is complete; one made before the index existed is built from
            # its events when the application starts (services.base).
            SQL("INSERT INTO {s} SELECT NOT EXISTS (SELECT 1 FROM {t}) "
                "WHERE NOT EXISTS (SELECT 1 FROM {s})").format(s=i_state, t=t),
            # The key claims (see ce_ledger.storage), made ready the same way.
            SQL("CREATE TABLE IF NOT EXISTS {k} (key_id uuid, version integer, professional_id uuid, "
                "activity_id uuid, activity_term bigint, PRIMARY KEY (key_id, version))").format(k=keys),
            SQL("CREATE TABLE IF NOT EXISTS {s} (ready boolean NOT NULL)").format(s=keys_state),
            SQL("INSERT INTO {s} SELECT NOT EXISTS (SELECT 1 FROM {t}) "
                "WHERE NOT EXISTS (SELECT 1 FROM {s})").format(s=keys_state, t=t),
            # Claims made before they named their activity's term (``KeyClaim``) have none. Altered
            # only when the column is missing: ALTER TABLE takes the table's strongest lock even when
            # there is nothing to add, so a process starting beside writers queued behind a writer's
            # claims while holding the library's lock on the events table (its CREATE INDEX IF NOT
            # EXISTS), which that writer's events insert then waited for: a deadlock. Adding the
            # column, the claims are built again at this start, each given its term.
            SQL("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = {s} "
                "AND table_name = {n} AND column_name = 'activity_term') THEN "
                "ALTER TABLE {k} ADD COLUMN activity_term bigint; UPDATE {ks} SET ready = false; END IF; END $$").format(
                k=keys, ks=keys_state, s=Literal(self.datastore.schema), n=Literal(f"{self.events_table_name}_keys")),
            # Whether every claim names its term and every global key's activity holds one
            # (``claims_complete``): so in a new store; in one written before, once the index is built.
            SQL("CREATE TABLE IF NOT EXISTS {c} (complete boolean NOT NULL)").format(c=keys_complete),
            SQL("INSERT INTO {c} SELECT NOT EXISTS (SELECT 1 FROM {t}) "
                "WHERE NOT EXISTS (SELECT 1 FROM {c})").format(c=keys_complete, t=t),
        ]
        # A claim is inserted plainly: one already taken fails the whole transaction (IntegrityError).
        self._insert_claims = SQL(
            "INSERT INTO {k} (key_id, version, professional_id, activity_id, activity_term) "
            "SELECT * FROM unnest(%b::uuid[], %b::integer[], %b::uuid[], %b::uuid[], %b::bigint[])"
        ).format(k=keys)
        self._key_claims = SQL(
            "SELECT key_id, version, professional_id, activity_id, activity_term FROM {k} WHERE key_id = %s "
            "ORDER BY version"
        ).format(k=keys)
        tree = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"{self.events_table_name}_tree"))
        chunks = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"{self.events_table_name}_chunks"))
        self._tree, self._chunks = tree, chunks
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {} (level integer, idx bigint, hash bytea, "
                "PRIMARY KEY (level, idx))").format(tree),
            SQL("CREATE TABLE IF NOT EXISTS {} (idx bigint PRIMARY KEY, first_position bigint UNIQUE, "
                "last_position bigint)").format(chunks),
        ]
        self._log_rows = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {t} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(t=t)
        self._head_at = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {t} "
            "WHERE originator_id = %s AND notification_id <= %s ORDER BY originator_version DESC LIMIT 1"
        ).format(t=t)
        # Plain on the write path: the rows are for versions this transaction inserts, so none can
        # exist yet (two terms of one event that hash alike are made one row first). An
        # ``ON CONFLICT DO NOTHING`` insert costs a speculative insertion per row: 6.8 against
        # 4.9 µs a row (a store of 300,000 events, 1,000 rows a statement). Building the index from
        # stored events may meet rows already there, and keeps it (``insert_index``).
        self._insert_index_rows = SQL(
            "INSERT INTO {i} SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::integer[])"
        ).format(i=i)
        # Per stream: version 1 and the versions indexed under the wanted terms ('f'), and the head ('h');
        # without version 1 for a command that decides nothing from the registration (recording an
        # activity): it was one more index descent and heap page per record, and a decode. The head
        # is read in one descent of the primary key (its last entry), not found by max() and then
        # read again: 3,500 buffers for 500 records, not 5,500 — pages a store larger than memory
        # reads from disk.
        def in_part(versions: str) -> Composed:
            return SQL(
                "WITH w AS (SELECT * FROM unnest(%b::uuid[], %b::bigint[]) AS w(id, term)), "
                "s AS (SELECT * FROM unnest(%b::uuid[]) AS s(id)), "
                "c AS (SELECT * FROM unnest(%b::uuid[], %b::uuid[]) AS c(id, key)) "
                "SELECT 'f' AS role, e.originator_id, e.originator_version, e.topic, e.state "
                "FROM ({versions}) v JOIN {t} e ON e.originator_id = v.id AND e.originator_version = v.version "
                "UNION ALL "
                "SELECT 'h', h.* FROM s CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state "
                "FROM {t} e WHERE e.originator_id = s.id ORDER BY originator_version DESC LIMIT 1) h "
                "ORDER BY 2, 3"
            ).format(t=t, versions=SQL(versions).format(i=i, k=keys))

        # Under the wanted terms, and under the terms that the record's claims on the wanted keys name
        # (a key's activity holding a claim files its recording under its own term only: ``KeyClaim``).
        indexed = ("SELECT i.stream_id AS id, i.version FROM {i} i JOIN w ON i.stream_id = w.id AND i.term = w.term "
                   "UNION SELECT i.stream_id, i.version FROM c JOIN {k} k ON k.key_id = c.key AND k.professional_id = c.id "
                   "JOIN {i} i ON i.stream_id = c.id AND i.term = k.activity_term")
        self._in_part = {
            True: in_part(f"{indexed} UNION SELECT id, 1 FROM s"),
            False: in_part(indexed),
        }
        self._heads = SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, state FROM {t} "
            "WHERE notification_id <= %s ORDER BY originator_id, originator_version DESC"
        ).format(t=t)

    def _fetch(self, query: Composed, params: Sequence[Any], binary: bool = False) -> list[tuple]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(query, params, prepare=False, binary=binary)
            return curs.fetchall()

    def events_after(self, versions: dict[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        """The events of many streams after given versions, joined in one query."""
        found: dict[UUID, list[StoredEvent]] = {}
        for oid, version, topic, state in self._fetch(self._events_after, (list(versions), list(versions.values()))):
            found.setdefault(oid, []).append(StoredEvent(oid, version, topic, bytes(state)))
        return found

    def events_at(self, keys: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], StoredEvent]:
        """Single events by (stream, version), joined in one query."""
        keys = list(keys)
        rows = self._fetch(self._events_at, ([k[0] for k in keys], [k[1] for k in keys])) if keys else []
        return {(oid, version): StoredEvent(oid, version, topic, bytes(state)) for oid, version, topic, state in rows}

    def log_end(self) -> int:
        return self.max_notification_id() or 0

    # -- the record index ------------------------------------------------------------

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library's hook before its insert, in the same transaction and pipeline: the rows
        # derived from the events (the record index, the key claims), before the writers' lock.
        # The lock is held from the events' positions being issued to the commit, and a writer
        # that waits for it waits idle with its backend; these rows were two thirds of the time it
        # was held. Taken out of it, two import processes record 11 % more (A/B, six pairs, every
        # pair). No deadlock: every writer inserts its rows in one order (sorted, index rows before
        # claims; ``insert_index`` too), and the lock's holder waits for no row (only it inserts
        # events). Two writers deciding on the same record head meet on an index row they share,
        # or on the event's version after the lock: IntegrityError either way; a claim already
        # taken fails the same way. Nothing here or after it is prepared: a statement skipped in
        # an aborted pipeline is one psycopg may have counted as prepared ("prepared statement …
        # does not exist" at its next use). The lock timeout is set first, so that it bounds a
        # wait for another writer's rows too.
        rows, claims = kwargs.get("index", ()), kwargs.get("keys", ())
        with _synced_on_error(curs):
            curs.execute(self._writer_lock[0], prepare=False)  # SET LOCAL lock_timeout
            if rows:  # two terms of one event that hash alike are made one row
                curs.execute(self._insert_index_rows, self._columns(sorted(set(rows), key=_index_order)),
                             binary=True, prepare=False)
            if claims:
                curs.execute(self._insert_claims, self._claim_columns(sorted(claims, key=_claim_order)),
                             binary=True, prepare=False)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library's insert, in its transaction and pipeline, after the derived rows
        # (``_insert_events``); the library reads the new positions from this cursor's last statement.
        # A clash of those rows may surface at any statement here (psycopg raises a pipeline's
        # error at the next one that reads results), so all of them are guarded the same way.
        with _synced_on_error(curs):
            # One writer at a time, so positions commit in the order they were issued (the timeout is set).
            self._lock_table(curs, timeout=False)
            self._notify_channel(curs)
            topics: dict[str, int] = {}
            starts, sizes, at = [], [], 1
            for e in stored_events:
                starts.append(at)
                sizes.append(len(e.state))
                at += len(e.state)
            codes = [topics.setdefault(e.topic, len(topics) + 1) for e in stored_events]
            curs.execute(self._insert_plain, (
                list(topics), b"".join(e.state for e in stored_events),
                UuidArray([e.originator_id for e in stored_events]), IntArray([e.originator_version for e in stored_events]),
                IntArray(codes), IntArray(starts), IntArray(sizes),
            ), binary=True, prepare=False)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any,
    ) -> list[int]:
        # The library's, with the new positions read as tuples rather than a dict per row.
        curs.row_factory = tuple_row
        return [row[0] for row in curs.fetchall()]

    def _notify_channel(self, curs: Any) -> None:
        # The library's NOTIFY, never prepared: it follows statements that may fail (``_insert_events``).
        curs.execute(SQL("NOTIFY {0}").format(Identifier(self.channel_name)), prepare=False)

    def _lock_table(self, curs: Any, *, timeout: bool = True) -> None:
        # The library serialises writers with LOCK TABLE … IN EXCLUSIVE MODE, which also waits for
        # (auto)vacuum and analyze of the table (SHARE UPDATE EXCLUSIVE): a writer then stalled until
        # the analyze ended or, after deadlock_timeout (1 s), PostgreSQL cancelled the autovacuum —
        # the one-second verdicts of the scale runs. Every insert into this table comes through
        # this recorder (a restore too; the library's stored insert function is refused at start),
        # so a transaction-level advisory lock of its own gives the same order
        # (issued, then committed, one transaction at a time) without waiting for maintenance.
        for statement in self._writer_lock if timeout else self._writer_lock[1:]:
            curs.execute(statement, prepare=False)  # after statements that may fail (``_insert_events``)

    @staticmethod
    def _columns(rows: Sequence[IndexRow]) -> tuple[list, list, list]:
        return UuidArray([r[0] for r in rows]), BigintArray([r[1] for r in rows]), IntArray([r[2] for r in rows])

    @staticmethod
    def _claim_columns(claims: Sequence[KeyClaim]) -> tuple[list, list, list, list, list]:
        return (UuidArray([c[0] for c in claims]), IntArray([c[1] for c in claims]), UuidArray([c[2] for c in claims]),
                UuidArray([c[3] for c in claims]), BigintArray(terms) if None not in (terms := [c[4] for c in claims])
                else terms)  # a claim without a term (``KeyClaim``): psycopg's own list, which has NULLs

    def insert_index(
        self, rows: Sequence[IndexRow], *, keys: Sequence[KeyClaim] = (), ready: bool = False, complete: bool | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            # In the writers' order (``_insert_events``): a build beside a writer cannot deadlock with it.
            if rows:
                curs.execute(self._insert_index_rows + SQL(" ON CONFLICT DO NOTHING"),
                             self._columns(sorted(rows, key=_index_order)), binary=True)
            if keys:  # a claim already there is kept, and given its term if it had none
                once: dict = {}  # an update may not meet its row twice; the first kept, as SQLite keeps it
                for c in keys:
                    once.setdefault((c.key_id, c.version), c)
                curs.execute(self._insert_claims + SQL(
                    " ON CONFLICT (key_id, version) DO UPDATE SET activity_term = EXCLUDED.activity_term "
                    "WHERE {k}.activity_term IS NULL").format(k=self._keys),
                    self._claim_columns(sorted(once.values(), key=_claim_order)), binary=True)
            if ready:
                curs.execute(SQL("UPDATE {} SET ready = true").format(self._index_state))
                curs.execute(SQL("UPDATE {} SET ready = true").format(self._keys_state))
            if complete is not None:
                curs.execute(SQL("UPDATE {} SET complete = %s").format(self._keys_complete), (complete,))

    def index_ready(self) -> bool:
        rows = self._fetch(SQL("SELECT (SELECT bool_and(ready) FROM {}) AND (SELECT bool_and(ready) FROM {})")
                           .format(self._index_state, self._keys_state), ())
        return bool(rows and rows[0][0])

    def count_claims(self) -> tuple[int, int]:
        rows = self._fetch(SQL("SELECT count(*), count(*) - count(activity_term) FROM {}").format(self._keys), ())
        return rows[0][0], rows[0][1]

    def claims_complete(self) -> bool:
        rows = self._fetch(SQL("SELECT bool_and(complete) FROM {}").format(self._keys_complete), ())
        return bool(rows and rows[0][0])

    def key_claims(self, key_id: UUID) -> list[KeyClaim]:
        return [KeyClaim(*row) for row in self._fetch(self._key_claims, (key_id,))]

    # -- the log tree ------------------------------------------------------------------

    def log_rows(self, after: int, stop: int, limit: int) -> list[LogRow]:
        return [LogRow(i, o, v, t, bytes(s)) for i, o, v, t, s in self._fetch(self._log_rows, (after, stop, limit))]

    def head_at(self, stream: UUID, position: int) -> LogRow | None:
        rows = self._fetch(self._head_at, (stream, position))
        return LogRow(rows[0][0], rows[0][1], rows[0][2], rows[0][3], bytes(rows[0][4])) if rows else None

    def tree_hash(self, level: int, index: int) -> bytes | None:
        rows = self._fetch(SQL("SELECT hash FROM {} WHERE level = %s AND idx = %s").format(self._tree), (level, index))
        return bytes(rows[0][0]) if rows else None

    def tree_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        rows = self._fetch(SQL("SELECT t.level, t.idx, t.hash FROM unnest(%s::integer[], %s::bigint[]) AS k(level, idx) "
                               "JOIN {} t ON t.level = k.level AND t.idx = k.idx").format(self._tree),
                           ([k[0] for k in keys], [k[1] for k in keys]))
        return {(level, idx): bytes(h) for level, idx, h in rows}

    def rows_between(self, after: int, before: int) -> int:
        return self._fetch(SQL("SELECT count(*) FROM {} WHERE notification_id > %s AND notification_id < %s")
                           .format(self._table), (after, before))[0][0]

    def _chunk_row(self, where: str, params: Sequence[Any]) -> ChunkRow | None:
        rows = self._fetch(SQL("SELECT idx, first_position, last_position FROM {} ").format(self._chunks) + SQL(where),
                           params)
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]

    def tree_end(self) -> ChunkRow | None:
        return self._chunk_row("ORDER BY idx DESC LIMIT 1", ())

    def chunk_at(self, position: int) -> ChunkRow | None:
        return self._chunk_row("WHERE first_position <= %s ORDER BY first_position DESC LIMIT 1", (position,))

    def chunk(self, index: int) -> ChunkRow | None:
        return self._chunk_row("WHERE idx = %s", (index,))

    def insert_tree(self, nodes: Sequence[TreeRow], chunks: Sequence[ChunkRow]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            if nodes:
                curs.execute(SQL("INSERT INTO {} SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::bytea[]) "
                                 "ON CONFLICT DO NOTHING").format(self._tree),
                             ([n[0] for n in nodes], [n[1] for n in nodes], [n[2] for n in nodes]), binary=True)
            if chunks:
                curs.execute(SQL("INSERT INTO {} SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
                                 "ON CONFLICT DO NOTHING").format(self._chunks),
                             ([c[0] for c in chunks], [c[1] for c in chunks], [c[2] for c in chunks]), binary=True)

    def in_part(
        self, wanted: dict[UUID, list[int]], registration: bool = True, claimed: dict[UUID, list[UUID]] | None = None,
    ) -> dict[UUID, InPart]:
        """What commands need of many records, in one query (see ``Professional.in_part``)."""
        ids = UuidArray([stream for stream, terms in wanted.items() for _ in terms])
        terms = BigintArray([term for t in wanted.values() for term in t])
        streams = UuidArray(wanted)  # a stream may be wanted for its head alone (no terms)
        claimed = claimed or {}
        holders = UuidArray([stream for stream, keys in claimed.items() for _ in keys])
        keys = UuidArray([key for k in claimed.values() for key in k])
        found: dict[UUID, list[StoredEvent]] = {}
        heads: dict[UUID, StoredEvent] = {}
        for role, oid, version, topic, state in self._fetch(self._in_part[registration],
                                                             (ids, terms, streams, holders, keys), binary=True):
            event = StoredEvent(oid, version, topic, bytes(state))
            if role == "h":
                heads[oid] = event
            else:
                found.setdefault(oid, []).append(event)
        return {oid: InPart(found.get(oid, []), head) for oid, head in heads.items()}

    def log_page(
        self, after: int, stop: int, topics: Sequence[str], limit: int, part: tuple[int, int] = (0, 1)
    ) -> list[LogRow]:
        """Rows after ``after`` up to ``stop``; with ``part=(k, n)`` only streams whose id's
        last byte is k modulo n, so that a stream's events all fall in one share."""
        rows = self._fetch(self._log_page, (after, stop, list(topics), part[1], part[0], limit))
        return [LogRow(i, o, v, t, bytes(s)) for i, o, v, t, s in rows]

    def raw_rows(self, page: int) -> Iterator[RawRow]:
        """Every row by stream, then version: keyset pages over the primary key."""
        after: tuple[Any, int] = (UUID(int=0), 0)
        while True:
            rows = self._fetch(self._raw_page, (*after, page))
            for oid, version, topic, state in rows:
                yield RawRow(oid, version, topic, as_bytes(state))
            if len(rows) < page:
                return
            after = (rows[-1][0], rows[-1][1])

    def stream_rows(
        self, stop: int, topics: Sequence[str], page: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[LogRow]:
        """The log up to position ``stop`` stream by stream (keyset pages over the primary key);
        with ``part=(k, n)`` only streams whose id's last byte is k modulo n."""
        after: tuple[Any, int] = (UUID(int=0), 0)
        while True:
            rows = self._fetch(self._stream_rows, (*after, stop, list(topics), part[1], part[0], page))
            for n, oid, version, topic, state in rows:
                yield LogRow(n, oid, version, topic, bytes(state))
            if len(rows) < page:
                return
            after = (rows[-1][1], rows[-1][2])

    def heads(self, position: int) -> list[Head]:
        return [Head(oid, version, as_bytes(state)) for oid, version, state in self._fetch(self._heads, (position,))]

    def count_events(self) -> int:
        return self._fetch(self._count, ())[0][0]

    def insert_with_positions(self, rows: list[tuple[int, UUID, int, str, bytes]]) -> None:
        """A restore: each row under its own log position (the library numbers rows itself,
        and PostgreSQL's sequence leaves gaps that checkpoints refer past)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as c:
            self._lock_table(c)  # a writer like any other
            for state in (self._index_state, self._keys_state):  # rebuilt from these rows at the next start
                c.execute(SQL("UPDATE {} SET ready = false").format(state))
            c.execute(SQL("UPDATE {} SET complete = false").format(self._keys_complete))  # until then
            c.executemany(
                SQL("INSERT INTO {} (notification_id, originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s, %s)").format(self._table),
                rows,
            )
            c.execute(
                SQL("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)"),
                (f'"{self.datastore.schema}"."{self.events_table_name}"', max(r[0] for r in rows)),
            )


_holding = threading.local()  # the schemas whose creation lock this thread holds


@contextmanager
def creation_lock(datastore: library.PostgresDatastore) -> Iterator[None]:
    """One process at a time creates tables in a schema: the library's "create if not exists"
    is not atomic, and processes started together on a new schema (a server and a projection
    worker, say) clashed in PostgreSQL's catalogue. A session lock on a connection of its own."""
    kwargs = {k: v for k, v in datastore.pool.kwargs.items() if k != "row_factory"}
    with _creation_lock(kwargs, datastore.schema):
        # PostgreSQL has just answered: the store's pool is opened now, waiting for its connections.
        # Opened by the library on its first request without waiting, it grew by one for that
        # request (two connections where one is configured); opened waiting before PostgreSQL was
        # known to answer, a start with it down waited for a PoolTimeout instead of failing at once.
        if datastore.pool.closed:
            datastore.pool.open(wait=True, timeout=datastore.pool.timeout)
        yield


def creating(env: dict[str, str]) -> AbstractContextManager[None]:
    """The creation lock of the schema ``env`` names, held while a process builds all its stores
    there (``build_services``): the stores' own ``creation_lock`` then finds it held by this thread.
    One connection instead of one per store and recorder (four of a start's ten)."""
    kwargs = {"dbname": env["POSTGRES_DBNAME"], "host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
              "user": env["POSTGRES_USER"], "password": env["POSTGRES_PASSWORD"]}
    return _creation_lock(kwargs, env.get("POSTGRES_SCHEMA", "").strip() or "public")


@contextmanager
def _creation_lock(kwargs: dict[str, Any], schema: str) -> Iterator[None]:
    held: set[tuple] = _holding.__dict__.setdefault("schemas", set())
    where = (kwargs.get("host"), str(kwargs.get("port")), kwargs.get("dbname"), schema)
    if where in held:
        yield  # this thread holds it already
        return
    with psycopg.connect(autocommit=True, **kwargs) as conn:
        key = zlib.crc32(f"ce-ledger/create/{schema}".encode()) & 0x7FFFFFFF
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        held.add(where)
        try:
            yield
        finally:
            held.discard(where)
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


class TrackingRecorder(library.PostgresTrackingRecorder):
    """The library's tracking recorder, with its in-transaction reads and writes made public
    for a view that writes its rows and its position in one transaction."""

    def exclusive(self) -> AbstractContextManager[None]:
        """Held while this process sets up the view (its first version, a rebuild at start)."""
        return creation_lock(self.datastore)

    def position_in(self, cursor: Any, name: str) -> int:
        return self._max_tracking_id(name, cursor) or 0

    def track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)


class Factory(LockedCreation, library.PostgresFactory):
    application_recorder_class = LedgerRecorder
    tracking_recorder_class = TrackingRecorder

    def _creation_lock(self) -> AbstractContextManager[None]:
        return creation_lock(self.datastore)
