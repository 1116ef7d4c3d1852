"""Backup and restore across stores: chains verify, verdicts replay to the same fingerprints, totals match."""

from __future__ import annotations

import io
import os
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from ce_ledger.access import Principal, Role
from ce_ledger.bootstrap import build_access, build_services
from ce_ledger import demo
from ce_ledger.audit.service import Audit
from ce_ledger.backup import Header, RestoreRefused, export_log, key_check, restore_log
from ce_ledger.config import Settings, secret_key
from ce_ledger.domain.commands import Voiding
from tests import launcher
from tests.builders import Clock
from tests.conftest import postgres_schema

SECRET = "backup-secret-key-0123456789abcdef0123"


@pytest.fixture
def stores(tmp_path):
    """Makes empty stores: ``stores("sqlite")`` or ``stores("postgres")``, dropped afterwards."""
    with ExitStack() as schemas:

        def make(kind: str, **over) -> Settings:
            if kind == "sqlite":
                return Settings(database_url=f"sqlite:///{tmp_path / uuid.uuid4().hex / 'ledger.sqlite'}", secret_key=SECRET, **over)
            return Settings(database_url=schemas.enter_context(postgres_schema("b")), secret_key=SECRET, **over)

        yield make


def fill(settings: Settings):
    """A realistic history: the demo, verdicts, a void after one, a checkpoint, a token."""
    clock = Clock(datetime(2019, 3, 25, 1, tzinfo=UTC))
    with build_services(settings.model_copy(update={"view_upkeep": "inline"}), clock=clock) as services:
        ledger = services.ledger
        loaded = demo.load(ledger)
        verdicts = [ledger.issue_verdict(item.professional_id, item.person.level, 2019, by="committee:c") for item in loaded]
        first = ledger.professional(loaded[0].professional_id)
        claim = next(a for a in first.activities.values() if a.kind == "specialty")
        clock.now = datetime(2019, 4, 2, tzinfo=UTC)
        ledger.void(first.id, claim.id, Voiding(reason="抽查发现伪造", decision_ref="抽查-9"), by="auditor:a")
        Audit(ledger).checkpoint(by="auditor:a")
        totals = {item.professional_id: services.totals.window(item.professional_id, 2014, 2018) for item in loaded}
    access = build_access(settings)
    token = access.issue(Principal(role=Role.AUDITOR, name="backup"))
    access.close()
    return verdicts, totals, token


def header_for(settings: Settings, counts: dict) -> Header:
    return Header(key_check=key_check(secret_key(settings)), encrypted=settings.encryption_key is not None, counts=counts)


def export_to_text(settings: Settings) -> str:
    from ce_ledger.bootstrap import build_ledger

    ledger, access = build_ledger(settings), build_access(settings)
    try:
        recorders = {"ledger": ledger.recorder, "access": access.recorder}
        counts = {k: len(r.select_notifications(start=None, limit=10**6)) for k, r in recorders.items()}
        out = io.StringIO()
        export_log(recorders, out, header_for(settings, counts))
        return out.getvalue()
    finally:
        ledger.close()
        access.close()


def restore_text(settings: Settings, text: str) -> dict:
    from ce_ledger.bootstrap import build_ledger

    ledger, access = build_ledger(settings), build_access(settings)
    try:
        return restore_log({"ledger": ledger.recorder, "access": access.recorder}, io.StringIO(text),
                           header_for(settings, {}))
    finally:
        ledger.close()
        access.close()


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgres"), ("postgres", "sqlite")])
def test_a_log_restored_on_the_other_store_verifies_replays_and_totals_match(stores, source, target):
    src, dst = stores(source), stores(target)
    verdicts, totals, token = fill(src)
    text = export_to_text(src)
    done = restore_text(dst, text)
    assert done["ledger"] == len(text.splitlines()) - 1 - done["access"] and done["access"] >= 1

    with build_services(dst) as services:
        audit = Audit(services.ledger)
        report = audit.verify()
        assert report.intact and report.checkpoints == 1
        for issued in verdicts:
            replay = audit.replay(issued.originator_id)
            assert replay.reproduced and replay.recomputed_fingerprint == issued.fingerprint
        assert any(replay.changes_since.activities for replay in (audit.replay(v.originator_id) for v in verdicts))
        for pid, expected in totals.items():
            assert services.totals.window(pid, 2014, 2018) == expected
        assert services.ledger.position() == max(int(line.split('"id": ')[1].split(",")[0]) for line in text.splitlines()[1:] if '"app": "ledger"' in line)
    access = build_access(dst)
    try:
        assert access.principal(token).name == "backup"  # tokens travel with the log
    finally:
        access.close()


def test_a_restore_is_refused_into_a_store_that_is_not_empty_or_has_other_keys(stores):
    src = stores("sqlite")
    fill(src)
    text = export_to_text(src)
    with pytest.raises(RestoreRefused, match="not empty"):
        restore_text(src, text)
    other = stores("sqlite").model_copy(update={"secret_key": SecretStr("another-secret-key-0123456789abcdef")})
    with pytest.raises(RestoreRefused, match="another CE_LEDGER_SECRET_KEY"):
        restore_text(other, text)
    encrypted = stores("sqlite", encryption_key="q0v4ydK9T0jN0oM2yL2dXg==")
    with pytest.raises(RestoreRefused, match="encrypted|in clear"):
        restore_text(encrypted, text)
    truncated = "\n".join(text.splitlines()[:-3]) + "\n"
    empty = stores("sqlite")
    with pytest.raises(RestoreRefused, match="incomplete"):
        restore_text(empty, truncated)


def test_an_encrypted_log_travels_as_ciphertext(stores):
    key = "q0v4ydK9T0jN0oM2yL2dXg=="
    src, dst = stores("sqlite", encryption_key=key), stores("postgres", encryption_key=key)
    verdicts, _, _ = fill(src)
    text = export_to_text(src)
    assert '"state_b64"' in text and "马晓明" not in text
    restore_text(dst, text)
    with build_services(dst) as services:
        audit = Audit(services.ledger)
        assert audit.verify().breaks == ()
        assert all(audit.replay(v.originator_id).reproduced for v in verdicts)


def test_the_export_and_import_log_commands(stores, tmp_path):
    src, dst = stores("sqlite"), stores("postgres")
    fill(src)
    path = tmp_path / "ledger.jsonl"

    def cli(settings: Settings, *args: str):
        env = {**os.environ, "CE_LEDGER_DATABASE_URL": settings.database_url, "CE_LEDGER_SECRET_KEY": SECRET}
        return launcher.run(list(args), env)

    out = cli(src, "export", str(path))
    assert out.returncode == 0 and "events written" in out.stdout, out.stderr
    out = cli(dst, "import-log", str(path))
    assert out.returncode == 0 and "restored ledger:" in out.stdout, out.stdout + out.stderr
    assert cli(dst, "verify").returncode == 0
    out = cli(dst, "import-log", str(path))
    assert out.returncode == 2 and "not empty" in out.stdout
