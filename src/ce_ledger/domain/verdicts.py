"""An issued verdict: recorded as an event on its own stream, never recomputed in place.

It keeps who asked and when, the record version it read, the rule-set it used and the
verdict itself with its fingerprint, so a later replay can be compared byte for byte.
"""

from __future__ import annotations

from uuid import UUID

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Text
from ce_ledger.rules.verdict import Verdict


class VerdictIssued(LedgerEvent):
    professional_id: UUID
    issued_by: Text
    verdict: Verdict
    fingerprint: str
