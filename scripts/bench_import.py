"""Benchmark `ce-ledger import` against the same rows sent as API batches, same run, same server.

The rows are platform public-course completions over many professionals (the biggest
files the ledger gets). Two fresh PostgreSQL schemas with the same registrations: one
receives the rows as a CSV file through the importer (and again as .xlsx), the other
as POST /v1/platform/completions batches of 500 to a real `ce-ledger serve`. Reported
as rows/s and the ratio importer ÷ API.

Usage: make bench-import   (or: CE_LEDGER_TEST_POSTGRES_URL=postgresql://… python scripts/bench_import.py)
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_api import (  # the same rows
    BATCH,
    BATCHES,
    PROFESSIONALS,
    completions,
    post_batches,
    register_all,
)
from benchdb import (
    create_schema,
    drop_schema,
    id_numbers,
    issue_token,
    postgres_url,
    served,
)
from openpyxl import Workbook
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from ce_ledger.imports.importer import Importer

console = Console()
HEADERS = ["身份证号", "学习记录编号", "课程编号", "课程名称", "学时", "完成日期"]
FIELDS = ["id_number", "record_id", "course_code", "title", "hours", "completed_on"]
SECRET = "bench-secret-key-0123456789abcdef0123"


def write_files(folder: Path, batches: list[list[dict]], offset: int) -> tuple[Path, Path]:
    """The same rows as a CSV and as a workbook (record ids shifted so both can be imported)."""
    rows = [x for body in batches for x in body]
    csv_path, xlsx_path = folder / "completions.csv", folder / "completions.xlsx"
    with csv_path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADERS)
        out.writerows([x[k] for k in FIELDS] for x in rows)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADERS)
    for x in rows:
        sheet.append([x["id_number"], f"{x['record_id']}-{offset}", *(x[k] for k in FIELDS[2:])])
    book.save(xlsx_path)
    return csv_path, xlsx_path


def import_rate(settings: Settings, path: Path, rows: int) -> float:
    ledger = build_ledger(settings)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"importing {path.name}", total=rows)
            started = time.perf_counter()
            report = Importer(ledger, by="bench").run(path, progress=lambda n, t: progress.update(task, completed=n))
            seconds = time.perf_counter() - started
    finally:
        ledger.close()
    assert report.recorded == rows and not report.problems, (report.recorded, report.problems[:3])
    return rows / seconds


def main() -> int:
    pg = postgres_url()
    if not pg:
        console.print("[red]needs PostgreSQL: set CE_LEDGER_TEST_POSTGRES_URL (make bench-import does)[/red]")
        return 2
    api_schema, import_schema = create_schema(pg), create_schema(pg)
    try:
        numbers = id_numbers(PROFESSIONALS)
        batches = [completions(numbers, b * BATCH) for b in range(BATCHES)]
        rows = BATCHES * BATCH
        env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"{pg}?schema={api_schema}", "CE_LEDGER_SECRET_KEY": SECRET,
               "CE_LEDGER_VIEW_UPKEEP": "worker"}
        token = issue_token(env, "platform")
        with served(env) as server, httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
            register_all(c, numbers)
            c.post("/v1/platform/completions", json={"completions": completions(numbers, 10**7)})  # warm up
            api_rate = rows / post_batches(c, batches)

        settings = Settings(database_url=f"{pg}?schema={import_schema}", secret_key=SECRET, view_upkeep="worker")
        ledger = build_ledger(settings)
        try:
            for number in numbers:
                ledger.register(_registration(number), by="test")
        finally:
            ledger.close()
        with tempfile.TemporaryDirectory() as folder:
            csv_path, xlsx_path = write_files(Path(folder), batches, offset=1)
            csv_rate = import_rate(settings, csv_path, rows)
            xlsx_rate = import_rate(settings, xlsx_path, rows)
    finally:
        drop_schema(pg, api_schema)
        drop_schema(pg, import_schema)

    table = Table(title=f"bench_import (PostgreSQL, {rows:,} public-course rows over {PROFESSIONALS:,} professionals)")
    for col in ("measure", "rate", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(f"POST completions, batches of {BATCH} (real server)", f"{api_rate:,.0f} rows/s", "1.00")
    table.add_row("ce-ledger import, CSV", f"{csv_rate:,.0f} rows/s", f"{csv_rate / api_rate:.2f}")
    table.add_row("ce-ledger import, xlsx", f"{xlsx_rate:,.0f} rows/s", f"{xlsx_rate / api_rate:.2f}")
    console.print(table)
    return 0


def _registration(number: str):
    from ce_ledger.domain.commands import Registration

    return Registration(id_number=number, name="专技", series="工程技术", requires_foreign_language_exam=False,
                        requires_computer_exam=False, own_ce_regulation=False, employer_unit="U-1")


if __name__ == "__main__":
    sys.exit(main())
