"""Against a real `ce-ledger serve` process: tokens from the CLI, one batch sent by many threads."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.builders import id_number
from tests.serving import environment, serving, token


@pytest.fixture
def server(settings, tmp_path):
    env = environment(settings)
    tokens = {role: token(settings, role, f"test-{role}") for role in ("platform", "committee")}
    with serving(env, tmp_path / "server.log") as running:
        yield running.base, tokens


def test_the_same_batch_from_many_threads_records_every_completion_once(server):
    base, tokens = server
    platform = {"Authorization": f"Bearer {tokens['platform']}"}
    number = id_number()
    r = httpx.post(f"{base}/v1/professionals", headers=platform, json={
        "id_number": number, "name": "王磊", "series": "工程技术", "requires_foreign_language_exam": False,
        "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-1",
    })
    assert r.status_code == 201
    pid = r.json()["professional_id"]
    batch = {"completions": [
        {"record_id": f"S-{i}", "id_number": number, "course_code": "GX", "title": "公需课",
         "hours": "0.5", "completed_on": f"{2015 + i % 4}-03-01"} for i in range(200)
    ]}
    results: list[list[dict]] = []
    barrier = threading.Barrier(5)

    def send() -> None:
        barrier.wait()
        with httpx.Client(timeout=60) as client:
            reply = client.post(f"{base}/v1/platform/completions", headers=platform, json=batch)
            assert reply.status_code == 200, reply.text
            results.append(reply.json()["results"])

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 5
    assert all(r["status"] in ("recorded", "duplicate") for result in results for r in result)
    assert sum(r["status"] == "recorded" for result in results for r in result) == 200
    committee = {"Authorization": f"Bearer {tokens['committee']}"}
    history = httpx.get(f"{base}/v1/professionals/{pid}/history", headers=committee).json()["events"]
    assert len(history) == 201 and len({e["data"]["record_id"] for e in history[1:]}) == 200
    totals = httpx.get(f"{base}/v1/professionals/{pid}/totals?from_year=2015&to_year=2018", headers=committee).json()
    assert totals["public_hours"] == "100"
    verdict = httpx.post(f"{base}/v1/professionals/{pid}/verdicts", headers=committee,
                         json={"level": "intermediate", "evaluation_year": 2019}).json()
    assert verdict["credited"]["public_hours"] == "100" and verdict["passed"] is False
