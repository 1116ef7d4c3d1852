"""The base of every aggregate whose stream is hash-chained (a professional, a CE base).

Commands *trigger* events: each is sealed after the aggregate's head, applied (the
only place state changes, so replaying stored events rebuilds what commands saw)
and kept until the application saves it (the library's ``collect_events``).
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from ce_ledger.domain.events import LedgerEvent

E = TypeVar("E", bound=LedgerEvent)


class Chained:
    # Declared by each aggregate's dataclass.
    id: UUID
    version: int
    head_digest: str
    _pending: list[LedgerEvent]

    def _trigger(self, event_class: type[E], *, checked: bool = False, **fields: Any) -> E:
        # ``checked``: the fields are validated already (``LedgerEvent.sealed``).
        event = event_class.next_in_chain(self.id, (self.version, self.head_digest), checked=checked, **fields)
        self.apply(event)
        self._pending.append(event)
        return event

    def apply(self, event: LedgerEvent) -> None:
        self._mutate(event)
        self.version, self.head_digest = event.link

    def _mutate(self, event: LedgerEvent) -> None:
        raise NotImplementedError

    def pending(self) -> tuple[LedgerEvent, ...]:
        """The events triggered and not yet saved (what ``collect_events`` will hand over)."""
        return tuple(self._pending)

    def index_terms(self, event: LedgerEvent) -> tuple[str, ...]:
        """The terms under which the record index files this event (see ``Professional``);
        an aggregate that is always loaded whole files none."""
        return ()

    def collect_events(self) -> list[LedgerEvent]:
        """The library's ``CollectEventsProtocol``: ``app.save(aggregate)`` stores these."""
        events, self._pending = self._pending, []
        return events
