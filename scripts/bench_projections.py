"""Benchmark: rebuild the totals view from a realistic 200k-event history, on PostgreSQL.

Measures in one run, on one database:
  raw scan   plain psycopg: every row of the ledger's log in notification order, JSON-decoded
  rebuild    `TotalsProjection.rebuild()`: a new view version from position zero
  queries    window totals for random professionals and windows (p50, p99)

History (per professional, 5,000 of them by default; see `history` below): registration;
about 24 public courses; 9 specialty claims, most then verified, some rejected, some
left pending; 2 teaching records; a study tour; exam passes; every 5th a degree; and a
void now and then. Platform records and certificates also add one key-reservation row
each to the log (the projection skips those rows without decoding them).

Usage: make bench   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/bench_projections.py [PROFESSIONALS])
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import benchdb
from benchdb import create_schema, drop_schema, postgres_url
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ce_ledger.bootstrap import build_services
from projections.runner import RECORD_TOPICS
from ce_ledger.domain.commands import Registration
from ce_ledger.domain.details import Degree, ExamPass, PublicCourse, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.identity import check_digit
from ce_ledger.domain.values import Decision, Level

console = Console()
NOW = datetime(2019, 3, 25, tzinfo=UTC)
FIRST_DAY = date(2012, 1, 1)


def day(rng: random.Random) -> date:
    return FIRST_DAY + timedelta(days=rng.randrange(0, 2600))


def history(n: int, rng: random.Random) -> list:
    """One professional's activities and what happens to them afterwards."""
    items: list = []
    for i in range(rng.randint(20, 28)):
        items.append(PublicCourse(record_id=f"P{n}-{i}", course_code=f"GX-{i % 9}", title="公需课年度学习",
                                  hours=Decimal(rng.choice(["1", "1.5", "2", "3", "4.5", "6"])), completed_on=day(rng)))
    for i in range(rng.randint(7, 11)):
        items.append(SpecialtyCredit(provider_code=f"NX{i % 5:02d}", certificate_no=f"C{n}-{i}", route="training_class",
                                     subject="专业技术研修", hours=Decimal(rng.choice(["8", "16", "24", "32.5", "40"])),
                                     completed_on=day(rng)))
    for i in range(2):
        items.append(Teaching(taught_on=day(rng), hours_taught=Decimal(rng.choice(["2", "3", "4"])),
                              course="继续教育讲座", document_ref=f"T{n}-{i}"))
    first = day(rng)
    items.append(StudyTour(first_day=first, last_day=first + timedelta(days=4), days=4, subject="考察交流",
                           document_ref=f"S{n}"))
    for module in rng.sample(["WORD", "EXCEL", "PPT", "WINXP"], rng.randint(0, 3)):
        items.append(ExamPass(exam="computer_module", module=module, passed_on=date(2010, 5, 1), certificate_no=f"E{n}-{module}"))
    if n % 5 == 0:
        items.append(Degree(degree="second", institution="宁夏大学", enrolled_on=date(2014, 9, 1),
                            graduated_on=date(2017, 7, 1), certified_hours=Decimal(180)))
    return items


def generate(services, professionals: int, rng: random.Random) -> None:
    ledger = services.ledger
    with Progress(console=console) as progress:
        task = progress.add_task(f"recording {professionals} professionals' histories", total=professionals)
        for start in range(0, professionals, 25):
            batch, pids = [], []
            for n in range(start, min(start + 25, professionals)):
                first17 = f"6401041980{n // 3000 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
                pid = ledger.register(Registration(
                    id_number=first17 + check_digit(first17), name=f"专技{n}", series="工程技术",
                    requires_foreign_language_exam=False, requires_computer_exam=False, own_ce_regulation=False,
                    employer_unit=f"UNIT-{n % 200:03d}",
                ), by="test").professional_id
                pids.append(pid)
                batch.extend((pid, d) for d in history(n, rng))
            ledger.record_batch(batch, by="test")
            # Decisions and voids: one transaction for the whole group, as a committee's session would.
            records = [ledger.professional(pid) for pid in pids]
            for record in records:
                for a in list(record.activities.values()):
                    roll = rng.random()
                    if a.kind == "specialty" and roll < 0.8:
                        decision = Decision.VERIFIED if roll < 0.7 else Decision.REJECTED
                        record.decide(a.id, decision, by="committee:BENCH", reason="核验", now=NOW, today=NOW.date())
                    elif roll < 0.01:
                        record.void(a.id, by="auditor:BENCH", reason="抽查", decision_ref="R", now=NOW, today=NOW.date())
            ledger.save(*records)
            progress.update(task, completed=min(start + 25, professionals))


