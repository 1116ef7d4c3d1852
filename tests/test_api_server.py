"""Against a real `ce-ledger serve` process: tokens from the CLI, one batch sent by many threads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.builders import id_number


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings):
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": settings.database_url, "CE_LEDGER_VIEW_UPKEEP": "inline"}
    if settings.secret_key is not None:
        env["CE_LEDGER_SECRET_KEY"] = settings.secret_key.get_secret_value()

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    tokens = {role: cli("tokens", "issue", "--role", role, "--name", f"test-{role}") for role in ("platform", "committee")}
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/v1/ping").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    yield base, tokens
    process.terminate()
    process.wait(timeout=20)


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
