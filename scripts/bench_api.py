"""Benchmark the HTTP API on PostgreSQL against raw limits measured in the same run.

1. Ingest: completions POSTed in batches of 500 over many professionals to a real
   `ce-ledger serve` (uvicorn, loopback), against psycopg `COPY` of the same number
   of rows into a table of the same shape. Bar: at least 0.05 of the COPY rate.
2. Totals: `GET …/totals` requests per second against `GET /v1/ping` (a trivial JSON
   endpoint on the same server), same client, same concurrency. Bar: at least 0.5.

Usage: make bench-api   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/bench_api.py)
"""

from __future__ import annotations

import os
import random
import uuid
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
from benchdb import (
    create_schema,
    drop_schema,
    id_numbers,
    issue_token,
    postgres_url,
    served,
)
from rich.console import Console
from rich.progress import track
from rich.table import Table

console = Console()
PROFESSIONALS = 2000
BATCHES = 40
BATCH = 500
CONCURRENCY = 8
SECONDS = 8.0


def completions(numbers: list[str], start: int) -> list[dict]:
    rng = random.Random(start)
    return [
        {"record_id": f"B-{start + i}", "id_number": rng.choice(numbers), "course_code": "GX-1",
         "title": "公需课年度学习", "hours": rng.choice(["1", "1.5", "2", "3"]),
         "completed_on": (date(2014, 1, 1) + timedelta(days=rng.randrange(1800))).isoformat()}
        for i in range(BATCH)
    ]


