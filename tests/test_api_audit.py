"""The audit endpoints through HTTP: verdict lists, replay, history as of, verification, proofs."""

from __future__ import annotations

import pytest

from uuid import UUID

from tests.tamper import Tamper
from tests.apiclient import SPECIALTY, completion


@pytest.fixture
def settings(sqlite_settings):
    """HTTP behaviour on SQLite; the stores' own behaviour is tested on both elsewhere."""
    return sqlite_settings


def test_a_verdict_is_listed_replayed_after_a_void_and_its_change_shown(api):  # noqa: F811
    p = f"/v1/professionals/{api.pid}"
    done = api.post("/v1/platform/completions", {"completions": [
        completion(api.number, f"AU-{y}", hours="27", on=f"{y}-03-01") for y in (2015, 2016, 2017, 2018)
    ]}, "platform").json()
    assert {r["status"] for r in done["results"]} == {"recorded"}
    claim = api.post(f"{p}/specialty-credits", {**SPECIALTY, "hours": "216"}, "employer").json()["activity_id"]
    api.post(f"{p}/specialty-credits/{claim}/verification", {"decision": "verified", "reason": "真实"}, "employer")
    verdict = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    assert verdict["passed"] is True and verdict["pins"][0]["version"] == 7
    version_then = verdict["pins"][0]["version"]

    r = api.post(f"{p}/activities/{claim}/void", {"reason": "证书系伪造", "decision_ref": "稽〔2019〕1号"}, "auditor")
    assert r.status_code == 201, r.text

    listed = api.get(f"{p}/verdicts", "self").json()["verdicts"]
    assert [v["verdict_id"] for v in listed] == [verdict["verdict_id"]] and listed[0]["passed"] is True
    replay = api.post(f"/v1/verdicts/{verdict['verdict_id']}/replay", None, "auditor").json()
    assert replay["reproduced"] is True
    assert replay["recorded_fingerprint"] == replay["recomputed_fingerprint"] == verdict["fingerprint"]
    changes = replay["changes_since"]
    assert (changes["passed_then"], changes["passed_now"]) == (True, False)
    [change] = changes["activities"]
    assert change["activity_id"] == claim and change["credited_then"] == "216" and change["credited_now"] == "0"
    assert [e["happened"] for e in change["events"]] == ["voided"]
    assert change["events"][0]["decision_ref"] == "稽〔2019〕1号" and change["events"][0]["reason"] == "证书系伪造"

    now = api.get(f"{p}/history").json()["events"]
    then = api.get(f"{p}/history?as_of={version_then}").json()
    assert len(now) == version_then + 1 and len(then["events"]) == version_then and then["as_of"] == str(version_then)
    assert all(e["data"]["digest"] for e in now)
    assert now[1]["data"]["previous_digest"] == now[0]["data"]["digest"]
    at_time = api.get(f"{p}/history?as_of={now[-1]['recorded_at']}").json()["events"]
    assert len(at_time) == len(now)
    bad = api.get(f"{p}/history?as_of=yesterday")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "as_of"


def test_verification_and_proofs_over_http_find_a_tampered_row(api):  # noqa: F811
    assert api.get("/v1/ledger/verification", "auditor").json()["intact"] is True
    checkpoint = api.post("/v1/ledger/checkpoints", None, "auditor").json()
    proof = api.get(f"/v1/ledger/proofs/{api.pid}", "committee").json()
    assert proof["root"] == checkpoint["root"] and proof["checkpoint"] == checkpoint["checkpoint"] == 1

    pid = UUID(api.pid)
    tamper = Tamper(api.services.ledger)
    state = tamper.state(pid, 1)
    state["name"] = "李四"
    tamper.set_state(pid, 1, state)
    report = api.get("/v1/ledger/verification", "auditor").json()
    assert report["intact"] is False
    assert [(b["stream_id"], b["version"], b["kind"]) for b in report["breaks"]] == [(api.pid, 1, "content_changed")]
