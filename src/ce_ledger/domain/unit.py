"""The unit register: an employing unit's name beside its code.

Codes are what records hold (``employer_unit``); people read names. A unit's stream
holds its names over time, each a ``UnitNamed`` event: the first registration or
import that gives a name fills it in, and a later, different name is a new event
(a renamed unit), never an edit.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Code, Text, canonical_code

UNIT_NAMESPACE = UUID("7c1f5a2e-93d4-5b8e-a6f0-2d4c8b1e7f35")


def unit_stream(code: str) -> UUID:
    # The canonical spelling: "640100-nxjt" and "640100-NXJT" are one unit.
    return uuid5(UNIT_NAMESPACE, canonical_code(code))


class UnitNamed(LedgerEvent):
    """The unit's name from now on (the first, or a rename)."""

    code: Code
    name: Text
    named_by: Text
