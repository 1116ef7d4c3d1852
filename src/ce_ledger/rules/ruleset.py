"""What every rule-set is, and which one is in force for an evaluation.

A rule-set is frozen once published (reading 6): its parameters are data, its logic a
pure function, and its digest covers both, so an edit shows up as a new digest (and
fails the golden test) instead of silently changing old verdicts.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from functools import cached_property
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

from ce_ledger.domain.errors import NoRuleSet
from ce_ledger.domain.values import HoursFigure, Level, Value

if TYPE_CHECKING:
    from ce_ledger.domain.professional import Professional
    from ce_ledger.domain.provider import ProviderRegister
    from ce_ledger.rules.verdict import Verdict


class Requirement(Value):
    """One row of §3(2): how many calendar years before, how many hours, how many public."""

    years: int
    total_hours: HoursFigure
    public_hours: HoursFigure


class Parameters(Value):
    id: str
    title: str
    evaluation_years: tuple[int, ...]
    requirements: dict[Level, Requirement]
    study_tour_hours_per_day: HoursFigure
    teaching_multiplier: HoursFigure
    foreign_language_exam_hours: HoursFigure
    computer_module_hours: HoursFigure


@dataclass(frozen=True)
class RuleSet:
    parameters: Parameters
    logic: ModuleType  # the module whose ``evaluate`` applies the parameters

    @property
    def id(self) -> str:
        return self.parameters.id

    @cached_property
    def digest(self) -> str:
        """SHA-256 over the canonical parameters and the logic's source text."""
        params = json.dumps(
            self.parameters.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
        )
        # A rule-set that builds on another's module is frozen with it: both sources count.
        modules = (self.logic, *getattr(self.logic, "BUILDS_ON", ()))
        source = "\n".join(inspect.getsource(m).replace("\r\n", "\n") for m in modules)
        return hashlib.sha256(f"{params}\n{source}".encode()).hexdigest()

    @property
    def reads_providers(self) -> bool:
        """Whether the logic credits a certificate by its provider's standing (§1(4))."""
        return getattr(self.logic, "READS_PROVIDERS", False)

    def evaluate(
        self,
        record: Professional,
        level: Level,
        evaluation_year: int,
        providers: ProviderRegister | None = None,
    ) -> Verdict:
        if evaluation_year not in self.parameters.evaluation_years:
            years = ", ".join(map(str, self.parameters.evaluation_years))
            raise NoRuleSet(
                "evaluation_year",
                f"rule-set {self.id} serves evaluation year {years}, not {evaluation_year} (reading 6)",
            )
        if self.reads_providers:
            return self.logic.evaluate(
                self.parameters, record, level, evaluation_year, self.digest, providers or {}
            )
        return self.logic.evaluate(self.parameters, record, level, evaluation_year, self.digest)


class Registry:
    """The published rule-sets, by id; the one in force is found by evaluation year."""

    def __init__(self, *rule_sets: RuleSet):
        self._by_id = {r.id: r for r in rule_sets}

    def __iter__(self) -> Iterator[RuleSet]:
        return iter(self._by_id.values())

    def get(self, rule_set_id: str) -> RuleSet:
        try:
            return self._by_id[rule_set_id]
        except KeyError:
            known = ", ".join(sorted(self._by_id))
            raise NoRuleSet("rule_set", f"no rule-set {rule_set_id!r} (published: {known})") from None

    def in_force(self, evaluation_year: int) -> RuleSet:
        """The first published (newest first) that serves the year."""
        for rule_set in self._by_id.values():
            if evaluation_year in rule_set.parameters.evaluation_years:
                return rule_set
        raise NoRuleSet(
            "evaluation_year",
            f"no rule-set is in force for evaluation year {evaluation_year}; "
            "rules of other years are other rule-sets (reading 6)",
        )
