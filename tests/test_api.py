"""The HTTP API, driven through FastAPI's test client on both stores."""

from __future__ import annotations

import pytest

from tests.apiclient import OTHER_UNIT, SPECIALTY, UNIT, completion, person_body
from tests.builders import id_number


@pytest.fixture
def settings(sqlite_settings):
    """HTTP behaviour on SQLite; the stores' own behaviour is tested on both elsewhere."""
    return sqlite_settings


def test_registering_twice_answers_200_with_the_same_id(api):
    again = api.post("/v1/professionals", person_body(api.number), "platform")
    assert again.status_code == 200 and again.json() == {"professional_id": api.pid, "created": False}


def test_a_bad_id_number_is_named_and_never_echoed(api):
    bad = api.number[:-1] + ("0" if api.number[-1] != "0" else "1")
    r = api.post("/v1/professionals", person_body(bad), "platform")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "id_number" and "check digit" in r.json()["errors"][0]["rule"]
    assert bad not in r.text


def test_an_employer_registers_only_its_own_staff(api):
    r = api.post("/v1/professionals", person_body(id_number(), OTHER_UNIT), "employer")
    assert r.status_code == 403 and "own staff" in r.json()["detail"]


# -- completions -------------------------------------------------------------------------------


def test_a_batch_reports_each_item_and_a_retry_records_nothing_twice(api):
    unknown = id_number(region="640205")
    batch = {"completions": [
        completion(api.number, "R-1", hours=0.1),  # a JSON number, read exactly
        completion(api.number, "R-2", hours="-1"),
        completion(unknown, "R-3"),
        completion(api.number, "R-4", on="2031-01-01"),
        completion(api.number, "R-5", hours="12.5"),
    ]}
    first = api.post("/v1/platform/completions", batch, "platform")
    assert first.status_code == 200
    statuses = [(r["record_id"], r["status"], (r["error"] or {}).get("field")) for r in first.json()["results"]]
    assert statuses == [
        ("R-1", "recorded", None), ("R-2", "rejected", "hours"), ("R-3", "rejected", "id_number"),
        ("R-4", "rejected", "completed_on"), ("R-5", "recorded", None),
    ]
    events = api.events()
    again = api.post("/v1/platform/completions", batch, "platform").json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "rejected", "rejected", "rejected", "duplicate"]
    assert api.events() == events
    changed = {"completions": [completion(api.number, "R-5", hours="13")]}
    assert api.post("/v1/platform/completions", changed, "platform").json()["results"][0]["status"] == "conflict"
    totals = api.get(f"/v1/professionals/{api.pid}/totals?from_year=2015&to_year=2018", "self").json()
    assert totals["public_hours"] == "12.6" and totals["credited"]["public_course"] == "12.6"


def test_more_than_1000_completions_is_refused_whole(api):
    items = [completion(api.number, f"X-{i}") for i in range(1001)]
    r = api.post("/v1/platform/completions", {"completions": items}, "platform")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "completions"
    assert api.events() == 1


# -- activities, decisions, voids, totals, history -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "bad", "field"),
    [
        ("specialty-credits", SPECIALTY, {"route": "bribery", "certificate_no": "C-101"}, "route"),
        ("study-tours", {"first_day": "2016-04-10", "last_day": "2016-04-16", "days": 5, "subject": "考察",
                         "document_ref": "宁交考〔2016〕4号"}, {"days": 9, "document_ref": "D-2"}, "days"),
        ("teaching", {"taught_on": "2017-09-15", "hours_taught": "8", "course": "讲座", "document_ref": "T-1"},
         {"hours_taught": "25", "document_ref": "T-2"}, "hours_taught"),
        ("exam-passes", {"exam": "computer_module", "module": "WORD", "passed_on": "2013-04-14",
                         "certificate_no": "JSJ-1"}, {"module": None, "certificate_no": "JSJ-2"}, "module"),
        ("degrees", {"kind": "second", "institution": "宁夏大学", "enrolled_on": "2014-09-01",
                     "graduated_on": "2017-07-01", "certified_hours": "180"},
         {"graduated_on": "2013-07-01"}, "graduated_on"),
    ],
)
def test_each_kind_of_activity_records_once_and_refuses_bad_input(api, path, body, bad, field):
    url = f"/v1/professionals/{api.pid}/{path}"
    first = api.post(url, body, "employer")
    assert first.status_code == 201 and first.json()["status"] == "recorded"
    again = api.post(url, body, "committee")
    assert again.status_code == 200 and again.json()["activity_id"] == first.json()["activity_id"]
    events = api.events()
    wrong = api.post(url, {**body, **bad}, "committee")
    assert wrong.status_code == 422, wrong.text
    assert field in [e["field"] for e in wrong.json()["errors"]]
    assert api.events() == events


