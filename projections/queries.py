"""Questions the read side answers: a window's totals, and a unit's staff standing.

A window query reads a person's row, their year rows inside the window (one per
year at most) and their exam passes and degrees (a handful): its cost grows with
the number of years, not with the number of events. The hours are credited by the
same rule-set functions a verdict uses.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from ce_ledger.domain.errors import NoRuleSet, NotFound
from ce_ledger.domain.values import HoursFigure, Level, Value
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.ruleset import Registry, RuleSet
from ce_ledger.rules.verdict import Credited, Required, Window, add_effects, passes, shortfall
from projections.rows import YEAR_COLUMNS, ZERO
from projections.view import TotalsView


class WindowTotals(Value):
    professional_id: UUID
    employer_unit: str  # from the view's own row: an employer's check needs no record
    rule_set: str
    window: Window
    credited: Credited
    pending_claims: int
    pending_hours: HoursFigure
    waived_by_degree: bool


class StaffStanding(Value):
    """One member of staff against one requirement, for the employer's list."""

    professional_id: UUID
    name: str
    masked_id: str
    series: str
    window: Window
    required: Required
    credited: Credited
    shortfall: Required
    waived_by_degree: bool
    meets: bool


class Totals:
    def __init__(self, view: TotalsView, rule_sets: Registry = PUBLISHED):
        self.view = view
        self.rule_sets = rule_sets

    def window(self, professional_id: UUID, from_year: int, to_year: int) -> WindowTotals:
        if from_year > to_year:
            raise ValueError("from_year: must not be after to_year")
        return self._window(professional_id, from_year, to_year, *self.view.read([str(professional_id)], from_year, to_year))

    async def window_async(self, professional_id: UUID, from_year: int, to_year: int) -> WindowTotals:
        if from_year > to_year:
            raise ValueError("from_year: must not be after to_year")
        found = await self.view.read_async([str(professional_id)], from_year, to_year)
        return self._window(professional_id, from_year, to_year, *found)

    def _window(
        self, professional_id: UUID, from_year: int, to_year: int, rule_set_id: str, data: dict[str, Any]
    ) -> WindowTotals:
        person = data[str(professional_id)]
        if person["person"] is None:
            raise NotFound("professional_id", "no such professional is registered (or not yet in the view)")
        return self._totals(professional_id, rule_set_id, person, Window(from_year=from_year, to_year=to_year))

    def unit(self, unit: str, level: Level, evaluation_year: int) -> list[StaffStanding]:
        """The unit's staff for one evaluation, those furthest short first."""
        return sorted(
            self._standings(self.view.unit_members(unit), level, evaluation_year),
            key=lambda s: (s.meets, -s.shortfall.public_hours, -s.shortfall.total_hours, s.name, str(s.professional_id)),
        )

    def standing(self, professional_id: UUID, level: Level, evaluation_year: int) -> StaffStanding:
        """One person against one requirement (the workbench's bars)."""
        found = self._standings([str(professional_id)], level, evaluation_year)
        if not found:
            raise NotFound("professional_id", "no such professional is registered (or not yet in the view)")
        return found[0]

    def _standings(self, pids: list[str], level: Level, evaluation_year: int) -> list[StaffStanding]:
        _, rule_set_id = self.view.current()
        rule_set = self.rule_sets.get(rule_set_id)
        if evaluation_year not in rule_set.parameters.evaluation_years:
            raise_no_rule_set(rule_set, evaluation_year)
        window = rule_set.logic.window_for(rule_set.parameters, level, evaluation_year)
        requirement = rule_set.parameters.requirements[level]
        if not pids:
            return []
        _, data = self.view.read(pids, window.from_year, window.to_year)
        standings = []
        for pid in pids:
            person = data[pid]
            if person["person"] is None:
                continue
            totals = self._totals(UUID(pid), rule_set_id, person, window)
            c = totals.credited
            clears = getattr(rule_set.logic, "WAIVER_CLEARS_SHORTFALL", False)  # as the rule-set's verdicts show it
            short = shortfall(requirement, c, totals.waived_by_degree and clears)
            meets = passes(short, totals.waived_by_degree)
            row = person["person"]
            standings.append(
                StaffStanding(
                    professional_id=UUID(pid), name=row.name, masked_id=row.masked_id,
                    series=row.series_name, window=window,
                    required=Required(total_hours=requirement.total_hours, public_hours=requirement.public_hours),
                    credited=c, shortfall=short, waived_by_degree=totals.waived_by_degree, meets=meets,
                )
            )
        return standings

    def _totals(self, pid: UUID, rule_set_id: str, person: dict[str, Any], window: Window) -> WindowTotals:
        rule_set = self.rule_sets.get(rule_set_id)
        logic, params = rule_set.logic, rule_set.parameters
        by_kind: dict[str, Decimal] = dict.fromkeys(logic.CREDITED_KINDS, ZERO)
        pending_claims, pending_hours = 0, ZERO
        for year in person["years"]:
            for column in YEAR_COLUMNS:
                by_kind[column] += getattr(year, column)
            pending_claims += year.pending_count
            pending_hours += year.pending_hours
        activities = [row.activity() for row in person["window_kinds"]]
        series = person["person"].series
        effects = logic.substitute_exams(params, (a for a in activities if a.kind == "exam_pass"), series, window)
        effects |= logic.count_degrees(params, (a for a in activities if a.kind == "degree"), window)
        waived = add_effects(by_kind, effects.values())
        return WindowTotals(
            professional_id=pid,
            employer_unit=person["person"].employer_unit,
            rule_set=rule_set_id,
            window=window,
            credited=logic.credited(by_kind),
            pending_claims=pending_claims,
            pending_hours=pending_hours,
            waived_by_degree=waived,
        )


def raise_no_rule_set(rule_set: RuleSet, evaluation_year: int) -> None:
    years = ", ".join(map(str, rule_set.parameters.evaluation_years))
    raise NoRuleSet(
        "evaluation_year",
        f"the view credits by rule-set {rule_set.id}, which serves evaluation year {years}, "
        f"not {evaluation_year} (reading 6)",
    )
