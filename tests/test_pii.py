"""No clear ID number anywhere: after a realistic run through a real server and the command line,
the known numbers are in no database file or dump, no log line, no response and no export."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests import launcher
from tests.builders import id_number
from tests.conftest import postgres_url
from tests.serving import client, environment, serving, token


def test_no_clear_id_number_reaches_the_store_the_logs_or_a_response(settings, tmp_path):
    people = [id_number() for _ in range(4)]
    people[3] = people[3][:-1] + "X" if people[3][-1] == "X" else people[3]  # keep valid: X only where computed
    stranger = id_number()  # valid, never registered
    mistyped = people[0][:-1] + ("0" if people[0][-1] != "0" else "1")  # wrong check digit
    known = [*people, stranger, mistyped]
    env = environment(settings)
    tokens = {r: token(settings, r, f"pii-{r}") for r in ("platform", "committee", "auditor")}
    tokens["employer"] = token(settings, "employer", "pii-hr", "U-1")
    seen: list[str] = []
    outside = tmp_path / "outside"  # our own files, apart from the store's folder
    outside.mkdir()
    log = outside / "server.log"

    with serving(env, log, "--log-level", "info") as server, client(server.base, timeout=60) as c:
        def call(method: str, path: str, who: str, body=None) -> httpx.Response:
            r = c.request(method, path, json=body, headers={"Authorization": f"Bearer {tokens[who]}"})
            seen.append(r.text)
            return r

        pids = []
        for number in [*people, mistyped]:
            r = call("POST", "/v1/professionals", "employer", {
                "id_number": number, "name": "测试", "series": "工程技术", "requires_foreign_language_exam": False,
                "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-1"})
            if r.status_code in (200, 201, 202):
                pids.append(r.json()["professional_id"])
        assert len(pids) == 4
        batch = [{"record_id": f"PII-{i}", "id_number": n, "course_code": "GX", "title": "公需课", "hours": "3",
                  "completed_on": "2016-05-01"} for i, n in enumerate(known)]
        results = call("POST", "/v1/platform/completions", "platform", {"completions": batch}).json()["results"]
        assert [x["status"] for x in results] == ["recorded"] * 4 + ["rejected"] * 2
        claim = call("POST", f"/v1/professionals/{pids[0]}/specialty-credits", "employer", {
            "provider_code": "NXJD-01", "certificate_no": "PII-C", "route": "training_class", "subject": "研修",
            "hours": "40", "completed_on": "2016-05-01"}).json()["activity_id"]
        call("POST", f"/v1/professionals/{pids[0]}/specialty-credits/{claim}/verification", "employer",
             {"decision": "verified", "reason": "ok"})
        verdict = call("POST", f"/v1/professionals/{pids[0]}/verdicts", "committee",
                       {"level": "intermediate", "evaluation_year": 2019}).json()["verdict_id"]
        call("POST", f"/v1/verdicts/{verdict}/replay", "auditor")
        for pid in pids:
            call("GET", f"/v1/professionals/{pid}/history", "committee")
            call("GET", f"/v1/professionals/{pid}/totals?from_year=2015&to_year=2018", "committee")
            call("GET", f"/v1/professionals/{pid}/verdicts", "auditor")
        call("GET", "/v1/ledger/verification", "auditor")
        # A client that puts an ID number in a path or a query (a mistake, a probe): refused, and
        # the access log line has it removed.
        call("GET", f"/v1/professionals/{people[1]}/totals?from_year=2015&to_year=2018", "committee")
        call("GET", f"/v1/professionals/{pids[0]}/history?as_of={people[2]}", "committee")
        call("GET", "/openapi.json", "auditor")

    sheet = outside / "certificates.csv"
    sheet.write_text("身份证号,发证机构代码,证书编号,学习方式,学习内容,学时,结业日期\n"
                     + "".join(f"{n},NXJD-01,PII-S{i},培训班,研修,8,2017-03-01\n" for i, n in enumerate(known)),
                     encoding="utf-8")
    outputs = [launcher.run(args, env)
               for args in (["import", str(sheet)], ["export", str(outside / "export.jsonl")], ["verify"])]
    assert outputs[0].returncode == 1 and "recorded 4" in outputs[0].stdout  # two bad rows, reported

    places: dict[str, bytes] = {
        "server log": log.read_bytes(),
        "responses": "\n".join(seen).encode(),
        "command output": "\n".join(o.stdout + o.stderr for o in outputs).encode(),
        "export": (outside / "export.jsonl").read_bytes(),
    }
    if settings.is_sqlite:
        for path in Path(settings.sqlite_path).parent.iterdir():
            if path.is_file():
                places[path.name] = path.read_bytes()
        assert {"ledger.sqlite", "ledger.views.sqlite", "ledger.access.sqlite"} <= set(places)
    else:
        schema = settings.database_url.split("schema=")[1]
        places["pg_dump"] = subprocess.run(["pg_dump", "--schema", schema, postgres_url()], capture_output=True,
                                           check=True, timeout=120).stdout
    assert len(places["server log"]) > 0 and b"POST /v1/platform/completions" in places["server log"]
    def leaks(data: bytes) -> list[str]:
        return [n for n in known for form in {n, n.lower()} if form.encode() in data]

    assert len(leaks(sheet.read_bytes())) == len(known)  # the search finds what is there
    assert {where: leaks(data) for where, data in places.items() if leaks(data)} == {}
