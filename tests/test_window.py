"""The window arithmetic the read side uses (``rules.verdict``: sum of effects, shortfall,
result) gives what each published rule-set's own, frozen text gives, on every demo record
at every level."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from ce_ledger import demo
from ce_ledger.domain.values import Level
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.verdict import ZERO, add_effects, passes, shortfall


@pytest.mark.parametrize("rule_set", [r.id for r in PUBLISHED])
def test_the_shared_arithmetic_equals_each_published_rule_sets_own(memory_ledger, rule_set):
    loaded = demo.load(memory_ledger)
    rules = PUBLISHED.get(rule_set)
    checked = 0
    for item in loaded:
        for level in Level:
            verdict = memory_ledger.evaluate(item.professional_id, level, 2019, rule_set=rule_set)
            by_kind: dict[str, Decimal] = dict.fromkeys(rules.logic.CREDITED_KINDS, ZERO)
            effects = [SimpleNamespace(credited_as=i.credited_as, credited=i.credited_hours,
                                       counts_toward=i.counts_toward) for i in verdict.items]
            waived = add_effects(by_kind, effects)
            credited = rules.logic.credited(by_kind)
            short = shortfall(verdict.required, credited, waived and getattr(rules.logic, "WAIVER_CLEARS_SHORTFALL", False))
            assert (credited, short, waived) == (verdict.credited, verdict.shortfall, verdict.waived_by_degree)
            assert passes(short, waived) == verdict.passed
            checked += 1
    assert checked == len(loaded) * len(Level)
