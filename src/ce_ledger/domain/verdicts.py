"""An issued verdict: recorded as an event on its own stream, never recomputed in place.

It keeps who asked and when, the exact place in every record it read (stream,
version and that version's chain digest), the rule-set it used and the verdict
itself with its fingerprint, so a later replay can be compared byte for byte and
can tell a changed rule from changed history.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid5

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Level, Text, Value
from ce_ledger.rules.verdict import Verdict

VERDICT_INDEX_NAMESPACE = UUID("3c1d2a0e-7b5f-5e42-9d0c-8a4b6e1f2c73")


class Pin(Value):
    """A record as the verdict read it: the version, and that version's digest."""

    stream_id: UUID
    version: int
    digest: str
    role: Literal["record", "provider"] = "record"


class VerdictIssued(LedgerEvent):
    professional_id: UUID
    issued_by: Text
    verdict: Verdict
    fingerprint: str
    pins: tuple[Pin, ...]


class VerdictFiled(LedgerEvent):
    """On the professional's verdict index stream: lets their verdicts be listed without a scan."""

    verdict_id: UUID
    level: Level
    evaluation_year: int
    rule_set_id: str
    passed: bool
    fingerprint: str


def verdict_index(professional_id: UUID) -> UUID:
    return uuid5(VERDICT_INDEX_NAMESPACE, str(professional_id))
