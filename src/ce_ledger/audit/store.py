"""Reading stored rows as they are, for the audit: every stream in key order, and heads.

Below the library's API on purpose: verification must see rows the mapper would
refuse, and a walk over every stream wants keyset pages rather than a query per
stream. Both stores keep the library's table shape: (originator_id,
originator_version) is the primary key, so key order is an index walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

PAGE = 10_000


class RawLog:
    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper):
        self.recorder = recorder
        self.mapper = mapper
        self._postgres = isinstance(recorder, PostgresApplicationRecorder)
        if self._postgres:
            table = SQL("{}.{}").format(
                Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
            )
            self._page = SQL(
                "SELECT originator_id, originator_version, topic, state FROM {t} "
                "WHERE (originator_id, originator_version) > (%s, %s) "
                "ORDER BY originator_id, originator_version LIMIT %s"
            ).format(t=table)
            self._count = SQL("SELECT count(*) FROM {t}").format(t=table)
            self._heads = SQL(
                "SELECT DISTINCT ON (originator_id) originator_id, originator_version, state FROM {t} "
                "WHERE notification_id <= %s ORDER BY originator_id, originator_version DESC"
            ).format(t=table)
        else:
            t = recorder.events_table_name  # type: ignore[attr-defined]
            self._page = (
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

    def plain(self, state: bytes) -> bytes:
        """The row's JSON, decrypted and decompressed as the mapper would."""
        if self.mapper.cipher:
            state = self.mapper.cipher.decrypt(state)
        if self.mapper.compressor:
            state = self.mapper.compressor.decompress(state)
        return state

    def count(self) -> int:
        return self._fetch(self._count, ())[0][0]

    def rows(self) -> Iterator[tuple[UUID, int, str, bytes]]:
        """Every row, by stream then version, a page at a time; state as stored."""
        after: tuple[Any, int] = (UUID(int=0) if self._postgres else "", 0)
        while True:
            page = self._fetch(self._page, (*after, PAGE))
            for oid, version, topic, state in page:
                yield (oid if self._postgres else UUID(oid)), version, topic, _bytes(state)
            if len(page) < PAGE:
                return
            after = (page[-1][0], page[-1][1])

    def heads(self, position: int) -> list[tuple[UUID, int, bytes]]:
        """Each stream's last row at or before log ``position``, ordered by stream id."""
        return [
            (oid if self._postgres else UUID(oid), version, _bytes(state))
            for oid, version, state in self._fetch(self._heads, (position,))
        ]

    def _fetch(self, query: Any, params: tuple) -> list[tuple]:
        if self._postgres:
            with self.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                with conn.cursor(row_factory=tuple_row) as curs:
                    curs.execute(query, params, prepare=False)
                    return curs.fetchall()
        with self.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
            c.execute(query, params)
            return [tuple(r) for r in c.fetchall()]


def _bytes(state: Any) -> bytes:
    # A row edited by hand with SQLite's text functions comes back as text, not a blob.
    return state.encode() if isinstance(state, str) else bytes(state)
