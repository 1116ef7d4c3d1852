"""The SQLite adapter (``PERSISTENCE_MODULE=ce_ledger.storage.sqlite``), the zero-setup default.

The same calls as the PostgreSQL adapter. A query costs no round trip here, so
``events_after`` asks stream by stream, and a log page is the library's own
``select_notifications``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from uuid import UUID

from eventsourcing import sqlite as library
from eventsourcing.persistence import StoredEvent, Tracking

from ce_ledger.storage import (
    ChunkRow,
    Head,
    IndexRow,
    KeyClaim,
    LockedCreation,
    LogRow,
    RawRow,
    StreamByStream,
    TreeRow,
    as_bytes,
)


class LedgerRecorder(StreamByStream, library.SQLiteApplicationRecorder):

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        t = self.events_table_name
        self._raw_page = (
            f"SELECT originator_id, originator_version, topic, state FROM {t} "
            "WHERE (originator_id, originator_version) > (?, ?) "
            "ORDER BY originator_id, originator_version LIMIT ?"
        )
        self._count = f"SELECT count(*) FROM {t}"
        # SQLite's bare-column rule: with MAX(), the other columns come from that row.
        self._heads = (
            f"SELECT originator_id, MAX(originator_version), state FROM {t} "
            "WHERE rowid <= ? GROUP BY originator_id ORDER BY originator_id"
        )

    # -- the record index ----------------------------------------------------------

    @property
    def _index(self) -> str:
        return f"{self.events_table_name}_index"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self._index} (stream_id TEXT, term INTEGER, version INTEGER, "
            "PRIMARY KEY (stream_id, term, version)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self._index}_state (ready INTEGER NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self._keys} (key_id TEXT, version INTEGER, professional_id TEXT, "
            "activity_id TEXT, activity_term INTEGER, PRIMARY KEY (key_id, version)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self._keys}_state (ready INTEGER NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self._keys}_complete (complete INTEGER NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name}_tree (level INTEGER, idx INTEGER, hash BLOB, "
            "PRIMARY KEY (level, idx)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name}_chunks (idx INTEGER PRIMARY KEY, "
            "first_position INTEGER UNIQUE, last_position INTEGER)",
        ]

    @property
    def _keys(self) -> str:
        return f"{self.events_table_name}_keys"

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            existed = {}
            for state in (f"{self._index}_state", f"{self._keys}_state", f"{self._keys}_complete"):
                c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (state,))
                existed[state] = c.fetchone() is not None
            self._create_table(c)
            c.execute(f"SELECT 1 FROM pragma_table_info('{self._keys}') WHERE name = 'activity_term'")
            if c.fetchone() is None:  # claims made before they named their activity's term (``KeyClaim``):
                c.execute(f"ALTER TABLE {self._keys} ADD COLUMN activity_term INTEGER")
                c.execute(f"UPDATE {self._keys}_state SET ready = 0")  # built again at this start, with their terms
            for state, was in existed.items():
                if not was:
                    # A new store's index and key claims are complete; in one made before they
                    # existed they are built from its events when the application starts (services.base).
                    c.execute(f"SELECT 1 FROM {self.events_table_name} LIMIT 1")
                    c.execute(f"INSERT INTO {state} VALUES (?)", (int(c.fetchone() is None),))

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        self._insert_index(c, kwargs.get("index", ()))
        self._insert_claims(c, kwargs.get("keys", ()))  # one already taken fails the transaction
        return ids

    def _insert_claims(self, c: Any, claims: Sequence[KeyClaim], *, again: bool = False) -> None:
        # Again (building the index): a claim already there is kept, and given its term if it had none.
        if claims:
            c.executemany(
                f"INSERT INTO {self._keys} (key_id, version, professional_id, activity_id, activity_term) "
                "VALUES (?, ?, ?, ?, ?)" + (" ON CONFLICT (key_id, version) DO UPDATE SET activity_term = "
                                            "excluded.activity_term WHERE activity_term IS NULL" if again else ""),
                [(k.hex, v, p.hex, a.hex, t) for k, v, p, a, t in claims])

    def key_claims(self, key_id: UUID) -> list[KeyClaim]:
        rows = self._fetch(f"SELECT key_id, version, professional_id, activity_id, activity_term FROM {self._keys} "
                           "WHERE key_id = ? ORDER BY version", (key_id.hex,))
        return [KeyClaim(UUID(k), v, UUID(p), UUID(a), t) for k, v, p, a, t in rows]

    def _insert_index(self, c: Any, rows: Sequence[IndexRow]) -> None:
        if rows:
            c.executemany(f"INSERT OR IGNORE INTO {self._index} VALUES (?, ?, ?)",
                          [(stream.hex, term, version) for stream, term, version in rows])

    def insert_index(
        self, rows: Sequence[IndexRow], *, keys: Sequence[KeyClaim] = (), ready: bool = False, complete: bool | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_index(c, rows)
            self._insert_claims(c, keys, again=True)
            if ready:
                c.execute(f"UPDATE {self._index}_state SET ready = 1")
                c.execute(f"UPDATE {self._keys}_state SET ready = 1")
            if complete is not None:
                c.execute(f"UPDATE {self._keys}_complete SET complete = ?", (int(complete),))

    def count_claims(self) -> tuple[int, int]:
        rows = self._fetch(f"SELECT count(*), count(*) - count(activity_term) FROM {self._keys}", ())
        return rows[0][0], rows[0][1]

    def claims_complete(self) -> bool:
        rows = self._fetch(f"SELECT min(complete) FROM {self._keys}_complete", ())
        return bool(rows and rows[0][0])

    def index_ready(self) -> bool:
        rows = self._fetch(f"SELECT (SELECT min(ready) FROM {self._index}_state) AND "
                           f"(SELECT min(ready) FROM {self._keys}_state)", ())
        return bool(rows and rows[0][0])

    def _indexed(self, stream: UUID, terms: list[int]) -> set[int]:
        marks = ", ".join("?" * len(terms))
        rows = self._fetch(f"SELECT version FROM {self._index} WHERE stream_id = ? AND term IN ({marks})",
                           (stream.hex, *terms))
        return {v for (v,) in rows}

    def _claimed(self, stream: UUID, keys: list[UUID]) -> set[int]:
        marks = ", ".join("?" * len(keys))
        rows = self._fetch(f"SELECT i.version FROM {self._keys} k JOIN {self._index} i "
                           "ON i.stream_id = k.professional_id AND i.term = k.activity_term "
                           f"WHERE k.key_id IN ({marks}) AND k.professional_id = ?", (*(k.hex for k in keys), stream.hex))
        return {v for (v,) in rows}

    # -- the log tree ------------------------------------------------------------------

    def log_rows(self, after: int, stop: int, limit: int) -> list[LogRow]:
        rows = self._fetch(f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                           "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?", (after, stop, limit))
        return [LogRow(n, UUID(o), v, t, as_bytes(s)) for n, o, v, t, s in rows]

    def head_at(self, stream: UUID, position: int) -> LogRow | None:
        rows = self._fetch(f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                           "WHERE originator_id = ? AND rowid <= ? ORDER BY originator_version DESC LIMIT 1",
                           (stream.hex, position))
        return LogRow(rows[0][0], stream, rows[0][2], rows[0][3], as_bytes(rows[0][4])) if rows else None

    def tree_hash(self, level: int, index: int) -> bytes | None:
        rows = self._fetch(f"SELECT hash FROM {self.events_table_name}_tree WHERE level = ? AND idx = ?", (level, index))
        return bytes(rows[0][0]) if rows else None

    def tree_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = {}
        for level, index in keys:  # no round trip here: one indexed lookup each
            got = self.tree_hash(level, index)
            if got is not None:
                found[level, index] = got
        return found

    def rows_between(self, after: int, before: int) -> int:
        return self._fetch(f"SELECT count(*) FROM {self.events_table_name} WHERE rowid > ? AND rowid < ?",
                           (after, before))[0][0]

    def _chunk_row(self, where: str, params: Sequence[Any]) -> ChunkRow | None:
        rows = self._fetch(f"SELECT idx, first_position, last_position FROM {self.events_table_name}_chunks {where}",
                           params)
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]

    def tree_end(self) -> ChunkRow | None:
        return self._chunk_row("ORDER BY idx DESC LIMIT 1", ())

    def chunk_at(self, position: int) -> ChunkRow | None:
        return self._chunk_row("WHERE first_position <= ? ORDER BY first_position DESC LIMIT 1", (position,))

    def chunk(self, index: int) -> ChunkRow | None:
        return self._chunk_row("WHERE idx = ?", (index,))

    def insert_tree(self, nodes: Sequence[TreeRow], chunks: Sequence[ChunkRow]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(f"INSERT OR IGNORE INTO {self.events_table_name}_tree VALUES (?, ?, ?)", nodes)
            c.executemany(f"INSERT OR IGNORE INTO {self.events_table_name}_chunks VALUES (?, ?, ?)", chunks)

    def _fetch(self, query: str, params: Sequence[Any]) -> list[tuple]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(query, params)
            return [tuple(r) for r in c.fetchall()]

    def raw_rows(self, page: int) -> Iterator[RawRow]:
        after: tuple[Any, int] = ("", 0)
        while True:
            rows = self._fetch(self._raw_page, (*after, page))
            for oid, version, topic, state in rows:
                yield RawRow(UUID(oid), version, topic, as_bytes(state))
            if len(rows) < page:
                return
            after = (rows[-1][0], rows[-1][1])

    def stream_rows(
        self, stop: int, topics: Sequence[str], page: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[LogRow]:
        """The log up to position ``stop`` stream by stream, in keyset pages over the primary key."""
        if part != (0, 1):
            raise ValueError("part: only PostgreSQL pages are split by stream")
        marks = ", ".join("?" * len(topics))
        query = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                 f"WHERE (originator_id, originator_version) > (?, ?) AND rowid <= ? AND topic IN ({marks}) "
                 "ORDER BY originator_id, originator_version LIMIT ?")
        after: tuple[Any, int] = ("", 0)
        while True:
            rows = self._fetch(query, (*after, stop, *topics, page))
            for n, oid, version, topic, state in rows:
                yield LogRow(n, UUID(oid), version, topic, as_bytes(state))
            if len(rows) < page:
                return
            after = (rows[-1][1], rows[-1][2])

    def heads(self, position: int) -> list[Head]:
        return [Head(UUID(oid), version, as_bytes(state)) for oid, version, state in self._fetch(self._heads, (position,))]

    def count_events(self) -> int:
        return self._fetch(self._count, ())[0][0]

    def insert_with_positions(self, rows: list[tuple[int, UUID, int, str, bytes]]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for state in (f"{self._index}_state", f"{self._keys}_state"):  # rebuilt from these rows at the next start
                c.execute(f"UPDATE {state} SET ready = 0")
            c.execute(f"UPDATE {self._keys}_complete SET complete = 0")  # until then
            c.executemany(
                f"INSERT INTO {self.events_table_name} (rowid, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?, ?)",
                [(n, oid.hex, version, topic, state) for n, oid, version, topic, state in rows],
            )


def private(db_name: str) -> None:
    """The database file readable by its owner only (SQLite gives its journal files the same
    mode): the store holds personal data, whoever else shares the machine."""
    if db_name == ":memory:" or db_name.startswith("file:"):
        return
    os.close(os.open(db_name, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(db_name, 0o600)


@contextmanager
def creation_lock(db_name: str) -> Iterator[None]:
    """One process at a time creates tables in a database file: the library's "create if not
    exists" is not atomic (two server processes starting on a new view file clashed). An
    exclusive lock on a file beside it."""
    if db_name == ":memory:" or db_name.startswith("file:"):
        yield
        return
    with os.fdopen(os.open(f"{db_name}.lock", os.O_WRONLY | os.O_CREAT, 0o600), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class TrackingRecorder(library.SQLiteTrackingRecorder):
    def exclusive(self) -> AbstractContextManager[None]:
        """Held while this process sets up the view (its first version, a rebuild at start)."""
        return creation_lock(self.datastore.pool.db_name)

    def position_in(self, cursor: Any, name: str) -> int:
        return self._max_tracking_id(name, cursor) or 0

    def track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)


class Factory(LockedCreation, library.SQLiteFactory):
    application_recorder_class = LedgerRecorder
    tracking_recorder_class = TrackingRecorder

    def __init__(self, env: Any):
        super().__init__(env)
        private(self.env.get(self.SQLITE_DBNAME))

    def _creation_lock(self) -> AbstractContextManager[None]:
        return creation_lock(self.env.get(self.SQLITE_DBNAME))
