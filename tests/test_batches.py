"""How a server process runs a batch (api/batches.py): with several processes on the port, on its
event loop, so that it accepts no connection until it has answered; with one, in the thread pool,
so that other requests are answered beside it."""

from __future__ import annotations

import asyncio
import threading

from api.batches import run_batch


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
