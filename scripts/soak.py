"""Soak: ingest and totals queries together against a real server for a while, on loopback.

Writers POST completion batches (new record ids every time) while readers ask for window
totals; a projection worker keeps the view. Reports throughput, the error count (must be 0:
any non-2xx answer or broken connection counts) and the server's memory (RSS) at start and
end. Exit status 1 on any error.

Usage: make soak   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/soak.py --seconds 60)
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from benchdb import (
    create_schema,
    drop_schema,
    id_numbers,
    issue_token,
    postgres_url,
    run_cli,
    served,
    start_cli,
)
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

SECRET = "soak-secret-key-0123456789abcdef0123"
console = Console()


@dataclass
class Figures:
    seconds: float = 0.0
    rows: int = 0
    batches: int = 0
    reads: int = 0
    errors: Counter = field(default_factory=Counter)
    rss_start_kb: int = 0
    rss_end_kb: int = 0


# The server is on loopback over plain HTTP: no CA bundle to load for each client (60 ms of CPU).
PLAIN = {"verify": False, "trust_env": False}


def rss_kb(pid: int) -> int:
    """Resident memory of the server and its children (uvicorn workers), from /proc."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def soak(env: dict[str, str], seconds: float, *, writers: int = 2, readers: int = 4, people: int = 200,
         batch: int = 100, progress: bool = True, start: Callable[[list[str], dict[str, str]], Any] = start_cli,
         run: Callable[[list[str], dict[str, str]], str] = run_cli) -> Figures:
    """Run the load against a server started here on the store ``env`` names; a worker keeps the view.
    ``start`` and ``run`` start the `ce-ledger` processes (``benchdb.start_cli``, ``run_cli``)."""
    figures = Figures()
    platform, auditor = issue_token(env, "platform", run), issue_token(env, "auditor", run)
    worker = start(["project"], env)
    try:
        with served(env, start=start) as server:
            url, server_pid = server.url, server.pid
            numbers = id_numbers(people)
            pids = []
            with httpx.Client(base_url=url, **PLAIN, headers={"Authorization": f"Bearer {platform}"}, timeout=60) as c:
                for n in numbers:
                    r = c.post("/v1/professionals", json={
                        "id_number": n, "name": "浸泡", "series": "工程技术", "requires_foreign_language_exam": False,
                        "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-1"})
                    pids.append(r.json()["professional_id"])
            figures.rss_start_kb = rss_kb(server_pid)
            lock = threading.Lock()
            stop = time.monotonic() + seconds
            serial = itertools.count()

            def write() -> None:
                with httpx.Client(base_url=url, **PLAIN, headers={"Authorization": f"Bearer {platform}"}, timeout=60) as c:
                    while time.monotonic() < stop:
                        b = next(serial)
                        body = [{"record_id": f"SOAK-{b}-{i}", "id_number": numbers[(b * 31 + i) % people],
                                 "course_code": "GX", "title": "公需课", "hours": "0.5",
                                 "completed_on": f"{2015 + i % 4}-0{1 + i % 9}-1{i % 10}"} for i in range(batch)]
                        try:
                            r = c.post("/v1/platform/completions", json={"completions": body})
                            ok = r.status_code == 200 and all(x["status"] == "recorded" for x in r.json()["results"])
                        except httpx.HTTPError as e:
                            ok, r = False, type(e).__name__
                        with lock:
                            if ok:
                                figures.rows += batch
                                figures.batches += 1
                            else:
                                figures.errors[f"ingest {getattr(r, 'status_code', r)}"] += 1

            def read(n: int) -> None:
                with httpx.Client(base_url=url, **PLAIN, headers={"Authorization": f"Bearer {auditor}"}, timeout=60) as c:
                    for i in itertools.count(n):
                        if time.monotonic() >= stop:
                            return
                        try:
                            r = c.get(f"/v1/professionals/{pids[i % people]}/totals?from_year=2015&to_year=2018")
                            ok = r.status_code == 200
                        except httpx.HTTPError as e:
                            ok, r = False, type(e).__name__
                        with lock:
                            if ok:
                                figures.reads += 1
                            else:
                                figures.errors[f"totals {getattr(r, 'status_code', r)}"] += 1

            threads = [threading.Thread(target=write) for _ in range(writers)]
            threads += [threading.Thread(target=read, args=(n,)) for n in range(readers)]
            started = time.monotonic()
            for t in threads:
                t.start()
            if progress:
                with Progress(console=console, transient=True) as bar:
                    task = bar.add_task("soaking", total=seconds)
                    while any(t.is_alive() for t in threads):
                        bar.update(task, completed=min(seconds, time.monotonic() - started))
                        time.sleep(0.2)
            for t in threads:
                t.join()
            figures.seconds = time.monotonic() - started
            figures.rss_end_kb = rss_kb(server_pid)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    return figures


def report(figures: Figures) -> Table:
    table = Table(title=f"soak: {figures.seconds:.0f} s of ingest and totals on loopback")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("completions recorded", f"{figures.rows:,} ({figures.rows / figures.seconds:,.0f} rows/s)")
    table.add_row("batches acknowledged", f"{figures.batches:,}")
    table.add_row("totals answered", f"{figures.reads:,} ({figures.reads / figures.seconds:,.0f} req/s)")
    table.add_row("errors", str(sum(figures.errors.values())) + (f" {dict(figures.errors)}" if figures.errors else ""))
    table.add_row("server RSS at start", f"{figures.rss_start_kb / 1024:,.1f} MiB")
    table.add_row("server RSS at end", f"{figures.rss_end_kb / 1024:,.1f} MiB")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    pg = postgres_url()
    if not pg:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make soak does)[/red]")
        return 2
    schema = create_schema(pg)
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"{pg}?schema={schema}", "CE_LEDGER_SECRET_KEY": SECRET,
           "CE_LEDGER_VIEW_UPKEEP": "worker"}
    try:
        figures = soak(env, args.seconds)
    finally:
        drop_schema(pg, schema)
    console.print(report(figures))
    return 1 if figures.errors else 0


if __name__ == "__main__":
    sys.exit(main())
