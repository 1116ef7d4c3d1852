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
- ``insert_with_positions``: a restore keeps each row's log position.

Everything else goes through the library's public API. ``repository.py`` holds the
one use of the library's private members (its fast-forward locks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, Protocol
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

    def heads(self, position: int) -> list[Head]: ...

    def count_events(self) -> int: ...

    def insert_with_positions(self, rows: list[tuple[int, UUID, int, str, bytes]]) -> None: ...


def as_bytes(state: object) -> bytes:
    # A row edited by hand with SQLite's text functions comes back as text, not a blob.
    return state.encode() if isinstance(state, str) else bytes(state)  # type: ignore[arg-type]
