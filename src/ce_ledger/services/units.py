"""The unit register: name a unit, read its name.

A registration or an import row that carries the unit's name names it in the same
transaction as the record it opens; the same name again records nothing.
"""

from __future__ import annotations

from ce_ledger.domain.errors import NotFound
from ce_ledger.domain.unit import UnitNamed, unit_stream
from ce_ledger.domain.values import Channel, canonical_code
from ce_ledger.services.base import Events, Store, retrying


class Units(Store):
    def unit_naming(self, code: str, name: str, *, by: str, channel: Channel) -> UnitNamed | None:
        """The event that would give ``code`` this name, or None when it has it already."""
        stream = unit_stream(code)
        head = self.head(stream)
        if head is not None and head.name == name:  # type: ignore[attr-defined]
            return None
        now, _ = self.now()
        return UnitNamed.next_in_chain(
            stream, head.link if head else None, recorded_at=now, code=canonical_code(code), name=name, named_by=by,
            caused_by=by, channel=channel,
        )

    def name_unit(self, code: str, name: str, *, by: str, channel: Channel = Channel.DIRECT) -> tuple[UnitNamed, bool]:
        """Give a unit its name (or a new one); returns the naming in force and whether it is new."""
        for attempt in retrying():
            with attempt:
                named = self.unit_naming(code, name, by=by, channel=channel)
                if named is None:
                    return self.unit(code), False
                self.save(Events([named]))
                return named, True
        raise AssertionError("unreachable")  # pragma: no cover

    def unit(self, code: str) -> UnitNamed:
        found = self.head(unit_stream(code))
        if found is None:
            raise NotFound("unit", f"no name is registered for unit {code}")
        return found  # type: ignore[return-value]

