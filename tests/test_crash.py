"""Crashes on PostgreSQL: the server killed with SIGKILL while batches stream in, the client
retrying what was not acknowledged; the projection worker killed too. Every acknowledged record
is there exactly once, nothing is half-recorded, the view agrees with verdicts, the chains verify."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ce_ledger.bootstrap import build_services
from ce_ledger.audit.service import Audit
from ce_ledger.config import Settings
from ce_ledger.domain.events import PublicCourseCompleted
from ce_ledger.domain.values import Level
from tests.builders import id_number
from tests.conftest import postgres_schema
from tests import launcher
from tests.serving import client, environment, start, token

PEOPLE, BATCHES, BATCH = 40, 16, 80


@pytest.fixture
def pg_settings():
    with postgres_schema("c") as url:
        yield Settings(database_url=url, secret_key="crash-secret-key-0123456789abcdef0123")


def _worker(env: dict, log: Path):
    return launcher.popen(["project", "--batch-size", "50"], env, log)


def test_sigkill_mid_stream_then_retries_leave_every_acknowledged_record_once(pg_settings, tmp_path):
    env = environment(pg_settings, CE_LEDGER_VIEW_UPKEEP="worker")
    headers = {"Authorization": f"Bearer {token(pg_settings, 'platform', 'crash')}"}
    log = tmp_path / "server.log"
    server = start(env, log)
    worker_log = tmp_path / "worker.log"
    worker = _worker(env, worker_log)
    numbers = [id_number() for _ in range(PEOPLE)]
    with client(headers=headers) as c:
        for n in numbers:
            r = c.post(f"{server.base}/v1/professionals", json={
                "id_number": n, "name": "崩溃", "series": "工程技术", "requires_foreign_language_exam": False,
                "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-1"})
            assert r.status_code == 201
    batches = [[{"record_id": f"K-{b}-{i}", "id_number": numbers[(b * 7 + i) % PEOPLE], "course_code": "GX",
                 "title": "公需课", "hours": "0.5", "completed_on": f"{2015 + i % 4}-0{1 + i % 9}-1{i % 10}"}
                for i in range(BATCH)] for b in range(BATCHES)]

    acknowledged: dict[int, list[dict]] = {}
    in_flight = threading.Event()
    retries = Counter()

    def send() -> None:
        with client(timeout=60, headers=headers) as c:
            for b, body in enumerate(batches):
                while True:
                    in_flight.set()
                    try:
                        r = c.post(f"{server.base}/v1/platform/completions", json={"completions": body})
                    except httpx.TransportError:
                        retries[b] += 1  # not acknowledged: send the same batch again
                        time.sleep(0.2)
                        continue
                    if r.status_code == 200:
                        acknowledged[b] = r.json()["results"]
                        break
                    retries[b] += 1
                    time.sleep(0.2)

    sender = threading.Thread(target=send)
    sender.start()
    kills = 0
    for at in (4, 10):  # kill the server twice, each time while a batch is being sent
        while len(acknowledged) < at:
            time.sleep(0.005)
        in_flight.clear()
        in_flight.wait(timeout=10)
        time.sleep(0.03)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        kills += 1
        if kills == 1:
            os.kill(worker.pid, signal.SIGKILL)  # and the projection worker with it
            worker.wait(timeout=10)
        server = start(env, log, port=server.port)
    sender.join(timeout=300)
    assert not sender.is_alive() and len(acknowledged) == BATCHES
    server.process.terminate()
    server.process.wait(timeout=20)
    assert sum(retries.values()) >= 2, "no request was cut off: the kills came between batches"

    # Every acknowledged item says recorded or duplicate (a retry of a batch the kill let through).
    assert all(x["status"] in ("recorded", "duplicate") for results in acknowledged.values() for x in results)
    with build_services(pg_settings.model_copy(update={"view_upkeep": "worker"})) as services:
        ledger = services.ledger
        completions = Counter()
        claims = {}
        for n in ledger.recorder.select_notifications(start=None, limit=10**6):
            event = ledger.mapper.to_domain_event(n)
            if isinstance(event, PublicCourseCompleted):
                completions[event.record_id] += 1
                claims[event.record_id] = (event.activity_id, ledger.key_claims(event.canonical_key()))
        expected = {item["record_id"] for body in batches for item in body}
        assert set(completions) == expected and set(completions.values()) == {1}  # each exactly once
        # None half-recorded: each with exactly its one claim on the key, made in its transaction.
        assert all([c.activity_id for c in found] == [activity] for activity, found in claims.values())

        worker = _worker(env, worker_log)  # restarted: it resumes from its tracked position
        try:
            version = services.projection.current_version()
            deadline = time.monotonic() + 60
            while services.view.position(version) < ledger.position():
                assert time.monotonic() < deadline and worker.poll() is None, "the worker did not catch up"
                time.sleep(0.05)
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        for n in numbers[:10]:
            pid = ledger.professional_id_for(n)
            verdict = ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
            assert services.totals.window(pid, 2015, 2018).credited == verdict.credited
        assert Audit(ledger).verify().intact
    assert launcher.run(["verify"], env).returncode == 0