def load(url: str, headers: dict, paths: list[str], seconds: float) -> tuple[float, list[float]]:
    """Requests/s and latencies of CONCURRENCY clients looping over ``paths`` for ``seconds``."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> int:
        done, mine = 0, []
        with httpx.Client(base_url=url, headers=headers) as c:
            while time.monotonic() < deadline:
                t = time.perf_counter()
                r = c.get(paths[(n + done) % len(paths)])
                mine.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
                done += 1
        with lock:
            latencies.extend(mine)
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        total = sum(pool.map(client, range(CONCURRENCY)))
    return total / (time.monotonic() - started), latencies


def main() -> int:
    pg = postgres_url()
    if not pg:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make bench-api does)[/red]")
        return 2
    schema = create_schema(pg)
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"{pg}?schema={schema}",
           "CE_LEDGER_SECRET_KEY": "bench-secret-key-0123456789abcdef0123", "CE_LEDGER_VIEW_UPKEEP": "worker"}
    try:
        token, auditor = issue_token(env, "platform"), issue_token(env, "auditor")
        with served(env) as server:
            figures = measure(env, pg, schema, server.url, token, auditor)
    finally:
        drop_schema(pg, schema)
    return report(*figures)


def register_all(c: httpx.Client, numbers: list[str]) -> list[str]:
    pids = []
    for number in track(numbers, description=f"registering {len(numbers)} professionals", console=console):
        r = c.post("/v1/professionals", json={
            "id_number": number, "name": "专技", "series": "工程技术", "requires_foreign_language_exam": False,
            "requires_computer_exam": False, "own_ce_regulation": False, "employer_unit": "U-1"})
        pids.append(r.json()["professional_id"])
    return pids


def post_batches(c: httpx.Client, batches: list[list[dict]]) -> float:
    """Seconds to POST every batch, each answered with every item recorded."""
    started = time.perf_counter()
    for body in track(batches, description="ingesting through the API", console=console):
        r = c.post("/v1/platform/completions", json={"completions": body})
        assert r.status_code == 200 and all(x["status"] == "recorded" for x in r.json()["results"]), r.text[:300]
    return time.perf_counter() - started


def measure(env: dict, pg: str, schema: str, url: str, token: str, auditor: str) -> tuple:
    numbers = id_numbers(PROFESSIONALS)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        pids = register_all(c, numbers)
        batches = [completions(numbers, b * BATCH) for b in range(BATCHES)]
        c.post("/v1/platform/completions", json={"completions": completions(numbers, 10**7)})  # warm up
        api_seconds = post_batches(c, batches)
    rows = BATCHES * BATCH

    with psycopg.connect(pg) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE copy_target (record_id text, id_number text, course_code text, "
                     "title text, hours numeric, completed_on date)")
        started = time.perf_counter()
        with conn.cursor().copy("COPY copy_target FROM STDIN") as copy:
            for body in batches:
                for x in body:
                    copy.write_row((x["record_id"], x["id_number"], x["course_code"], x["title"], x["hours"], x["completed_on"]))
        conn.commit()
        copy_seconds = time.perf_counter() - started

    library_rate = library_ceiling(pg, env["CE_LEDGER_SECRET_KEY"])
    subprocess.run([sys.executable, "-m", "api.cli", "project", "--once"], env=env, check=True, capture_output=True)
    paths = [f"/v1/professionals/{pid}/totals?from_year=2015&to_year=2018" for pid in pids]
    auditor_headers = {"Authorization": f"Bearer {auditor}"}
    load(url, auditor_headers, paths[:50], 1.0)  # warm up
    ping_rate, ping_lat = load(url, auditor_headers, ["/v1/ping"], SECONDS)
    totals_rate, totals_lat = load(url, auditor_headers, paths, SECONDS)
    return rows, api_seconds, copy_seconds, library_rate, ping_rate, ping_lat, totals_rate, totals_lat


def library_ceiling(pg: str, secret: str) -> float:
    """Events/s the library's own insert stores when handed 1,000 ready events at a time:
    the ceiling of any ingest through it (each completion is two events). In a schema of its
    own: these events belong to no registered person."""
    from ce_ledger.services.base import Events
    from ce_ledger.bootstrap import build_ledger
    from ce_ledger.config import Settings
    from ce_ledger.domain.events import PublicCourseCompleted

    schema = create_schema(pg)
    ledger = build_ledger(Settings(database_url=f"{pg}?schema={schema}", secret_key=secret))
    try:
        def ready() -> list:
            return [PublicCourseCompleted.sealed(
                originator_id=uuid.uuid4(), originator_version=1, recorded_at=datetime.now(UTC),
                activity_id=uuid.uuid4(), record_id=f"C-{i}", course_code="GX-1", title="公需课年度学习",
                hours=Decimal("1.5"), completed_on=date(2016, 1, 1)) for i in range(1000)]
        batches = [ready() for _ in range(10)]
        started = time.perf_counter()
        for events in batches:
            ledger.save(Events(events))
        return 10_000 / (time.perf_counter() - started)
    finally:
        ledger.close()
        drop_schema(pg, schema)


def report(rows, api_seconds, copy_seconds, library_rate, ping_rate, ping_lat, totals_rate, totals_lat) -> int:
    api_rate, copy_rate = rows / api_seconds, rows / copy_seconds
    table = Table(title=f"bench_api (PostgreSQL, 1 uvicorn worker, {CONCURRENCY} client threads)")
    for col in ("measure", "rate", "p50", "p99", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(f"COPY {rows} rows (psycopg)", f"{copy_rate:,.0f} rows/s", "", "", "1.00")
    table.add_row(f"POST completions, batches of {BATCH}", f"{api_rate:,.0f} rows/s", "", "", f"{api_rate / copy_rate:.3f}")
    table.add_row("library save of ready events (ceiling; 2 per completion)", f"{library_rate:,.0f} events/s", "", "",
                  f"{library_rate / 2 / copy_rate:.3f}")

    def ms(lat: list[float], q: int) -> str:
        return f"{statistics.quantiles(lat, n=100)[q - 1] * 1000:.1f} ms"

    table.add_row("GET /v1/ping", f"{ping_rate:,.0f} req/s", ms(ping_lat, 50), ms(ping_lat, 99), "1.00")
    table.add_row("GET …/totals", f"{totals_rate:,.0f} req/s", ms(totals_lat, 50), ms(totals_lat, 99), f"{totals_rate / ping_rate:.2f}")
    console.print(table)
    ingest_ok, totals_ok = api_rate >= 0.05 * copy_rate, totals_rate >= 0.5 * ping_rate
    console.print(f"bars: ingest ≥ 0.05 × COPY → {'[green]meets[/green]' if ingest_ok else '[red]misses[/red]'}; "
                  f"totals ≥ 0.5 × ping → {'[green]meets[/green]' if totals_ok else '[red]misses[/red]'}")
    return 0 if ingest_ok and totals_ok else 1


if __name__ == "__main__":
    sys.exit(main())
