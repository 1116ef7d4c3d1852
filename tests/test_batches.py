"""How a server process runs a batch (api/batches.py): with several processes on the port, on its
event loop, so that it accepts no connection until it has answered; with one, in the thread pool,
so that other requests are answered beside it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.batches import run_batch
from tests.apiclient import completion


def test_several_processes_record_a_batch_on_the_loop_and_one_beside_it():
    async def where(processes: int) -> tuple[int, int]:
        return threading.get_ident(), await run_batch(processes, threading.get_ident)

    loop, ran = asyncio.run(where(2))
    assert ran == loop  # the loop is busy with it: this process takes no connection meanwhile
    loop, ran = asyncio.run(where(1))
    assert ran != loop


def test_serve_tells_its_workers_how_many_share_the_port(monkeypatch):
    import uvicorn

    from api import cli
    from ce_ledger.config import Settings

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(k, processes=Settings().server_processes))
    monkeypatch.setattr(cli, "prepare_stores", lambda settings: False)
    monkeypatch.setenv("CE_LEDGER_SERVER_PROCESSES", "1")  # so that the variable serve sets is undone after
    cli.serve(host="127.0.0.1", port=8000, workers=3, demo=False, log_level="warning")
    assert seen["workers"] == 3 and seen["processes"] == 3


@pytest.mark.parametrize("processes", [1, 2])
def test_the_platform_batch_is_recorded_on_the_loop_only_when_processes_share_the_port(api, monkeypatch, processes):
    """Through the endpoint: with several processes, on the event loop (``get_running_loop``
    answers only there); with one, in the thread pool. Either way the answer closes the connection."""
    ledger = api.services.ledger
    recording, where = ledger.record_batch, []

    def spy(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            where.append("loop")
        except RuntimeError:
            where.append("thread")
        return recording(*args, **kwargs)

    monkeypatch.setattr(ledger, "record_batch", spy)
    monkeypatch.setattr(api.services.settings, "server_processes", processes)
    r = api.post("/v1/platform/completions", {"completions": [completion(api.number, "LOOP-1")]}, "platform")
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "recorded"
    assert r.headers["connection"] == "close"
    assert where == ["loop" if processes > 1 else "thread"]
