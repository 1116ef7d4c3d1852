"""Tokens have a lifecycle (issue: security hardening): listed without the token, revoked (refused
by every process within the stated bound), expiring; a workbench sign-out ends the session on
the server, so a copied cookie is refused afterwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from api.cli import app
from ce_ledger.access import AccessRegistry, Principal, Role
from ce_ledger.bootstrap import build_access
from tests.test_workbench import signed_in


def test_list_revoke_and_the_bound_on_other_processes(settings):
    issuer, other = build_access(settings), build_access(settings)  # two server processes, say
    try:
        token = issuer.issue(Principal(role=Role.COMMITTEE, name="审核员"), by="cli:test")
        platform = issuer.issue(Principal(role=Role.PLATFORM, name="平台"), by="cli:test")
        listed = {t.principal.name: t for t in issuer.tokens()}
        assert listed["审核员"].expires_at is not None and listed["平台"].expires_at is None  # people's tokens end
        assert all(token not in repr(t) for t in listed.values())
        other.CACHE_SECONDS = 0.5  # the bound, shortened for the test (5 s in service: AccessRegistry.CACHE_SECONDS)
        assert other.principal(token) is not None  # now known (and kept) in the other process
        issuer.revoke(listed["审核员"].id, reason="离职", by="cli:test")
        assert issuer.principal(token) is None  # at once where it was revoked
        time.sleep(0.6)
        assert other.principal(token) is None  # and within the bound everywhere
        assert other.principal(platform) is not None
        assert {t.principal.name: t.state for t in issuer.tokens()} == {"审核员": "revoked", "平台": "valid"}
        # Last used: the day's first use is recorded once, however many processes and look-ups.
        used = {t.principal.name: t.last_used for t in issuer.tokens()}
        assert used["平台"] is not None and used["平台"].date() == datetime.now(UTC).date()
        issuer._cache.clear()
        assert issuer.principal(platform) is not None
        assert sum(1 for _ in issuer.events.get(listed["平台"].id)) == 2  # issued, used today
        short = issuer.issue(Principal(role=Role.AUDITOR, name="临时"), expires_in=timedelta(seconds=0.3))
        assert issuer.principal(short) is not None
        time.sleep(0.4)
        assert issuer.principal(short) is None  # expired (and never kept past its end)
    finally:
        issuer.close()
        other.close()
    assert AccessRegistry.CACHE_SECONDS == 5.0


def test_the_tokens_commands(settings, monkeypatch):
    monkeypatch.setenv("CE_LEDGER_DATABASE_URL", settings.database_url)
    if settings.secret_key is not None:
        monkeypatch.setenv("CE_LEDGER_SECRET_KEY", settings.secret_key.get_secret_value())
    runner = CliRunner()
    issued = runner.invoke(app, ["tokens", "issue", "--role", "auditor", "--name", "甲", "--expires-in", "7"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    listed = runner.invoke(app, ["tokens", "list", "--json"])
    assert listed.exit_code == 0 and token not in listed.output and '"state": "valid"' in listed.output
    assert "last_used" in listed.output
    import json

    row = json.loads(listed.output.splitlines()[0])
    revoked = runner.invoke(app, ["tokens", "revoke", row["id"], "--reason", "测试"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert '"state": "revoked"' in runner.invoke(app, ["tokens", "list", "--json"]).output


def test_sign_out_ends_the_session_on_the_server(api):
    signed_in(api, "committee")
    copied = dict(api.client.cookies)
    page = f"/workbench/professionals/{api.pid}"

    def with_copied_cookie():
        api.client.cookies.clear()
        for k, v in copied.items():
            api.client.cookies.set(k, v, path="/workbench")
        return api.client.get(page, follow_redirects=False)

    assert with_copied_cookie().status_code == 200  # the copy works, as a stolen cookie would
    csrf = __import__("re").search(r'name="csrf" value="([^"]+)"', api.client.get("/workbench/").text).group(1)
    out = api.client.post("/workbench/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    again = with_copied_cookie()
    assert again.status_code == 303 and again.headers["location"].endswith("/workbench/sign-in")


def test_a_workbench_session_dies_with_its_token(api):
    signed_in(api, "committee")
    page = f"/workbench/professionals/{api.pid}"
    assert api.client.get(page).status_code == 200
    access = api.services.access
    mine = next(t for t in access.tokens() if t.principal.name == "committee")
    access.revoke(mine.id, reason="离职", by="auditor:test")
    gone = api.client.get(page, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].endswith("/workbench/sign-in")
