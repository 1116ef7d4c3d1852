"""Errors a command can end in. Each names the field and the rule it broke."""

from __future__ import annotations

from pydantic import ValidationError

from ce_ledger.domain.values import PATTERN_RULES


class LedgerError(Exception):
    """Base: ``field`` is a dotted path into the request (or None), ``rule`` plain words."""

    def __init__(self, field: str | None, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}" if field else rule)


class InvalidInput(LedgerError):
    """The request breaks a rule; nothing was recorded."""

    def __init__(self, field: str | None, rule: str, *, more: list[tuple[str | None, str]] = ()):
        super().__init__(field, rule)
        self.problems = [(field, rule), *more]

    @classmethod
    def from_validation(cls, error: ValidationError, prefix: str = "") -> InvalidInput:
        problems = []
        for item in error.errors(include_url=False, include_input=False):
            path = ".".join(str(p) for p in (prefix, *item["loc"]) if p != "")
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "string_pattern_mismatch":
                message = PATTERN_RULES.get(item["ctx"]["pattern"], message)
            # Model-level checks name their own field first: "last_day: must not ...".
            head, sep, rest = message.partition(": ")
            if sep and " " not in head:
                path, message = ".".join(p for p in (prefix, head) if p), rest
            problems.append((path or None, message))
        (field, rule), *more = problems
        return cls(field, rule, more=more)


class Conflict(LedgerError):
    """The request contradicts what is recorded (same key, other content); nothing recorded."""


class NotFound(LedgerError):
    """The record or activity named does not exist."""


class NoRuleSet(LedgerError):
    """No rule-set serves the evaluation asked for (reading 6)."""


class BrokenHistory(LedgerError):
    """The stored history a command would rely on does not verify (its hash chain is broken):
    nothing is concluded from it until an auditor has looked (``ce-ledger verify``)."""
