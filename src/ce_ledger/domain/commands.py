"""Inputs to commands that are not activities: registration, decisions, voids.

These are the request bodies too (the HTTP layer reuses them), so their field
names are the ones the outside world sends.
"""

from __future__ import annotations

from pydantic import ConfigDict

from ce_ledger.domain.identity import IdNumber
from ce_ledger.domain.values import Code, Day, Decision, PersonName, Text, Value


class Registration(Value):
    # The clear ID number must not reach an error message or a log through its input.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    id_number: IdNumber
    name: PersonName
    series: Text
    requires_foreign_language_exam: bool
    requires_computer_exam: bool
    own_ce_regulation: bool
    employer_unit: Code
    # The unit's name for the unit register; given, it names the unit in the same transaction.
    employer_unit_name: Text | None = None

    def __repr__(self) -> str:  # never print the clear number by accident
        return f"Registration(name={self.name!r}, series={self.series!r}, unit={self.employer_unit!r})"

    __str__ = __repr__


class Verification(Value):
    decision: Decision
    reason: Text


class Voiding(Value):
    reason: Text
    decision_ref: Text


class Correction(Value):
    """The registration as it should read (name and series settings), and why (a decision)."""

    name: PersonName
    series: Text
    requires_foreign_language_exam: bool
    requires_computer_exam: bool
    own_ce_regulation: bool
    reason: Text
    decision_ref: Text


class Transfer(Value):
    """A move to another unit from a date: proposed by the new unit, confirmed by the old one."""

    to_unit: Code
    effective_on: Day
