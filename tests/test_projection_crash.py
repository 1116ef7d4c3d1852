"""A projection worker killed with SIGKILL mid-way resumes from its tracked position."""

from __future__ import annotations

import os
import signal
import time
from datetime import date, timedelta
from pathlib import Path

from ce_ledger.bootstrap import build_services
from tests import launcher
from tests.builders import VERIFIED, public, registration, specialty


def _worker(settings, log: Path):
    env = {
        **os.environ,
        "CE_LEDGER_DATABASE_URL": settings.database_url,
        "CE_LEDGER_VIEW_UPKEEP": "worker",
    }
    if settings.secret_key is not None:
        env["CE_LEDGER_SECRET_KEY"] = settings.secret_key.get_secret_value()
    return launcher.popen(["project", "--batch-size", "7"], env, log)


def _wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_kill_9_mid_way_then_restart_counts_every_event_once(settings, clock, tmp_path):
    worker_settings = settings.model_copy(update={"view_upkeep": "worker"})
    with build_services(worker_settings, clock=clock) as services:
        ledger, view, projection = services.ledger, services.view, services.projection
        for n in range(30):
            pid = ledger.register(registration(), by="test").professional_id
            ledger.record_batch([(pid, public("1.5", date(2014, 1, 1) + timedelta(days=37 * i))) for i in range(40)], by="test")
            claim = ledger.record(pid, specialty("20", date(2016, 3, 1)), by="test").activity_id
            if n % 2:
                ledger.decide(pid, claim, VERIFIED, by="employer:U")
        end = ledger.position()
        version = projection.current_version()
        assert view.position(version) < 10  # the view starts behind: only a worker brings it up

        worker = _worker(worker_settings, tmp_path / "worker.log")
        try:
            _wait_until(lambda: view.position(version) > end // 4)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        killed_at = view.position(version)
        assert killed_at < end, "the worker finished before it could be killed: make the history longer"

        worker = _worker(worker_settings, tmp_path / "worker.log")
        try:
            _wait_until(lambda: view.position(version) == end)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)

        # A fresh build from position zero is the truth: the survivor must match it row for row.
        fresh = view.create_version(projection.rule_set.id, projection.rule_set.digest)
        projection.catch_up(fresh)
        assert view.dump(version) == view.dump(fresh)
        assert len(view.dump(version)["activities"]) == 30 * 41
