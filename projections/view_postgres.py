"""The totals view on PostgreSQL (``projections.view`` holds the SQL both stores share).

A module of its own so that psycopg is imported only by a process that uses PostgreSQL.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from psycopg.rows import tuple_row

from ce_ledger.storage import postgres as pg_store
from projections.rows import ActivityRow, PersonRow, YearRow
from projections.view import NoView, TotalsView


class PostgresTotalsView(TotalsView, pg_store.TrackingRecorder):
    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"'

    def _temporary(self, c: Any, name: str, text: str, args: list[Any]) -> None:
        c.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {text}", args)

    def _stream(self, c: Any, text: str, args: list[Any]) -> Iterator[Any]:
        # A client-side cursor would hold the whole result in memory: a server-side one pages it.
        with c.connection.cursor(name="population", row_factory=c.row_factory) as server:
            server.itersize = 2000
            server.execute(text, args)
            yield from server

    def _insert(self, c: Any, table: str, columns: Sequence[str], rows: Iterable[Any]) -> None:
        with c.copy(f"COPY {self.table(table)} ({', '.join(columns)}) FROM STDIN") as copy:
            for value in self._values(columns, rows):
                copy.write_row(value)

    # Rows up to this many are upserted by one pipelined INSERT … ON CONFLICT a row: a write's
    # upkeep changes a few rows, and the temporary table's TRUNCATE (a new file and a catalog
    # update each time) was the largest single cost PostgreSQL saw in the test suite.
    SMALL_UPSERT = 64

    def _upsert_values(self, c: Any, table: str, columns: Sequence[str], key: Sequence[str], values: list[tuple]) -> None:
        if len(values) <= self.SMALL_UPSERT:
            super()._upsert_values(c, table, columns, key, values)
            return
        # COPY into a temporary table, then one INSERT … ON CONFLICT: a statement per
        # table instead of one per row, which is what makes a rebuild fast.
        temp = f"tmp_{table.split('_', 2)[-1]}"
        c.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {self.table(table)}) ON COMMIT DELETE ROWS"
        )
        cols = ", ".join(columns)
        with c.copy(f"COPY {temp} ({cols}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
        updates = ", ".join(f"{col} = excluded.{col}" for col in columns if col not in key)
        c.execute(
            f"INSERT INTO {self.table(table)} ({cols}) SELECT {cols} FROM {temp} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )
        c.execute(f"TRUNCATE {temp}")

    def bulk_settings(self, cursor: Any) -> None:
        # A view batch need not wait for its WAL flush: after a server crash the last
        # batches are lost whole — rows and position together — and simply done again.
        cursor.execute("SET LOCAL synchronous_commit TO off")

    current_seconds = 1.0  # Settings.view_current_seconds (bootstrap.build_view)

    def read(self, pids: list[str], from_year: int, to_year: int) -> tuple[str, dict[str, Any]]:
        """One statement, one round trip (a window query is the API's hottest read).

        The current version is remembered for ``current_seconds`` (a second): after a switch,
        a reader may read the previous version — complete, like every version readers see —
        for up to that long.
        """
        version, rule_set = self._current_cached()
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(self._read_query(version), (pids, pids, from_year, to_year, pids))
            return rule_set, self._parse(pids, c.fetchall())

    async def read_async(self, pids: list[str], from_year: int, to_year: int) -> tuple[str, dict[str, Any]]:
        """``read`` on the event loop, with psycopg's own async connections: a request for
        totals then needs no hop through the thread pool, which cost most of its time."""
        pool = await self._async_pool()
        async with pool.connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            cached = getattr(self, "_current", None)
            if cached is None or cached[0] < time.monotonic():
                await c.execute(f"SELECT version, rule_set FROM {self.table('totals_versions')} WHERE state = 'current'")
                row = await c.fetchone()
                if row is None:
                    raise NoView("the totals view has not been built: run `ce-ledger rebuild`")
                cached = self._current = (time.monotonic() + self.current_seconds, row[0], row[1])
            await c.execute(self._read_query(cached[1]), (pids, pids, from_year, to_year, pids))
            return cached[2], self._parse(pids, await c.fetchall())

    async def _async_pool(self) -> Any:
        pool = getattr(self, "_apool", None)
        if pool is None:
            from psycopg import AsyncConnection
            from psycopg_pool import AsyncConnectionPool

            # The same server and credentials as the library's own (synchronous) pool.
            kwargs = {k: v for k, v in self.datastore.pool.kwargs.items() if k != "row_factory"}

            async def autocommit(conn: AsyncConnection) -> None:
                await conn.set_autocommit(True)

            pool = self._apool = AsyncConnectionPool(
                kwargs=kwargs, min_size=1, max_size=self.datastore.pool.max_size, open=False, configure=autocommit,
            )
            # Waiting for its first connection: opened without waiting, the pool grew by one for the
            # read that opened it (two connections where one was asked for).
            await pool.open(wait=True, timeout=self.datastore.pool.timeout)
        return pool

    async def aclose(self) -> None:
        pool, self._apool = getattr(self, "_apool", None), None
        if pool is not None:
            await pool.close()

    def _read_query(self, version: int) -> str:
        p = f"totals_v{version}"
        return (
            f"SELECT 'p', row_to_json(t)::text FROM {self.table(p + '_people')} t WHERE professional_id = ANY(%s) "
            f"UNION ALL SELECT 'y', row_to_json(t)::text FROM {self.table(p + '_years')} t "
            "WHERE professional_id = ANY(%s) AND year BETWEEN %s AND %s "
            f"UNION ALL SELECT 'a', row_to_json(t)::text FROM {self.table(p + '_activities')} t "
            "WHERE professional_id = ANY(%s) AND kind IN ('exam_pass', 'degree')"
        )

    def _parse(self, pids: list[str], rows: list[tuple[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {pid: {"person": None, "years": [], "window_kinds": []} for pid in pids}
        for tag, text in rows:
            row = json.loads(text)
            person = out[row["professional_id"]]
            if tag == "p":
                person["person"] = PersonRow(**row)
            elif tag == "y":
                person["years"].append(YearRow(**self._decimals(row)))
            else:
                person["window_kinds"].append(ActivityRow(**self._decimals(row)))
        return out

    def _current_cached(self) -> tuple[int, str]:
        now = time.monotonic()
        cached = getattr(self, "_current", None)
        if cached is None or cached[0] < now:
            version, rule_set = self.current()
            cached = self._current = (now + self.current_seconds, version, rule_set)
        return cached[1], cached[2]

    def switch_to(self, version: int) -> None:
        super().switch_to(version)
        self._current = None

    def lock(self, cursor: Any, version: int) -> None:
        self.bulk_settings(cursor)
        # READ COMMITTED would let a second worker read rows half before and half after
        # the first one's commit; one writer per version at a time rules that out.
        key = zlib.crc32(self.datastore.schema.encode()) & 0x7FFFFFFF  # stable across processes
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", (key, version))
