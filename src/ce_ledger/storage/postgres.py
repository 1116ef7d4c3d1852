"""The PostgreSQL adapter (``PERSISTENCE_MODULE=ce_ledger.storage.postgres``).

The library's recorders, with the ledger's extra queries against the library's own
events and tracking tables (see ``ce_ledger.storage``). Statements that read ranges
are not prepared: a generic plan for them sorts instead of walking the index.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from uuid import UUID

from eventsourcing import postgres as library
from eventsourcing.persistence import StoredEvent, Tracking
import psycopg
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ce_ledger.storage import Head, LockedCreation, LogRow, RawRow, as_bytes


class LedgerRecorder(library.PostgresApplicationRecorder):
    partitionable = True  # pages can be split by stream in the query

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        t = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._table = t
        self._events_after = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, after) "
            "JOIN {t} e ON e.originator_id = k.id AND e.originator_version > k.after "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(t=t)
        self._events_at = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, version) "
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
        self._heads = SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, state FROM {t} "
            "WHERE notification_id <= %s ORDER BY originator_id, originator_version DESC"
        ).format(t=t)

    def _fetch(self, query: Composed, params: Sequence[Any]) -> list[tuple]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(query, params, prepare=False)
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

    def heads(self, position: int) -> list[Head]:
        return [Head(oid, version, as_bytes(state)) for oid, version, state in self._fetch(self._heads, (position,))]

    def count_events(self) -> int:
        return self._fetch(self._count, ())[0][0]

    def insert_with_positions(self, rows: list[tuple[int, UUID, int, str, bytes]]) -> None:
        """A restore: each row under its own log position (the library numbers rows itself,
        and PostgreSQL's sequence leaves gaps that checkpoints refer past)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as c:
            c.executemany(
                SQL("INSERT INTO {} (notification_id, originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s, %s)").format(self._table),
                rows,
            )
            c.execute(
                SQL("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)"),
                (f'"{self.datastore.schema}"."{self.events_table_name}"', max(r[0] for r in rows)),
            )


@contextmanager
def creation_lock(datastore: library.PostgresDatastore) -> Iterator[None]:
    """One process at a time creates tables in a schema: the library's "create if not exists"
    is not atomic, and processes started together on a new schema (a server and a projection
    worker, say) clashed in PostgreSQL's catalogue. A session lock on a connection of its own."""
    kwargs = {k: v for k, v in datastore.pool.kwargs.items() if k != "row_factory"}
    with psycopg.connect(autocommit=True, **kwargs) as conn:
        key = zlib.crc32(f"ce-ledger/create/{datastore.schema}".encode()) & 0x7FFFFFFF
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
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
