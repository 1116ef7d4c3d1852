"""Benchmark: `ce-ledger verify` over the projection benchmark's history, on PostgreSQL.

Measures in one run, on one database:
  raw scan   plain psycopg: every row of the ledger's table (a server-side cursor), each
             state JSON-decoded — the least any verification must do
  verify     `Audit.verify()`: every stream walked in version order, every digest and link
             recomputed (plus verdict pins and checkpoints; the history has one checkpoint)

The history is `bench_projections.generate` (5,000 professionals by default).
Bar: verify ≥ 0.3 × the raw scan's rows/s.

Usage: make bench-verify   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/bench_verify.py [PROFESSIONALS])
"""

from __future__ import annotations

import json
import random
import sys
import time

import psycopg
from bench_projections import NOW, console, generate
import benchdb
from benchdb import create_schema, drop_schema, postgres_url
from rich.progress import Progress
from rich.table import Table

from ce_ledger.bootstrap import build_services
from ce_ledger.audit.service import Audit


def raw_scan(url: str, schema: str) -> tuple[int, float]:
    with psycopg.connect(url) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        started = time.perf_counter()
        decoded = 0
        with conn.cursor(name="scan") as cur:
            cur.itersize = 10_000
            cur.execute("SELECT originator_id, originator_version, topic, state FROM ledger_events")
            for _, _, _, state in cur:
                json.loads(state)
                decoded += 1
        return decoded, time.perf_counter() - started


def main() -> int:
    professionals = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    url = postgres_url()
    if not url:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make bench-verify does)[/red]")
        return 2
    schema = create_schema(url)
    settings = benchdb.settings(url, schema, view_upkeep="worker")
    try:
        with build_services(settings, clock=lambda: NOW) as services:
            generate(services, professionals, random.Random(2019))
            audit = Audit(services.ledger)
            audit.checkpoint(by="bench")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'VACUUM ANALYZE "{schema}".ledger_events')
            raw_runs, verify_runs = [], []
            for _ in range(2):  # alternately, the better of each: two cores shared with the server
                rows, seconds = raw_scan(url, schema)
                raw_runs.append(seconds)
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task("verifying hash chains", total=rows)
                    started = time.perf_counter()
                    report = audit.verify(progress=lambda n: progress.advance(task, n))
                    verify_runs.append(time.perf_counter() - started)
                assert report.intact and report.events == rows, report.breaks[:3]
    finally:
        drop_schema(url, schema)

    raw_rate, verify_rate = rows / min(raw_runs), rows / min(verify_runs)
    table = Table(title=f"bench_verify (PostgreSQL, {professionals} professionals, {report.streams} streams)")
    for col in ("measure", "value", "ratio to raw scan"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(f"raw scan + JSON decode ({rows} rows)", f"{raw_rate:,.0f} rows/s", "1.00")
    table.add_row(f"verify ({report.events} events)", f"{verify_rate:,.0f} events/s", f"{verify_rate / raw_rate:.2f}")
    console.print(table)
    ok = verify_rate >= 0.3 * raw_rate
    console.print(f"bar: verify ≥ 0.3 × raw scan → {verify_rate / raw_rate:.2f} " + ("[green]meets[/green]" if ok else "[red]misses[/red]"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
