"""The in-memory adapter (``PERSISTENCE_MODULE=ce_ledger.storage.memory``; database URL
``memory:``): the library's plain-Python recorder, for pure rule and domain tests. It keeps
nothing after the process ends and has no read side; never a deployment's store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing import popo as library
from eventsourcing.persistence import IntegrityError

from ce_ledger.storage import Head, IndexRow, KeyClaim, RawRow, StreamByStream


class LedgerRecorder(StreamByStream, library.POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._index: dict[tuple[UUID, int], set[int]] = {}
        self._keys: dict[UUID, dict[int, KeyClaim]] = {}

    def _assert_uniqueness(self, stored_events: Sequence[Any], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        claims = kwargs.get("keys", ())
        taken = [c for c in claims if c.version in self._keys.get(c.key_id, {})]
        if taken or len({(c.key_id, c.version) for c in claims}) < len(claims):
            raise IntegrityError(f"key already claimed: {(taken or claims)[0].key_id}")

    def _update_table(self, stored_events: Sequence[Any], **kwargs: Any) -> Any:
        ids = super()._update_table(stored_events, **kwargs)  # under the library's lock, after its checks
        self._add(kwargs.get("index", ()))
        for claim in kwargs.get("keys", ()):
            self._keys.setdefault(claim.key_id, {})[claim.version] = claim
        return ids

    def key_claims(self, key_id: UUID) -> list[KeyClaim]:
        with self._database_lock:
            return [claim for _, claim in sorted(self._keys.get(key_id, {}).items())]

    def _add(self, rows: Sequence[IndexRow]) -> None:
        for stream, term, version in rows:
            self._index.setdefault((stream, term), set()).add(version)

    def insert_index(
        self, rows: Sequence[IndexRow], *, keys: Sequence[KeyClaim] = (), ready: bool = False, complete: bool | None = None,
    ) -> None:
        with self._database_lock:
            self._add(rows)
            for claim in keys:  # kept if there, but given its term if it had none (``KeyClaim``)
                held = self._keys.setdefault(claim.key_id, {})
                if claim.version not in held or held[claim.version].activity_term is None:
                    held[claim.version] = claim

    def index_ready(self) -> bool:
        return True  # nothing outlives the process: the index is made with the events

    def claims_complete(self) -> bool:
        return True  # made with the events, every claim naming its term

    def count_claims(self) -> tuple[int, int]:
        with self._database_lock:
            held = [c for claims in self._keys.values() for c in claims.values()]
        return len(held), sum(c.activity_term is None for c in held)

    def _indexed(self, stream: UUID, terms: list[int]) -> set[int]:
        return {v for term in terms for v in self._index.get((stream, term), ())}

    def _claimed(self, stream: UUID, keys: list[UUID]) -> set[int]:
        with self._database_lock:
            terms = [c.activity_term for key in keys for c in self._keys.get(key, {}).values()
                     if c.professional_id == stream and c.activity_term is not None]
        return self._indexed(stream, terms)

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
