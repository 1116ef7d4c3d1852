"""Reading stored rows as they are, for the audit: every stream in key order, and heads.

Below the mapper on purpose: verification must see rows the mapper would refuse.
The queries are the storage adapter's (``ce_ledger.storage``); this decrypts and
decompresses exactly as the mapper would, and trusts nothing else it does.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventsourcing.persistence import Mapper

from ce_ledger.storage import Head, LedgerRecorder, RawRow

PAGE = 10_000


class RawLog:
    def __init__(self, recorder: LedgerRecorder, mapper: Mapper | None):
        self.recorder = recorder
        self.mapper = mapper

    def plain(self, state: bytes) -> bytes:
        """The row's JSON, decrypted and decompressed as the mapper would."""
        return self.mapper.plain(state) if self.mapper is not None else state  # type: ignore[attr-defined]

    def count(self) -> int:
        return self.recorder.count_events()

    def rows(self) -> Iterator[RawRow]:
        """Every row, by stream then version, a page at a time; state as stored."""
        return self.recorder.raw_rows(PAGE)

    def heads(self, position: int) -> list[Head]:
        """Each stream's last row at or before log ``position``, ordered by stream id."""
        return self.recorder.heads(position)
