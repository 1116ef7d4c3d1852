"""Hostile input: a catalogue of bad requests, each refused with a 4xx naming the field, nothing recorded.

Reading: SQL and HTML metacharacters in *free text* (a subject, a course title, a reason)
are data, not attacks — an apostrophe is part of many names — so they are accepted, stored
verbatim and read back exactly (every query is parameterised and every response is JSON);
in *codes* (certificate numbers, provider codes) the code pattern refuses them.
"""

from __future__ import annotations

import json

import pytest

from tests.apiclient import SPECIALTY, person_body
from tests.builders import id_number


@pytest.fixture
def settings(sqlite_settings):
    """HTTP behaviour on SQLite; the stores' own behaviour is tested on both elsewhere."""
    return sqlite_settings


BAD_HOURS = ["abc", -1, 0, "0", "1.005", "NaN", "Infinity", "-Infinity", float("nan"), float("inf"), 10**30, "1e3000",
             True, [], {}, None]
BAD_DATES = ["0001-01-01", "1949-12-31", "9999-12-31", "2016-02-30", "yesterday", 20160101, "", None]
BAD_TEXT = ["", "a\x00b", "a\nb", "\x1b[31m", "x" * 10_000, 123, ["a"], {"a": 1}]
BAD_CODES = ["'; DROP TABLE stored_events; --", "<script>alert(1)</script>", "A" * 65, "", "a b", "../../etc/passwd", 7]

CATALOGUE = (
    [("hours", v) for v in BAD_HOURS]
    + [("completed_on", v) for v in BAD_DATES]
    + [("subject", v) for v in BAD_TEXT]
    + [(field, v) for field in ("certificate_no", "provider_code", "programme_code") for v in BAD_CODES]
    + [("route", v) for v in ["bribery", "", 1, None, "TRAINING_CLASS "]]
)


def _ids(case) -> str:
    field, value = case
    return f"{field}={json.dumps(value)[:20]}"


@pytest.mark.parametrize("case", CATALOGUE, ids=[_ids(c) for c in CATALOGUE])
def test_each_bad_field_of_a_certificate_is_refused_and_named(shared_api, case):
    api = shared_api
    field, value = case
    before = api.services.ledger.position()
    body = {**SPECIALTY, "certificate_no": "H-1", field: value}
    # Sent as text: Python's json writes NaN and Infinity, which a careless client would too.
    r = api.client.post(f"/v1/professionals/{api.pid}/specialty-credits", content=json.dumps(body),
                        headers={**api.headers("committee"), "content-type": "application/json"})
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["errors"] and problem["errors"][0]["field"] == field, problem
    assert problem["errors"][0]["rule"] and "Traceback" not in r.text
    assert api.services.ledger.position() == before


def test_an_unknown_field_a_huge_batch_item_and_bad_items_in_a_batch(api):
    before = api.services.ledger.position()
    r = api.post(f"/v1/professionals/{api.pid}/specialty-credits", {**SPECIALTY, "is_admin": True})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "is_admin"
    items = [
        {"record_id": "R-1", "id_number": api.number, "course_code": "G", "title": "t", "hours": "NaN", "completed_on": "2016-01-01"},
        {"record_id": "R-2", "id_number": api.number, "course_code": "G", "title": "t", "hours": "2", "completed_on": "3000-01-01"},
        {"record_id": "R-3", "id_number": api.number + "\x00", "course_code": "G", "title": "t", "hours": "2", "completed_on": "2016-01-01"},
        {"record_id": "R-4'--", "id_number": api.number, "course_code": "G", "title": "t", "hours": "2", "completed_on": "2016-01-01"},
        {"record_id": "R-5", "id_number": api.number, "course_code": "G", "title": "x" * 5000, "hours": "2", "completed_on": "2016-01-01"},
    ]
    r = api.post("/v1/platform/completions", {"completions": items}, "platform")
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["rejected"] * 5
    assert [x["error"]["field"] for x in results] == ["hours", "completed_on", "id_number", "record_id", "title"]
    assert api.number not in r.text
    assert api.services.ledger.position() == before


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_refused_not_a_crash(shared_api, depth):
    api = shared_api
    before = api.services.ledger.position()
    content = ('{"completions": ' + "[" * depth + "]" * depth + "}").encode()
    r = api.client.post("/v1/platform/completions", content=content,
                        headers={**api.headers("platform"), "content-type": "application/json"})
    if r.status_code == 200:  # parsed: the one item (a list) is refused on its own, like any bad item
        assert [x["status"] for x in r.json()["results"]] == ["rejected"]
    else:
        assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json", r.text[:200]
    assert api.services.ledger.position() == before