def test_verification_void_totals_and_history(api):
    claim = api.post(f"/v1/professionals/{api.pid}/specialty-credits", SPECIALTY, "employer").json()["activity_id"]
    totals = f"/v1/professionals/{api.pid}/totals?from_year=2015&to_year=2018"
    assert api.get(totals, "employer").json()["pending_claims"] == 1
    verified = api.post(f"/v1/professionals/{api.pid}/specialty-credits/{claim}/verification",
                        {"decision": "verified", "reason": "证书真实"}, "employer")
    assert verified.status_code == 201
    assert api.get(totals, "employer").json()["total_hours"] == "40"
    final = api.post(f"/v1/professionals/{api.pid}/specialty-credits/{claim}/verification",
                     {"decision": "rejected", "reason": "改判"}, "committee")
    assert final.status_code == 409 and "void" in final.json()["detail"]
    voided = api.post(f"/v1/professionals/{api.pid}/activities/{claim}/void",
                      {"reason": "伪造证书", "decision_ref": "宁人社函〔2019〕12号"}, "auditor")
    assert voided.status_code == 201
    assert api.get(totals, "self").json()["total_hours"] == "0"
    history = api.get(f"/v1/professionals/{api.pid}/history", "auditor").json()["events"]
    assert [e["kind"] for e in history] == [
        "ProfessionalRegistered", "SpecialtyCreditClaimed", "SpecialtyCreditVerified", "ActivityVoided"]
    assert history[1]["valid_on"] == "2016-05-01" and history[1]["recorded_at"].startswith("2019-03-25")
    assert history[1]["data"]["hours"] == "40"


def test_a_void_of_an_unknown_activity_is_refused(api):
    r = api.post(f"/v1/professionals/{api.pid}/activities/00000000-0000-0000-0000-000000000001/void",
                 {"reason": "x", "decision_ref": "R"}, "auditor")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "activity_id"


def test_verdicts_are_issued_recorded_and_read_back(api):
    for i, year in enumerate(range(2015, 2019)):
        api.post("/v1/platform/completions", {"completions": [completion(api.number, f"V-{i}", hours="27", on=f"{year}-06-01")]}, "platform")
    r = api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019})
    assert r.status_code == 201
    verdict = r.json()
    assert verdict["window"] == {"from_year": 2015, "to_year": 2018}
    assert verdict["required"] == {"total_hours": "324", "public_hours": "108"}
    assert verdict["credited"]["public_hours"] == "108" and verdict["passed"] is False
    assert verdict["rule_set"]["id"] == "NX-2019.2" and len(verdict["items"]) == 4
    assert {"activity_id", "kind", "occurred_on", "claimed_hours", "credited_hours", "counts_toward", "reason"} <= set(verdict["items"][0])
    back = api.get(f"/v1/verdicts/{verdict['verdict_id']}", "self").json()
    assert back == verdict
    assert api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2020}).status_code == 422
    unknown = api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "senior", "evaluation_year": 2019, "rule_set": "NX-2031"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "rule_set"


# -- bad requests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [
        (b'{"completions": [', 400, None),
        (b'{"completions": "many"}', 422, "completions"),
        (b'{"completions": [], "extra": 1}', 422, "completions"),
        (b'{"completions": [{"record_id": "A"}], "priority": "high"}', 422, "priority"),
        (b"[1, 2]", 422, None),
    ],
)
def test_malformed_bodies_get_a_4xx_problem_and_record_nothing(api, content, status, field):
    r = api.client.post("/v1/platform/completions", content=content,
                        headers={**api.headers("platform"), "content-type": "application/json"})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in r.json()["errors"]]
    assert api.events() == 1