def main() -> int:
    professionals = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    url = postgres_url()
    if not url:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make bench does)[/red]")
        return 2
    schema = create_schema(url)
    settings = benchdb.settings(url, schema, view_upkeep="worker")
    rng = random.Random(2019)
    try:
        with build_services(settings, clock=lambda: NOW) as services:
            generate(services, professionals, rng)
            rows = services.ledger.position()
            # What an operator does after a bulk load; also keeps autovacuum from
            # starting on the other core in the middle of the measurements.
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'VACUUM ANALYZE "{schema}".ledger_events')
            with psycopg.connect(url) as conn:
                conn.execute(f'SET search_path TO "{schema}"')
                kinds = dict(conn.execute(
                    "SELECT split_part(topic, ':', 2), count(*) FROM ledger_events GROUP BY 1 ORDER BY 2 DESC"
                ).fetchall())

            # Each measured twice, alternately; the better run of each counts (the machine
            # has two cores and the database server shares them).
            raw_runs, rebuild_runs = [], []
            for _ in range(2):
                decoded, seconds = raw_scan(url, schema)
                raw_runs.append(seconds)
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task("rebuilding the totals view", total=rows)
                    started = time.perf_counter()
                    version, applied = services.projection.rebuild(
                        progress=lambda done, total: progress.update(task, completed=done)
                    )
                    rebuild_runs.append(time.perf_counter() - started)
            raw_seconds, rebuild_seconds = min(raw_runs), min(rebuild_runs)

            pids = [uuid.UUID(r[0]) for r in _people(services)]
            samples = []
            for _ in range(2000):
                pid = rng.choice(pids)
                start = rng.choice([2014, 2015])
                t = time.perf_counter()
                services.totals.window(pid, start, 2018)
                samples.append(time.perf_counter() - t)
            verdict_check = services.ledger.evaluate(pids[0], Level.INTERMEDIATE, 2019).credited
            assert services.totals.window(pids[0], 2015, 2018).credited == verdict_check
    finally:
        drop_schema(url, schema)

    raw_rate, rebuild_rate = decoded / raw_seconds, applied / rebuild_seconds
    mix = Table(title=f"history: {professionals} professionals, {rows} log rows")
    mix.add_column("event")
    mix.add_column("rows", justify="right")
    for topic, count in kinds.items():
        mix.add_row(topic, str(count))
    console.print(mix)
    table = Table(title="bench_projections (PostgreSQL)")
    for col in ("measure", "value", "ratio to raw scan"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(f"raw scan + JSON decode ({decoded} rows)", f"{raw_rate:,.0f} rows/s", "1.00")
    table.add_row(f"rebuild ({applied} events)", f"{rebuild_rate:,.0f} events/s", f"{rebuild_rate / raw_rate:.2f}")
    table.add_row("window query p50", f"{statistics.median(samples) * 1000:.2f} ms", "")
    table.add_row("window query p99", f"{statistics.quantiles(samples, n=100)[98] * 1000:.2f} ms", "")
    console.print(table)
    ok = rebuild_rate >= 0.3 * raw_rate
    console.print(f"bar: rebuild ≥ 0.3 × raw scan → {rebuild_rate / raw_rate:.2f} " + ("[green]meets[/green]" if ok else "[red]misses[/red]"))
    return 0 if ok else 1


def raw_scan(url: str, schema: str) -> tuple[int, float]:
    """The raw limit: the rows a rebuild reads (a record's events, not key rows), in log
    order, with plain psycopg, each state JSON-decoded."""
    with psycopg.connect(url) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        started = time.perf_counter()
        decoded = 0
        with conn.cursor(name="scan") as cur:
            cur.itersize = 5000
            cur.execute(
                "SELECT notification_id, topic, state FROM ledger_events WHERE topic = ANY(%s) "
                "ORDER BY notification_id",
                (RECORD_TOPICS,),
            )
            for _, _, state in cur:
                json.loads(state)
                decoded += 1
        return decoded, time.perf_counter() - started


def _people(services) -> list:
    version, _ = services.view.current()
    with services.view.transaction(commit=False) as c:
        c.execute(f"SELECT professional_id FROM {services.view.table(f'totals_v{version}_people')}")
        return [(r["professional_id"],) for r in c.fetchall()]


if __name__ == "__main__":
    sys.exit(main())