def test_wrong_content_types_and_bodies_are_refused(shared_api):
    api = shared_api
    url = f"/v1/professionals/{api.pid}/specialty-credits"
    for content, ctype in [(b"\xff\xfe\x00garbage", "application/json"), (b"a=1&b=2", "application/x-www-form-urlencoded"),
                           (json.dumps(SPECIALTY).encode(), "text/plain"), (b"", "application/json")]:
        r = api.client.post(url, content=content, headers={**api.headers("committee"), "content-type": ctype})
        assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json", (ctype, r.text)
    for query in ["from_year=abc&to_year=2018", "from_year=2018&to_year=2015", "from_year=-1&to_year=99999", "from_year=2015"]:
        r = api.get(f"/v1/professionals/{api.pid}/totals?{query}")
        assert r.status_code == 422 and r.json()["errors"], query
    misspelt = api.get(f"/v1/professionals/{api.pid}/totals?from_year=2015&to_year=2018&form_year=2010")
    assert misspelt.status_code == 422 and misspelt.json()["errors"][0]["field"] == "form_year"
    for path in ["/v1/professionals/not-a-uuid/history", "/v1/verdicts/1%27%20OR%201=1", "/v1/providers/%3Cscript%3E"]:
        r = api.get(path)
        assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json", (path, r.text)


def test_metacharacters_in_free_text_are_data_stored_and_read_back_verbatim(api):
    text = "O'Brien; DROP TABLE stored_events; -- <script>alert('x')</script> & \"quotes\" 研修"
    r = api.post(f"/v1/professionals/{api.pid}/specialty-credits", {**SPECIALTY, "certificate_no": "M-9", "subject": text})
    assert r.status_code == 201
    events = api.get(f"/v1/professionals/{api.pid}/history").json()["events"]
    assert [e["data"]["subject"] for e in events if e["data"].get("certificate_no") == "M-9"] == [text]
    again = api.post("/v1/professionals", person_body(id_number(), name=text[:40]), "platform")
    assert again.status_code == 201
    assert api.services.ledger.position() > 0  # the store answers: nothing was dropped


def test_a_stream_that_is_not_a_record_is_not_found_and_odd_versions_are_refused(api):
    """Once 500s: a verdict id sent as a professional id (a verdict's stream is not a record,
    nor is a key's or a checkpoint's), a superscript digit and a 26-digit version in as_of."""
    verdict = api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019})
    vid = verdict.json()["verdict_id"]
    for who in ("employer", "committee", "auditor"):
        for path in (f"/v1/professionals/{vid}/totals?from_year=2015&to_year=2018",
                     f"/v1/professionals/{vid}/history", f"/v1/professionals/{vid}/verdicts"):
            r = api.get(path, who)
            assert r.status_code == 404 and r.json()["errors"][0]["field"] == "professional_id", (who, path, r.text)
    for value in ("²", "1" * 26, "-1", "1.5"):
        r = api.get(f"/v1/professionals/{api.pid}/history?as_of={value}")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of", (value, r.text)


def test_free_text_and_keys_refuse_a_clear_id_number_and_never_echo_it(api):
    """Chinese certificates are often numbered by their holder's ID number: such a number is
    refused in any free-text or key field (a valid GB 11643 number only), naming the field."""
    number = id_number()
    before = api.services.ledger.position()
    for field, value in (("certificate_no", f"C-{number}"), ("subject", f"研修 {number}")):
        r = api.post(f"/v1/professionals/{api.pid}/specialty-credits", {**SPECIALTY, field: value}, "employer")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        assert number not in r.text
    batch = api.post("/v1/platform/completions", {"completions": [
        {"record_id": number, "id_number": api.number, "course_code": "GX", "title": "公需课", "hours": "2",
         "completed_on": "2016-01-01"}]}, "platform")
    result = batch.json()["results"][0]
    assert result["status"] == "rejected" and result["error"]["field"] == "record_id" and number not in batch.text
    renamed = api.post("/v1/professionals", person_body(id_number(), name=f"张{number}"), "platform")
    assert renamed.status_code == 422 and number not in renamed.text
    assert api.services.ledger.position() == before
    not_an_id = number[:17] + ("0" if number[17] != "0" else "1")  # 18 characters whose check digit fails
    fine = api.post(f"/v1/professionals/{api.pid}/specialty-credits",
                    {**SPECIALTY, "certificate_no": f"C-{not_an_id}"}, "employer")
    assert fine.status_code == 201, fine.text


@pytest.mark.parametrize("name", ["马\u202e明", "马\u2067明", "马\u200b明", "马\ufeff明", "马\x85明"])
def test_names_refuse_bidi_overrides_zero_width_and_c1_characters(shared_api, name):
    api = shared_api
    before = api.services.ledger.position()
    r = api.post("/v1/professionals", person_body(id_number(), name=name), "platform")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    assert "bidirectional" in r.json()["errors"][0]["rule"] and api.services.ledger.position() == before
