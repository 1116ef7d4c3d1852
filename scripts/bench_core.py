"""Benchmark: load a professional with 500 activities and evaluate a verdict, on PostgreSQL.

Compares, in one run and on one database:
  raw    plain psycopg: SELECT the record's event rows (no decoding) on an open connection
  cold   a ledger with no cache: fetch, decode and fold every event, then evaluate
  warm   the served configuration (aggregate cache on): fast-forward the cached
         record from the store (one query), then evaluate

Usage: make bench   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/bench_core.py)
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import benchdb
from benchdb import create_schema, drop_schema, postgres_url
from rich.console import Console
from rich.progress import track
from rich.table import Table

from ce_ledger.bootstrap import build_ledger
from ce_ledger.demo import COMMITTEE
from ce_ledger.domain.commands import Registration, Verification
from ce_ledger.domain.details import ExamPass, PublicCourse, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.identity import check_digit
from ce_ledger.domain.values import Decision, Level

ACTIVITIES = 500
ROUNDS = 200
console = Console()


def activities(start: date) -> list:
    """A long but realistic mix: half public courses, a third specialty, the rest others."""
    out = []
    for i in range(ACTIVITIES):
        on = start + timedelta(days=(i * 7) % 2000)
        kind = i % 10
        if kind < 5:
            out.append(PublicCourse(record_id=f"B-{i}", course_code="GX-1", title="公需课年度学习", hours=Decimal("2.5"), completed_on=on))
        elif kind < 8:
            out.append(SpecialtyCredit(provider_code="NXJD-01", certificate_no=f"B-{i}", route="training_class", subject="专业技术研修", hours=Decimal(8), completed_on=on))
        elif kind == 8:
            out.append(Teaching(taught_on=on, hours_taught=Decimal(2), course="继续教育讲座", document_ref=f"T-{i}"))
        elif i % 20 == 9:
            out.append(StudyTour(first_day=on, last_day=on + timedelta(days=2), days=2, subject="考察", document_ref=f"S-{i}"))
        else:
            out.append(ExamPass(exam="computer_module", module=f"M{i % 7}", passed_on=on, certificate_no=f"E-{i}"))
    return out


def timed(f, rounds: int = ROUNDS) -> list[float]:
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return samples


def main() -> int:
    url = postgres_url()
    if not url:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make bench does)[/red]")
        return 2
    schema = create_schema(url)
    settings = benchdb.settings(url, schema)
    clock = lambda: datetime(2019, 3, 25, tzinfo=UTC)  # noqa: E731
    try:
        writer = build_ledger(settings, clock=clock)
        first17 = "64010419800101123"
        pid = writer.register(Registration(
            id_number=first17 + check_digit(first17), name="基准", series="工程技术",
            requires_foreign_language_exam=False, requires_computer_exam=False, own_ce_regulation=False,
            employer_unit="BENCH",
        ), by="test").professional_id
        items = activities(date(2013, 1, 1))
        for i in track(range(0, len(items), 50), description="recording 500 activities", console=console):
            writer.record_batch([(pid, d) for d in items[i : i + 50]], by="test")
        record = writer.professional(pid)
        for a in list(record.activities.values())[::2]:
            if a.kind == "specialty":
                writer.decide(pid, a.id, Verification(decision=Decision.VERIFIED, reason="核验"), by=COMMITTEE)
        rows = writer.professional(pid).version
        writer.close()

        conn = psycopg.connect(url)
        conn.execute(f'SET search_path TO "{schema}"')
        query = "SELECT originator_version, topic, state FROM ledger_events WHERE originator_id = %s ORDER BY originator_version"

        def raw() -> None:
            assert len(conn.execute(query, (pid,)).fetchall()) == rows

        cold_ledger = build_ledger(settings.model_copy(update={"cache_size": 0}), clock=clock)
        warm_ledger = build_ledger(settings, clock=clock)
        evaluate = lambda app: app.evaluate(pid, Level.DEPUTY_SENIOR, 2019)  # noqa: E731
        assert evaluate(cold_ledger).fingerprint == evaluate(warm_ledger).fingerprint
        for f in (raw, lambda: evaluate(cold_ledger), lambda: evaluate(warm_ledger)):
            timed(f, 20)  # warm up connections, prepared statements, caches
        results = {
            "raw psycopg fetch": timed(raw),
            "cold: load + evaluate": timed(lambda: evaluate(cold_ledger)),
            "warm: load + evaluate (served)": timed(lambda: evaluate(warm_ledger)),
        }
        cold_ledger.close()
        warm_ledger.close()
        conn.close()
    finally:
        drop_schema(url, schema)

    base = statistics.median(results["raw psycopg fetch"])
    table = Table(title=f"bench_core: one record, {ACTIVITIES} activities, {rows} events, {ROUNDS} rounds")
    for col in ("path", "median ms", "p95 ms", "ratio to raw"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for name, samples in results.items():
        med = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[18]
        table.add_row(name, f"{med * 1000:.2f}", f"{p95 * 1000:.2f}", f"{med / base:.1f}")
    console.print(table)
    warm_ratio = statistics.median(results["warm: load + evaluate (served)"]) / base
    verdict = "[green]meets[/green]" if warm_ratio <= 5 else "[red]misses[/red]"
    console.print(f"bar: served load + evaluate ≤ 5 × raw fetch → {warm_ratio:.1f} {verdict}")
    return 0 if warm_ratio <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
