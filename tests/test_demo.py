"""`ce-ledger demo` (and so a second `make run`) on a store that already holds the demo: exit 0,
and nothing recorded (every command of the demo is a retry)."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app
from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings


def test_the_demo_twice_on_one_store_exits_0_and_records_nothing_the_second_time(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("CE_LEDGER_DATABASE_URL", url)
    runner = CliRunner()
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    ledger = build_ledger(Settings(database_url=url))
    try:
        before = ledger.position()
        assert before > 100
        second = runner.invoke(app, ["demo"])
        assert second.exit_code == 0, second.output
        assert ledger.position() == before
    finally:
        ledger.close()


def test_the_demo_obeys_the_role_rules(memory_ledger, clock):
    # An employer decides only on its own unit's staff; committees and auditors on anyone.
    from datetime import UTC, datetime

    from ce_ledger import demo

    clock.now = datetime(2020, 1, 15, 1, 0, tzinfo=UTC)  # after the 2019 programmes' classes
    loaded = demo.load(memory_ledger)
    demo.load_programmes(memory_ledger)
    checked = 0
    for item in loaded:
        record = memory_ledger.professional(item.professional_id, copy=False)
        for activity in record.activities.values():
            for decision in (activity.decision, activity.void):
                if decision is None:
                    continue
                role, _, rest = decision.decided_by.partition(":")
                assert role in ("employer", "committee", "auditor"), decision.decided_by
                if role == "employer":
                    assert rest == record.employer_unit, (record.name, decision.decided_by)
                checked += 1
    assert checked >= 5


def test_serve_demo_reuses_the_demo_tokens_it_issued_before(tmp_path):
    from api.cli import _demo_tokens
    from ce_ledger import demo
    from ce_ledger.bootstrap import build_services

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with build_services(settings) as services:
        pid = demo.load(services.ledger)[0].professional_id
        first = _demo_tokens(settings, services.access, pid)
        again = _demo_tokens(settings, services.access, pid)
        assert first == again and len(first) == 5
        assert len(services.access.tokens()) == 5  # nothing new minted on the second start
    assert (tmp_path / "demo-tokens.json").stat().st_mode & 0o077 == 0
