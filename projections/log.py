"""Reading the ledger's log a page at a time, for the projection.

On SQLite this is the library's ``select_notifications``. On PostgreSQL the same
query is issued with plain tuple rows and only the three columns a projection
needs: the library's version builds a dict and a ``Notification`` per row, which
measured four times slower than the query itself (``scripts/bench_projections.py``)
and dominated a rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier


class LogRow(NamedTuple):
    """What a projection reads of a notification (the library's ``Notification`` has the same names)."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class LogReader:
    def __init__(self, recorder: ApplicationRecorder):
        self.recorder = recorder
        self._postgres = isinstance(recorder, PostgresApplicationRecorder)
        if self._postgres:
            self._query = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {schema}.{table} "
                "WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s) "
                "AND get_byte(uuid_send(originator_id), 15) %% %s = %s "
                "ORDER BY notification_id LIMIT %s"
            ).format(
                schema=Identifier(recorder.datastore.schema),
                table=Identifier(recorder.events_table_name),
            )

    def end(self) -> int:
        return self.recorder.max_notification_id() or 0

    @property
    def partitionable(self) -> bool:
        """Whether pages can be split by stream in the query (see ``page``'s ``part``)."""
        return self._postgres

    def page(
        self, after: int, stop: int, topics: list[str], limit: int, part: tuple[int, int] = (0, 1)
    ) -> Sequence[LogRow]:
        """Rows after ``after`` up to ``stop``; with ``part=(k, n)``, only streams whose id's
        last byte is k modulo n — a stream's events all fall in the same share."""
        if not self._postgres:
            if part != (0, 1):
                raise ValueError("part: only PostgreSQL pages are split by stream")
            return [
                LogRow(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in self.recorder.select_notifications(
                    start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
                )
            ]
        with self.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            with conn.cursor(row_factory=tuple_row) as curs:
                # Not prepared: a generic plan for this range query sorts instead of
                # walking the notification_id index.
                curs.execute(self._query, (after, stop, topics, part[1], part[0], limit), prepare=False)
                return [LogRow(i, o, v, t, bytes(s)) for i, o, v, t, s in curs.fetchall()]
