"""`ce-ledger verify / replay / checkpoint / prove` as an operator runs them (real processes, SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime

from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from ce_ledger.demo import load
from ce_ledger.domain.commands import Voiding
from tests import launcher
from tests.tamper import Tamper
from tests.test_audit import third_party_verify


def cli(db, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"sqlite:///{db}"}
    return launcher.run(list(args), env, timeout=60)


def test_the_audit_commands_on_the_demo(tmp_path):
    db = tmp_path / "ledger.sqlite"
    ledger = build_ledger(Settings(database_url=f"sqlite:///{db}"), clock=lambda: datetime(2019, 3, 25, 1, tzinfo=UTC))
    first = load(ledger)[0]
    issued = ledger.issue_verdict(first.professional_id, first.person.level, 2019, by="committee:t")
    counted = [x for x in issued.verdict.items if x.credited_hours > 0][-1]
    ledger.void(first.professional_id, counted.activity_id, Voiding(reason="证书系伪造", decision_ref="R-1"), by="auditor:t")

    assert cli(db, "checkpoint").returncode == 0
    ok = cli(db, "verify")
    assert ok.returncode == 0 and "intact" in ok.stdout
    replayed = cli(db, "replay", str(issued.originator_id), "--json")
    assert replayed.returncode == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert result["reproduced"] and result["changes_since"]["activities"][0]["activity_id"] == str(counted.activity_id)
    proof = cli(db, "prove", str(first.professional_id))
    assert proof.returncode == 0 and third_party_verify(json.loads(proof.stdout))

    tamper = Tamper(ledger)
    state = tamper.state(first.professional_id, 2)
    state["title"] = "改过的课程"
    tamper.set_state(first.professional_id, 2, state)
    ledger.close()
    broken = cli(db, "verify", "--json")
    assert broken.returncode == 1
    [found] = json.loads(broken.stdout)["breaks"]
    assert (found["stream_id"], found["version"], found["kind"]) == (str(first.professional_id), 2, "content_changed")
    assert cli(db, "replay", str(issued.originator_id)).returncode == 1
