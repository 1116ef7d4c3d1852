"""An import in several processes: a large file on PostgreSQL, one process per core.

A batch's cost is mostly Python (checking rows, deciding, sealing events), one core's worth, so
one process leaves the other cores idle; PostgreSQL orders the writers itself. The file is
cut by person (``Share``): each process reads the whole file, takes the rows whose ID number
falls to it, and records them in batches as a one-process import does, with a journal of its
own, so a stopped run is taken up where each share's last saved batch ended. The units the
file names are named once, by the caller, when every share is done (the last row's name
stands, as in one process).

SQLite takes one writer at a time: there an import stays in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ce_ledger.config import Settings
from ce_ledger.imports.columns import FileKind
from ce_ledger.imports.importer import Importer, ImportReport, Share

PARALLEL_FROM = 2 * 2**20  # bytes (about 20,000 rows): below, starting processes costs more than they save
MAX_JOBS = 4


class OneWriterOnly(ValueError):
    """More than one process asked of a store that takes one writer at a time."""


class ShareStopped(RuntimeError):
    """A share's process ended without a report (killed, out of memory)."""


def jobs_for(settings: Settings, path: Path, asked: int | None) -> int:
    """How many processes import ``path``: as asked, else one per core (at most MAX_JOBS) for a
    large file on PostgreSQL, else one."""
    shared = settings.database_url.startswith("postgres")  # processes that write to one store
    if asked is not None:
        if asked > 1 and not shared:
            raise OneWriterOnly("SQLite takes one writer at a time: --jobs 1 (or PostgreSQL for a parallel import)")
        return max(1, asked)
    if not shared or path.stat().st_size < PARALLEL_FROM:
        return 1
    return max(1, min(MAX_JOBS, os.cpu_count() or 1))


@dataclass(frozen=True)
class _Job:
    settings: Settings
    path: Path
    share: Share
    by: str
    unit: str | None
    sole_writer: bool
    kind: FileKind | None
    encoding: str | None
    dry_run: bool
    resume: bool


def run_in_shares(
    importer: Importer,
    settings: Settings,
    path: Path,
    jobs: int,
    *,
    kind: FileKind | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    resume: bool = True,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ImportReport:
    """``importer.run`` over ``jobs`` processes; one report, as one process would give."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no connection pool is inherited
    messages: Any = context.Queue()
    workers = [
        context.Process(
            target=_run_share, daemon=True, name=f"ce-ledger import {k + 1}/{jobs}",
            args=(_Job(settings, path, Share(k, jobs), importer.by, importer.unit, importer.sole_writer, kind, encoding,
                       dry_run, resume),
                  messages),
        )
        for k in range(jobs)
    ]
    for worker in workers:
        worker.start()
    seen = [0] * jobs
    reports: dict[int, tuple[ImportReport, dict[str, tuple[int, str]]]] = {}
    try:
        while len(reports) < jobs:
            try:
                message = messages.get(timeout=0.5)
            except queue.Empty:
                for k, worker in enumerate(workers):
                    if k not in reports and not worker.is_alive() and messages.empty():
                        raise ShareStopped(f"import share {k + 1} of {jobs} stopped (exit code {worker.exitcode}); "
                                           "run the same command again to take it up where it ended")
                continue
            what, k, *rest = message
            if what == "progress":
                seen[k], total = rest
                progress(sum(seen) // jobs, total)
            elif what == "done":
                reports[k] = rest[0], rest[1]
            else:
                raise rest[0]
    finally:
        for worker in workers:
            if worker.is_alive() and len(reports) < jobs:
                worker.terminate()
            worker.join()
    report = _merged([r for r, _ in reports.values()])
    if not dry_run:
        units: dict[str, tuple[int, str]] = {}
        for _, found in reports.values():
            for code, named in found.items():
                units[code] = max(units.get(code, named), named)  # the file's last row naming it
        importer.name_units(dict(sorted(units.items(), key=lambda item: item[1][0])))
    progress(report.rows, report.rows)
    return report


def _run_share(job: _Job, messages: Any) -> None:
    from ce_ledger import collector
    from ce_ledger.bootstrap import build_services  # this process's own composition root

    try:
        with build_services(job.settings) as services:
            collector.settle()  # a long run of batches, as in a one-process import
            importer = services.importer(by=job.by, unit=job.unit, sole_writer=job.sole_writer)
            report = importer.run(
                job.path, kind=job.kind, encoding=job.encoding, dry_run=job.dry_run, resume=job.resume,
                share=job.share, progress=_throttled(messages, job.share.index),
            )
            messages.put(("done", job.share.index, report, importer.units))  # before the store is closed
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        messages.put(("failed", job.share.index, _picklable(e)))


def _throttled(messages: Any, index: int) -> Callable[[int, int], None]:
    last = [-1]

    def report(done: int, total: int) -> None:
        if done - last[0] >= 1000 or done >= total:
            last[0] = done
            messages.put(("progress", index, done, total))

    return report


def _picklable(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
        return error.with_traceback(None)
    except Exception:  # noqa: BLE001 - an error that cannot travel is told in words
        return RuntimeError(f"{type(error).__name__}: {error}")


def _merged(reports: list[ImportReport]) -> ImportReport:
    first = reports[0]
    out = ImportReport(kind=first.kind, dry_run=first.dry_run, encoding=first.encoding)
    for r in reports:
        out.rows += r.rows
        out.recorded += r.recorded
        out.duplicate += r.duplicate
        out.would_record += r.would_record
        out.resumed += r.resumed
        out.problems += r.problems
    out.problems.sort(key=lambda p: p.row)
    return out