def test_an_oversized_body_is_refused(api):
    huge = b'{"completions": [' + b'{"record_id": "' + b"x" * (3 * 1024 * 1024) + b'"}]}'
    r = api.client.post("/v1/platform/completions", content=huge,
                        headers={**api.headers("platform"), "content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


# -- who may do what -------------------------------------------------------------------------------

WHO = ["none", "unknown", "platform", "employer", "other_employer", "committee", "auditor", "self", "other_professional"]


def _matrix(api):
    pid = api.pid
    claim = api.post(f"/v1/professionals/{pid}/specialty-credits", {**SPECIALTY, "certificate_no": "M-1"}, "committee").json()["activity_id"]
    verdict = api.post(f"/v1/professionals/{pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()["verdict_id"]
    p = f"/v1/professionals/{pid}"
    assert api.post("/v1/providers", PROVIDER, "auditor").status_code == 201
    assert api.post("/v1/programmes", PROGRAMME, "auditor").status_code == 201
    return [
        ("POST", "/v1/professionals", lambda: person_body(id_number(), UNIT), {"platform", "employer", "committee"}),
        ("POST", "/v1/platform/completions", lambda: {"completions": [completion(api.number, f"A-{id(object())}")]}, {"platform"}),
        ("POST", f"{p}/specialty-credits", lambda: {**SPECIALTY, "certificate_no": f"A-{id(object())}"}, {"employer", "committee"}),
        ("POST", f"{p}/study-tours", lambda: {"first_day": "2016-04-10", "last_day": "2016-04-11", "days": 1, "subject": "s", "document_ref": f"A-{id(object())}"}, {"employer", "committee"}),
        ("POST", f"{p}/teaching", lambda: {"taught_on": "2017-09-15", "hours_taught": "0.5", "course": "c", "document_ref": f"A-{id(object())}"}, {"employer", "committee"}),
        ("POST", f"{p}/exam-passes", lambda: {"exam": "foreign_language", "passed_on": "2010-01-01", "certificate_no": f"A-{id(object())}"}, {"employer", "committee"}),
        ("POST", f"{p}/degrees", lambda: {"kind": "higher", "institution": f"A-{id(object())}", "enrolled_on": "2010-09-01", "graduated_on": "2013-07-01"}, {"employer", "committee"}),
        ("POST", f"{p}/specialty-credits/{claim}/verification", lambda: {"decision": "verified", "reason": "ok"}, {"employer", "committee"}),
        ("POST", f"{p}/activities/{claim}/void", lambda: {"reason": "x", "decision_ref": "R"}, {"auditor"}),
        ("GET", f"{p}/totals?from_year=2015&to_year=2018", None, {"employer", "committee", "auditor", "self"}),
        ("GET", f"{p}/history", None, {"employer", "committee", "auditor", "self"}),
        ("POST", f"{p}/verdicts", lambda: {"level": "intermediate", "evaluation_year": 2019}, {"committee", "auditor"}),
        ("GET", f"/v1/verdicts/{verdict}", None, {"employer", "committee", "auditor", "self"}),
        ("GET", f"{p}/verdicts", None, {"employer", "committee", "auditor", "self"}),
        ("GET", f"{p}/assessment-form?evaluation_year=2019&level=intermediate", None, {"employer", "committee", "auditor", "self"}),
        ("POST", f"/v1/verdicts/{verdict}/replay", None, {"committee", "auditor"}),
        ("GET", "/v1/ledger/verification", None, {"auditor"}),
        ("POST", "/v1/ledger/checkpoints", None, {"auditor"}),
        ("GET", "/v1/ledger/checkpoints", None, {"auditor"}),
        ("GET", f"/v1/ledger/proofs/{pid}", None, {"committee", "auditor"}),
        ("POST", "/v1/providers", lambda: PROVIDER, {"auditor"}),
        ("POST", "/v1/providers/NXT-01/status", lambda: RECTIFY, {"auditor"}),
        ("POST", "/v1/programmes", lambda: PROGRAMME, {"auditor"}),
        ("GET", "/v1/programmes/report?year=2019", None, {"committee", "auditor"}),
        ("GET", "/v1/programmes/GY-T-01", None, {"platform", "employer", "other_employer", "committee", "auditor", "self", "other_professional"}),
        ("GET", "/v1/providers/NXT-01", None, {"platform", "employer", "other_employer", "committee", "auditor", "self", "other_professional"}),
    ]


PROVIDER = {"code": "NXT-01", "name": "宁夏测试继续教育基地", "level": "regional", "effective_on": "2012-01-01", "decision_ref": "认定-1"}
PROGRAMME = {"code": "GY-T-01", "title": "高级研修班", "kind": "advanced_seminar", "year": 2019, "planned_classes": 2, "planned_trainees": 60, "provider_code": "NXT-01"}
RECTIFY = {"status": "ordered_to_rectify", "effective_on": "2017-03-01", "deadline": "2017-06-30", "decision_ref": "考核-1", "reason": "考核不合格"}


def test_auth_matrix_every_role_on_every_endpoint(api):
    failures = []
    for method, path, body, allowed in _matrix(api):
        for who in WHO:
            headers = api.headers(None if who == "none" else who)
            r = api.client.request(method, path, json=body() if body else None, headers=headers)
            expected = "2xx" if who in allowed else ("401" if who in ("none", "unknown") else "403")
            got = "2xx" if 200 <= r.status_code < 300 else str(r.status_code)
            if got != expected:
                failures.append(f"{who} {method} {path}: {r.status_code} (expected {expected}) {r.text[:120]}")
    assert failures == []


def test_the_openapi_document_lists_every_operation_and_its_problems(api):
    doc = api.client.get("/openapi.json").json()
    operations = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    for method, path, _, _ in _matrix(api):
        template = path.split("?")[0]
        for part in template.split("/"):
            if len(part) == 36 and part.count("-") == 4:
                template = template.replace(part, "{x}")
        assert any(m == method and _same(p, template) for m, p in operations), (method, path)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path != "/v1/ping":
                assert "401" in op["responses"], (method, path)
    assert doc["components"]["schemas"]["CompletionItem"]["properties"]["hours"]


def _same(pattern: str, path: str) -> bool:
    a, b = pattern.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_providers_over_http_name_the_rule_they_break(api):
    r = api.post("/v1/providers", PROVIDER, "auditor")
    assert r.status_code == 201 and r.json()["standing"] == "accredited"
    assert api.post("/v1/providers", PROVIDER, "auditor").status_code == 200
    r = api.post("/v1/providers", {**PROVIDER, "name": "别的名字"}, "auditor")
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "code"
    r = api.post("/v1/providers/NXT-01/status", {**RECTIFY, "status": "disqualified"}, "auditor")
    assert r.status_code == 409 and "can next be ordered_to_rectify" in r.json()["detail"]
    r = api.post("/v1/providers/NXT-01/status", {k: v for k, v in RECTIFY.items() if k != "deadline"}, "auditor")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "deadline"
    assert api.post("/v1/providers/NXT-01/status", RECTIFY, "auditor").status_code == 201
    assert api.post("/v1/providers/NXT-01/status", RECTIFY, "auditor").status_code == 200
    body = api.get("/v1/providers/NXT-01").json()
    assert [(d["decision"], d["standing"]) for d in body["decisions"]] == [
        ("accredited", "accredited"), ("ordered_to_rectify", "ordered_to_rectify")
    ]
    assert body["decisions"][1]["deadline"] == "2017-06-30"
    assert api.get("/v1/providers/NOPE-9").status_code == 404
    r = api.post(f"/v1/professionals/{api.pid}/specialty-credits", {**SPECIALTY, "certificate_no": "P-1", "programme_code": "NONE-1"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "programme_code"


def test_every_so_many_requests_the_server_moves_what_survived_out_of_the_collectors_reach(shared_api):
    """The cached records of a busy server are frozen a few at a time (``ce_ledger.collector``)
    instead of piling up in the young generation until one collection scans them all."""
    import gc

    from ce_ledger.collector import TEND_EVERY

    kept = [[n] for n in range(5_000)]  # what a request leaves behind that stays (a cached record)
    before = gc.get_freeze_count()
    for _ in range(TEND_EVERY):
        assert shared_api.client.get("/v1/ping").status_code == 200
    assert gc.get_freeze_count() >= before + len(kept)
