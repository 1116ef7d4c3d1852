"""The in-memory adapter (``PERSISTENCE_MODULE=ce_ledger.storage.memory``; database URL
``memory:``): the library's plain-Python recorder, for pure rule and domain tests. It keeps
nothing after the process ends and has no read side; never a deployment's store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from uuid import UUID

from eventsourcing import popo as library
from eventsourcing.persistence import StoredEvent

from ce_ledger.storage import Head, LogRow, RawRow


class LedgerRecorder(library.POPOApplicationRecorder):
    partitionable = False

    def events_after(self, versions: dict[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        return {stream: list(self.select_events(stream, gt=version)) for stream, version in versions.items()}

    def events_at(self, keys: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], StoredEvent]:
        found = {}
        for stream, version in keys:
            for event in self.select_events(stream, gt=version - 1, lte=version):
                found[stream, version] = event
        return found

    def log_end(self) -> int:
        return self.max_notification_id() or 0

    def log_page(
        self, after: int, stop: int, topics: Sequence[str], limit: int, part: tuple[int, int] = (0, 1)
    ) -> list[LogRow]:
        return [
            LogRow(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in self.select_notifications(start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False)
        ]

    def _all(self) -> list:
        return self.select_notifications(start=None, limit=self.log_end() or 1)

    def raw_rows(self, page: int) -> Iterator[RawRow]:
        rows = sorted(self._all(), key=lambda n: (n.originator_id, n.originator_version))
        return iter([RawRow(n.originator_id, n.originator_version, n.topic, n.state) for n in rows])

    def heads(self, position: int) -> list[Head]:
        last: dict[UUID, Head] = {}
        for n in self._all():
            if n.id <= position:
                last[n.originator_id] = Head(n.originator_id, n.originator_version, n.state)
        return [last[k] for k in sorted(last)]

    def count_events(self) -> int:
        return len(self._all())

    def insert_with_positions(self, rows: list[tuple[int, UUID, int, str, bytes]]) -> None:
        raise NotImplementedError("a restore goes into SQLite or PostgreSQL")


class Factory(library.POPOFactory):
    def application_recorder(self) -> LedgerRecorder:
        return LedgerRecorder()
