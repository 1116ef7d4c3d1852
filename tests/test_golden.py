"""Golden results: a published rule-set's verdicts never change (reading 6).

The file pins, for rule-set NX-2019, its digest and the fingerprint of every demo
person's verdict at every level, built at a fixed time with a fixed key. A change
to NX-2019's parameters or logic, or to how a verdict is written, fails here: new
behaviour belongs in a new rule-set. Write the file for a *new* rule-set with
CE_LEDGER_WRITE_GOLDEN=1; never rewrite an existing one.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from ce_ledger import demo
from ce_ledger.bootstrap import build_ledger
from ce_ledger.domain.values import Level
from ce_ledger.rules.published import PUBLISHED
from tests.builders import Clock

GOLDEN = Path(__file__).parent / "golden" / "nx2019.json"


def test_nx2019_verdicts_are_unchanged(settings):
    fixed = settings.model_copy(update={"secret_key": SecretStr("golden-secret-key-0123456789abcdef")})
    ledger = build_ledger(fixed, clock=Clock(datetime(2019, 3, 25, 1, 0, tzinfo=UTC)))
    try:
        loaded = demo.load(ledger)
        results = {
            f"{item.person.registration.name}/{level}": ledger.evaluate(item.professional_id, level, 2019).fingerprint
            for item in loaded
            for level in Level
        }
    finally:
        ledger.close()
    actual = {"rule_set": "NX-2019", "digest": PUBLISHED.get("NX-2019").digest, "verdicts": results}
    if os.environ.get("CE_LEDGER_WRITE_GOLDEN") and not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert actual["digest"] == expected["digest"], "NX-2019 was edited: publish a new rule-set instead"
    assert actual["verdicts"] == expected["verdicts"]
