"""Golden results: a published rule-set's verdicts never change (reading 6).

A file per published rule-set pins its digest and the fingerprint of every demo
person's verdict at every level, built at a fixed time with a fixed key. A change
to a rule-set's parameters or logic, or to how a verdict is written, fails here: new
behaviour belongs in a new rule-set. Write the file for a *new* rule-set with
CE_LEDGER_WRITE_GOLDEN=1; never rewrite an existing one.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from ce_ledger import demo
from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from ce_ledger.domain.values import Level
from ce_ledger.rules.published import PUBLISHED
from tests.builders import Clock

GOLDEN_FILES = {"NX-2019": "nx2019.json", "NX-2019.1": "nx2019.1.json", "NX-2019.2": "nx2019.2.json"}


def test_every_published_rule_set_has_a_golden_file():
    assert sorted(GOLDEN_FILES) == sorted(r.id for r in PUBLISHED)


@pytest.mark.parametrize("rule_set", sorted(GOLDEN_FILES))
def test_published_verdicts_are_unchanged(rule_set):
    golden = Path(__file__).parent / "golden" / GOLDEN_FILES[rule_set]
    # Verdicts are pure: the in-memory store (the stores' own behaviour is tested elsewhere).
    fixed = Settings(database_url="memory:", secret_key=SecretStr("golden-secret-key-0123456789abcdef"))
    ledger = build_ledger(fixed, clock=Clock(datetime(2019, 3, 25, 1, 0, tzinfo=UTC)))
    try:
        # The golden files were written when one employer verified every demo person's
        # certificates; the verdict lines name who verified, so the input stays as it was then.
        loaded = demo.load(ledger, verifier=lambda person: "employer:640100-NXJT")
        results = {
            f"{item.person.registration.name}/{level}": ledger.evaluate(
                item.professional_id, level, 2019, rule_set=rule_set
            ).fingerprint
            for item in loaded
            for level in Level
        }
    finally:
        ledger.close()
    actual = {"rule_set": rule_set, "digest": PUBLISHED.get(rule_set).digest, "verdicts": results}
    if os.environ.get("CE_LEDGER_WRITE_GOLDEN") and not golden.exists():
        golden.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n")
    expected = json.loads(golden.read_text())
    assert actual["digest"] == expected["digest"], f"{rule_set} was edited: publish a new rule-set instead"
    assert actual["verdicts"] == expected["verdicts"]
