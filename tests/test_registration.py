"""Registration is not first come, silent after (issue: trustworthy verdicts), through the HTTP
API on both stores (the read side follows corrections and moves): the same registration again
is a retry, other content a conflict naming the fields; corrections are events by a committee
or auditor with a reason and a decision; a move is proposed by the new unit and confirmed by the
old one, and only then changes who may act."""

from __future__ import annotations

from tests.apiclient import OTHER_UNIT, UNIT, person_body
from tests.builders import id_number

CORRECTION = {"name": "马晓明", "series": "卫生", "requires_foreign_language_exam": False,
              "requires_computer_exam": False, "own_ce_regulation": True,
              "reason": "系列登记有误，应为卫生系列", "decision_ref": "宁人社职〔2019〕更正-3"}


def test_registering_again_with_other_content_is_a_conflict_naming_the_fields(api):
    before = api.services.ledger.position()
    same = api.post("/v1/professionals", person_body(api.number), "platform")
    assert same.status_code == 200 and same.json() == {"professional_id": api.pid, "created": False}
    renamed = api.post("/v1/professionals", person_body(api.number, name="马小明"), "platform")
    assert renamed.status_code == 409 and renamed.json()["errors"][0]["field"] == "name"
    moved = api.post("/v1/professionals", person_body(api.number, OTHER_UNIT, own_ce_regulation=True), "committee")
    assert moved.status_code == 409 and "employer_unit" in moved.text and "own_ce_regulation" in moved.text
    for r in (renamed, moved):
        assert api.number not in r.text and api.number[6:14] not in r.text
    assert api.services.ledger.position() == before


def test_an_employer_learns_nothing_from_registering_another_units_person(api):
    """"Not registered" and "registered in another unit" answer alike to an employer of another unit;
    the second records nothing but a lookup an auditor sees."""
    before = api.services.ledger.position()
    theirs = api.post("/v1/professionals", person_body(api.number, OTHER_UNIT), "other_employer")
    assert api.services.ledger.position() == before
    fresh = api.post("/v1/professionals", person_body(id_number(), OTHER_UNIT), "other_employer")
    assert theirs.status_code == fresh.status_code == 202
    assert theirs.json().keys() == fresh.json().keys() and theirs.json()["created"] is fresh.json()["created"] is None
    assert "U-1" not in theirs.text and api.number not in theirs.text
    lookup = api.services.access.lookups(limit=1)[0]
    assert str(lookup.professional_id) == api.pid and lookup.found and lookup.caused_by.startswith("employer:U-2")
    again = api.post("/v1/professionals", person_body(api.number), "employer")  # its own unit sees its record
    assert again.status_code == 200 and again.json()["created"] is False


def test_a_correction_is_an_event_with_reason_and_decision_and_changes_what_counts(api):
    p = f"/v1/professionals/{api.pid}"
    taught = api.post(f"{p}/teaching", {"taught_on": "2016-04-01", "hours_taught": "8", "course": "继续教育讲座",
                                        "document_ref": "T-1"}, "employer")
    assert taught.status_code == 201
    totals = f"{p}/totals?from_year=2015&to_year=2018"
    assert api.get(totals).json()["total_hours"] == "24"
    before = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    assert api.post(f"{p}/corrections", CORRECTION, "employer").status_code == 403
    done = api.post(f"{p}/corrections", CORRECTION, "committee")
    assert done.status_code == 201 and done.json()["series"]["own_ce_regulation"] is True
    assert api.post(f"{p}/corrections", CORRECTION, "auditor").status_code == 200  # a retry
    assert api.get(totals).json()["total_hours"] == "0"  # teaching is governed by the series' own rules
    after = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    assert after["credited"]["teaching"] == "0" and before["credited"]["teaching"] == "24"
    replay = api.post(f"/v1/verdicts/{before['verdict_id']}/replay", None, "auditor").json()
    assert replay["reproduced"]  # issued before: the registration as it stood then
    history = api.get(f"{p}/history").json()["events"]
    corrected = [e for e in history if e["kind"] == "RegistrationCorrected"]
    assert len(corrected) == 1 and "宁人社职〔2019〕更正-3" in str(corrected[0])


def test_a_move_is_proposed_by_the_new_unit_and_confirmed_by_the_old(api):
    p = f"/v1/professionals/{api.pid}"
    move = {"to_unit": OTHER_UNIT, "effective_on": "2019-03-01"}
    assert api.post(f"{p}/transfers", move, "employer").status_code == 403  # the old unit cannot push
    assert api.post(f"{p}/transfers", {**move, "to_unit": "U-9"}, "other_employer").status_code == 403
    proposed = api.post(f"{p}/transfers", move, "other_employer")
    assert proposed.status_code == 201 and proposed.json()["employer_unit"] == UNIT
    assert proposed.json()["pending_transfer"]["to_unit"] == OTHER_UNIT
    assert api.get(f"{p}/totals?from_year=2015&to_year=2018", "other_employer").status_code == 403  # not yet
    assert api.post(f"{p}/transfers/confirmation", move, "other_employer").status_code == 403
    confirmed = api.post(f"{p}/transfers/confirmation", move, "employer")
    assert confirmed.status_code == 201 and confirmed.json()["employer_unit"] == OTHER_UNIT
    assert api.post(f"{p}/transfers/confirmation", move, "employer").status_code == 403  # no longer theirs
    assert api.post(f"{p}/transfers/confirmation", move, "committee").status_code == 200  # a retry
    assert api.get(f"{p}/totals?from_year=2015&to_year=2018", "other_employer").status_code == 200
    assert api.get(f"{p}/totals?from_year=2015&to_year=2018", "employer").status_code == 403
    assert api.get(f"{p}/history", "employer").status_code == 403


def test_every_event_says_who_caused_it_and_through_which_door(api):
    p = f"/v1/professionals/{api.pid}"
    api.post("/v1/platform/completions", {"completions": [{"record_id": "W-1", "id_number": api.number,
              "course_code": "GX", "title": "公需课", "hours": "3", "completed_on": "2016-05-01"}]}, "platform")
    claim = api.post(f"{p}/specialty-credits", {"provider_code": "NXJD-01", "certificate_no": "W-2",
                     "route": "training_class", "subject": "研修", "hours": "40", "completed_on": "2016-05-01"},
                     "employer").json()["activity_id"]
    api.post(f"{p}/specialty-credits/{claim}/verification", {"decision": "verified", "reason": "ok"}, "committee")
    api.post(f"{p}/activities/{claim}/void", {"reason": "伪造", "decision_ref": "D-9"}, "auditor")
    api.post(f"{p}/study-tours", {"first_day": "2016-06-01", "last_day": "2016-06-03", "days": 3, "subject": "考察",
                                  "document_ref": "ST-1"}, "employer")
    events = api.get(f"{p}/history").json()["events"]
    assert len(events) == 6 and all(e["by"] and e["channel"] == "api" for e in events), events
    assert [e["by"].split(":")[0] for e in events] == ["platform", "platform", "employer", "committee", "auditor", "employer"]
    replay_changes = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    assert replay_changes["verdict_id"]
