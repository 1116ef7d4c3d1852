"""Keys compared in one spelling (reading 16), through the HTTP API on both stores: another
case is the same certificate, platform record or CE base; the parts of a key cannot run into
each other; the record keeps what was typed."""

from __future__ import annotations

from tests.apiclient import SPECIALTY, completion, person_body
from tests.builders import id_number

BASE = {"code": "NXJD-01", "name": "宁夏继续教育基地", "level": "regional", "effective_on": "2012-01-01",
        "decision_ref": "宁人社函〔2012〕1号"}


def _second_person(api) -> str:
    number = id_number()
    pid = api.post("/v1/professionals", person_body(number), "platform").json()["professional_id"]
    return pid, number


def test_a_certificate_in_another_case_is_the_same_certificate(api):
    p = f"/v1/professionals/{api.pid}"
    assert api.post(f"{p}/specialty-credits", {**SPECIALTY, "certificate_no": "C-9a"}, "employer").status_code == 201
    again = api.post(f"{p}/specialty-credits", {**SPECIALTY, "certificate_no": "c-9A"}, "employer")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "certificate_no"  # not a second credit
    other, _ = _second_person(api)
    before = api.services.ledger.position()
    theirs = api.post(f"/v1/professionals/{other}/specialty-credits",
                      {**SPECIALTY, "provider_code": SPECIALTY["provider_code"].lower(), "certificate_no": "C-9A"},
                      "employer")
    assert theirs.status_code == 409 and theirs.json()["errors"][0]["field"] == "certificate_no"  # reading 12
    assert api.services.ledger.position() == before
    history = api.get(f"{p}/history").json()["events"]
    assert any("C-9a" in str(e) for e in history)  # the record keeps what was typed


def test_a_platform_record_in_another_case_is_one_credit(api):
    other, number = _second_person(api)
    first = api.post("/v1/platform/completions", {"completions": [completion(api.number, "pr-77")]}, "platform")
    assert first.json()["results"][0]["status"] == "recorded"
    second = api.post("/v1/platform/completions", {"completions": [completion(number, "PR-77")]}, "platform")
    assert second.json()["results"][0]["status"] == "conflict"


def test_the_parts_of_a_key_cannot_run_into_each_other(api):
    p = f"/v1/professionals/{api.pid}/specialty-credits"
    a = api.post(p, {**SPECIALTY, "provider_code": "A:Q", "certificate_no": "B"}, "employer")
    b = api.post(p, {**SPECIALTY, "provider_code": "A", "certificate_no": "Q:B"}, "employer")
    assert a.status_code == b.status_code == 201 and a.json()["activity_id"] != b.json()["activity_id"]


def test_a_base_code_in_another_case_cannot_escape_its_disqualification(api):
    assert api.post("/v1/providers", BASE, "auditor").status_code == 201
    for change in ({"status": "ordered_to_rectify", "effective_on": "2016-01-10", "decision_ref": "D-1",
                    "deadline": "2016-04-30", "reason": "评估不合格"},
                   {"status": "disqualified", "effective_on": "2016-06-01", "decision_ref": "D-2", "reason": "整改不到位"}):
        assert api.post("/v1/providers/NXJD-01/status", change, "auditor").status_code == 201
    p = f"/v1/professionals/{api.pid}"
    claim = api.post(f"{p}/specialty-credits", {**SPECIALTY, "provider_code": "nxjd-01", "certificate_no": "D-1",
                                                "completed_on": "2016-09-01"}, "employer").json()["activity_id"]
    assert api.post(f"{p}/specialty-credits/{claim}/verification", {"decision": "verified", "reason": "ok"},
                    "employer").status_code == 201
    verdict = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    line = next(i for i in verdict["items"] if i["activity_id"] == claim)
    assert line["credited_hours"] == "0" and "disqualified" in line["reason"]
    totals = api.get(f"{p}/totals?from_year=2015&to_year=2018").json()
    assert totals["credited"]["specialty"] == "0"


def test_certificates_naming_a_base_without_a_record_are_listed_for_auditors(api):
    assert api.post("/v1/providers", BASE, "auditor").status_code == 201
    p = f"/v1/professionals/{api.pid}/specialty-credits"
    api.post(p, {**SPECIALTY, "provider_code": "nxjd-01", "certificate_no": "K-1"}, "employer")  # known, other case
    api.post(p, {**SPECIALTY, "provider_code": "FAKE-9", "certificate_no": "K-2"}, "employer")
    api.post(p, {**SPECIALTY, "provider_code": "fake-9", "certificate_no": "K-3"}, "employer")
    listed = api.get("/v1/providers/unknown", "auditor")
    assert listed.status_code == 200
    assert listed.json() == [{"code": "FAKE-9", "certificates": 2, "people": 1}]
    assert api.get("/v1/providers/unknown", "committee").status_code == 403


def test_keys_that_collide_once_canonical_in_an_older_store_are_listed_not_merged(api, monkeypatch):
    """A store written before keys were compared in one spelling: the same certificate typed in two
    cases was two credits. `verify` lists them (and records the finding once); an auditor sees them
    in the workbench, on the review page and on the record; a void resolves the collision."""
    from ce_ledger.domain.details import SpecialtyCredit
    from tests.test_workbench import signed_in

    p = f"/v1/professionals/{api.pid}"
    with monkeypatch.context() as old:  # as keys were compared before: as typed
        old.setattr(SpecialtyCredit, "canonical_key", lambda self: self.natural_key())
        first = api.post(f"{p}/specialty-credits", {**SPECIALTY, "certificate_no": "C-7a"}, "employer").json()
        second = api.post(f"{p}/specialty-credits", {**SPECIALTY, "provider_code": "nxjd-01",
                                                     "certificate_no": "c-7A"}, "employer").json()
    assert first["activity_id"] != second["activity_id"]
    audit = api.services.audit
    report = audit.verify()
    assert report.intact and len(report.collisions) == 1
    [collision] = report.collisions
    assert {str(a.activity_id) for a in collision.activities} == {first["activity_id"], second["activity_id"]}
    assert {a.typed for a in collision.activities} >= {"certificate:nxjd-01:c-7A"}  # as typed, kept
    assert audit.record_findings(report, by="auditor:test") and not audit.record_findings(report, by="auditor:test")

    signed_in(api, "auditor")
    assert "编号冲突待复核（1 组" in api.client.get("/workbench/").text
    page = api.client.get("/workbench/review").text
    assert "NXJD-01" in page and second["activity_id"] in page and "c-7A" in page
    assert "编号冲突待复核：本记录的 1 项学习活动" in api.client.get(f"/workbench/professionals/{api.pid}").text
    signed_in(api, "committee")
    assert api.client.get("/workbench/review").status_code == 403

    api.post(f"{p}/activities/{second['activity_id']}/void", {"reason": "重复登记", "decision_ref": "稽-1"}, "auditor")
    cleared = audit.verify()
    assert cleared.collisions == () and audit.record_findings(cleared, by="auditor:test")
    assert audit.findings().collisions == ()
