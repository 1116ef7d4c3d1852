"""Altering stored rows directly with SQL, as someone with database access could."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder


class Tamper:
    def __init__(self, ledger: Any):
        recorder = ledger.recorder
        self._recorder = recorder
        self._pg = isinstance(recorder, PostgresApplicationRecorder)
        table = recorder.events_table_name
        self._table = f'"{recorder.datastore.schema}"."{table}"' if self._pg else table
        self._p = "%s" if self._pg else "?"

    def _key(self, stream: UUID) -> Any:
        return stream if self._pg else stream.hex

    def _run(self, sql: str, params: tuple) -> list[tuple]:
        sql = sql.replace("?", self._p).format(t=self._table)
        if self._pg:
            with self._recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(sql, params)
                return [tuple(r.values()) for r in curs.fetchall()] if curs.description else []
        with self._recorder.datastore.transaction(commit=True) as c:
            c.execute(sql, params)
            return [tuple(r) for r in c.fetchall()]

    def state(self, stream: UUID, version: int) -> dict:
        rows = self._run("SELECT state FROM {t} WHERE originator_id = ? AND originator_version = ?",
                         (self._key(stream), version))
        return json.loads(bytes(rows[0][0]))

    def set_state(self, stream: UUID, version: int, state: dict) -> None:
        data = json.dumps(state, ensure_ascii=False).encode()
        self._run("UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                  (data, self._key(stream), version))

    def set_topic(self, stream: UUID, version: int, topic: str) -> None:
        self._run("UPDATE {t} SET topic = ? WHERE originator_id = ? AND originator_version = ?",
                  (topic, self._key(stream), version))

    def delete(self, stream: UUID, version: int) -> None:
        self._run("DELETE FROM {t} WHERE originator_id = ? AND originator_version = ?", (self._key(stream), version))

    def swap(self, stream: UUID, a: int, b: int) -> None:
        """Exchange two events' places (their rows' contents), keeping the row keys."""
        sa, sb = self.state(stream, a), self.state(stream, b)
        ta = self._run("SELECT topic FROM {t} WHERE originator_id = ? AND originator_version = ?", (self._key(stream), a))[0][0]
        tb = self._run("SELECT topic FROM {t} WHERE originator_id = ? AND originator_version = ?", (self._key(stream), b))[0][0]
        self.set_state(stream, a, sb)
        self.set_topic(stream, a, tb)
        self.set_state(stream, b, sa)
        self.set_topic(stream, b, ta)
