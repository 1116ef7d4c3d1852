"""Verdicts that cannot be bent (issue: trustworthy verdicts), through the HTTP API:
new verdicts only under the rule-set in force, a verdict under a superseded rule-set marked so
wherever it is shown, and no verdict on a record whose stored history does not verify."""

from __future__ import annotations

from uuid import UUID

from ce_ledger.rules import nx2019
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.ruleset import Registry
from tests.apiclient import SPECIALTY, completion
from tests.tamper import Tamper
from tests.test_workbench import signed_in


def test_a_verdict_under_another_rule_set_than_the_one_in_force_is_refused_naming_it(api):
    before = api.services.ledger.position()
    r = api.post(f"/v1/professionals/{api.pid}/verdicts",
                 {"level": "intermediate", "evaluation_year": 2019, "rule_set": "NX-2019"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rule_set" and "NX-2019.2" in r.json()["errors"][0]["rule"]
    assert api.services.ledger.position() == before
    named = api.post(f"/v1/professionals/{api.pid}/verdicts",
                     {"level": "intermediate", "evaluation_year": 2019, "rule_set": "NX-2019.2"})
    assert named.status_code == 201 and named.json()["superseded_by"] is None


def test_a_verdict_issued_under_a_rule_set_since_superseded_is_marked_everywhere(api):
    ledger = api.services.ledger
    ledger.rule_sets = Registry(nx2019.RULE_SET)  # as it was before NX-2019.1 and NX-2019.2 were published
    try:
        old = ledger.issue_verdict(UUID(api.pid), "intermediate", 2019, by="committee:then")
    finally:
        ledger.rule_sets = PUBLISHED
    vid = str(old.originator_id)
    assert api.get(f"/v1/verdicts/{vid}").json()["superseded_by"] == "NX-2019.2"
    listed = api.get(f"/v1/professionals/{api.pid}/verdicts").json()["verdicts"]
    assert [v["superseded_by"] for v in listed] == ["NX-2019.2"]
    replay = api.post(f"/v1/verdicts/{vid}/replay", None, "auditor").json()
    assert replay["reproduced"] and replay["superseded_by"] == "NX-2019.2" and "superseded" in replay["explanation"]
    form = api.get(f"/v1/professionals/{api.pid}/assessment-form?evaluation_year=2019&level=intermediate")
    assert form.status_code == 404 and "NX-2019.2" in form.json()["detail"]  # not made from a superseded verdict
    api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019})
    assert api.get(f"/v1/professionals/{api.pid}/assessment-form?evaluation_year=2019&level=intermediate").status_code == 200


def test_no_verdict_on_a_record_whose_history_was_edited(api):
    r = api.post("/v1/platform/completions", {"completions": [
        completion(api.number, f"GV-{y}", hours="40", on=f"{y}-03-01") for y in (2015, 2016, 2017)
    ]}, "platform")
    assert r.status_code == 200
    claim = api.post(f"/v1/professionals/{api.pid}/specialty-credits", SPECIALTY, "employer").json()["activity_id"]
    assert claim
    tamper = Tamper(api.services.ledger)  # someone with database access raises an hour count
    edited = tamper.state(UUID(api.pid), 2)
    assert edited["hours"] == "40"
    tamper.set_state(UUID(api.pid), 2, {**edited, "hours": "400"})
    before = api.services.ledger.position()
    refused = api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "professional_id"
    assert api.pid in problem["detail"] and "version 2" in problem["detail"] and "ce-ledger verify" in problem["detail"]
    assert api.services.ledger.position() == before
    signed_in(api, "committee")  # and the workbench warns on the record page
    page = api.client.get(f"/workbench/professionals/{api.pid}")
    assert page.status_code == 200 and "哈希链校验未通过" in page.text and "第 2 版" in page.text
