"""The ``ce-ledger`` command line."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta
from enum import Enum
import getpass
import os
import json as json_module
import secrets
import signal
import threading
from pathlib import Path
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.console import Console

from ce_ledger.domain.values import Channel
from ce_ledger.config import Settings
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.values import Level
from ce_ledger.imports.columns import FileKind
from ce_ledger.access import Principal, Role
from ce_ledger.bootstrap import build_access, build_services, prepare_stores

# Each command imports what only it uses (the demo's data, api.render's tables, rich's progress bar
# and tables): every start pays for what is imported here, `--help` and `keys` included.

app = typer.Typer(help="ce-ledger: continuing-education credits, event-sourced (宁人社函〔2019〕148号).")
# Tables wrap (their columns fold) rather than cut: at 80 columns, or the terminal's width, or
# COLUMNS when output is piped (rich reads it; 80 otherwise).
console = Console()
progress_console = Console(stderr=True)  # progress on stderr: stdout stays the result (a table or JSON)


@app.callback()
def _command(ctx: typer.Context) -> None:
    # A command works on one thread: one PostgreSQL connection a pool to start with (pools grow on
    # demand; each connection opened costs both sides about 10 ms of CPU). The server's request
    # threads keep the configured size (CE_LEDGER_POSTGRES_POOL_SIZE, default 8).
    if ctx.invoked_subcommand != "serve" and "CE_LEDGER_POSTGRES_POOL_SIZE" not in os.environ:
        os.environ["CE_LEDGER_POSTGRES_POOL_SIZE"] = "1"
        # For this command only (a command run in-process, as the tests do, leaves it unset again).
        ctx.call_on_close(lambda: os.environ.pop("CE_LEDGER_POSTGRES_POOL_SIZE", None))


@app.command()
def demo(
    year: int = typer.Option(2019, help="evaluation year"),
    json: bool = typer.Option(False, "--json", help="print each evaluation's canonical JSON, a line each"),
) -> None:
    """Load the demo professionals (once: reloading records nothing new) and print their verdicts."""
    from rich.progress import Progress

    from api.render import verdict_panel
    from ce_ledger import demo as demo_data

    with build_services() as services:
        ledger = services.ledger
        with Progress(console=progress_console, transient=True) as progress:
            task = progress.add_task("recording demo activities", total=len(demo_data.PEOPLE))
            loaded = demo_data.load(ledger, progress=lambda _: progress.advance(task))
            demo_data.load_programmes(ledger)
        for item in loaded:
            verdict = ledger.evaluate(item.professional_id, item.person.level, year)
            if json:
                typer.echo(verdict.canonical_json().decode())
                continue
            console.print(f"[dim]{item.person.story}[/dim]")
            console.print(verdict_panel(verdict, ledger.professional(item.professional_id)))


@app.command()
def evaluate(
    professional_id: UUID,
    level: Level = typer.Option(..., help="title level applied for"),
    year: int = typer.Option(2019, help="evaluation year"),
    rule_set: str | None = typer.Option(None, help="rule-set id (default: the one in force)"),
    json: bool = typer.Option(False, "--json", help="print the evaluation's canonical JSON"),
) -> None:
    """Evaluate one professional's record now and print what a verdict would say (nothing is
    recorded: a committee issues verdicts, over HTTP or in the workbench)."""
    from api.render import verdict_panel

    with build_services() as services:
        ledger = services.ledger
        try:
            verdict = ledger.evaluate(professional_id, level, year, rule_set=rule_set)
        except LedgerError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
        if json:
            typer.echo(verdict.canonical_json().decode())
        else:
            console.print(verdict_panel(verdict, ledger.professional(professional_id)))


@app.command()
def project(
    batch_size: int = typer.Option(1000, help="notifications applied per transaction"),
    once: bool = typer.Option(False, "--once", help="catch up and exit instead of following"),
) -> None:
    """Keep the totals view current: follow the ledger's log (PostgreSQL: LISTEN/NOTIFY)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with build_services() as services:
        projection = services.projection
        projection.batch_size = batch_size
        if once:
            console.print(f"applied {projection.catch_up()} notifications")
            return
        console.print(f"following the ledger's log into totals view v{projection.current_version()} (Ctrl-C stops)")
        projection.follow(stop)


class RebuildOrder(str, Enum):
    streams = "streams"
    log = "log"


@app.command()
def rebuild(
    json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    keep_previous: bool = typer.Option(False, "--keep-previous", help="keep the version it replaces, for a rollback"),
    order: RebuildOrder | None = typer.Option(
        None, "--order", help="read the log stream by stream or in position order (default: by the log's size)"),
) -> None:
    """Build the totals view anew from position zero beside the current one, then switch readers;
    the version it replaces is compared with the new one, then dropped (unless --keep-previous)."""
    from rich.progress import Progress

    from api.render import rebuild_table

    with build_services() as services:
        old = services.projection.current_version()
        with Progress(console=progress_console) as progress:
            task = progress.add_task("rebuilding the totals view", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            new, applied = services.projection.rebuild(progress=advance, keep_previous=True,
                                                         order=order.value if order else None)
        services.projection.catch_up(old)  # compare against an old version that is up to date
        before, after = services.view.digest(old), services.view.digest(new)
        services.view.drop_retired(keep=1 if keep_previous else 0)
        if json:
            typer.echo(json_module.dumps({"old": old, "new": new, "applied": applied, "identical": before == after}))
            return
        console.print(rebuild_table(old, new, applied, before, after))
        if before != after:
            console.print(f"[yellow]v{new} differs from v{old}: the rule-set or the view's code changed[/yellow]")


@app.command()
def staff(
    unit: str = typer.Argument(..., help="employer unit code"),
    level: Level = typer.Option(..., help="title level applied for"),
    year: int = typer.Option(2019, help="evaluation year"),
    json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """A unit's staff against one requirement, those furthest short first (from the totals view)."""
    from api.render import standing_table

    with build_services() as services:
        try:
            standings = services.totals.unit(unit, level, year)
        except LedgerError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
        if json:
            for standing in standings:
                typer.echo(standing.model_dump_json())
        else:
            console.print(standing_table(standings))


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".csv (UTF-8 or GB18030) or .xlsx"),
    kind: FileKind | None = typer.Option(None, help="the file's kind; default: told by its headers"),
    encoding: str | None = typer.Option(None, help="a CSV's encoding; default: UTF-8, else GB18030"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row and report; record nothing"),
    restart: bool = typer.Option(False, "--restart", help="send every row again, even after a stopped run"),
    by: str = typer.Option("committee:import", help="who confirms legacy uploads (recorded on each decision)"),
    json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help="processes recording at once; default: one per core "
                                    "(up to 4) for a file over 2 MiB on PostgreSQL, else 1 (SQLite: always 1)"),
) -> None:
    """Import public-course exports, employers' certificates or pre-2019 legacy uploads.

    Every row is checked like an API request; bad rows are listed with their row number,
    column and problem, the good ones are recorded, and importing the file again records
    nothing new. A run that stopped (killed, a lost connection) is taken up where its last saved
    batch ended: run the same command again. Exit status 1 when any row was refused, 2 when the
    file cannot be read, 3 when one of several importing processes stopped (run it again).
    """
    from rich.progress import Progress

    from api.render import import_problems_table, import_summary
    from ce_ledger.imports.parallel import OneWriterOnly, ShareStopped, jobs_for, run_in_shares
    from ce_ledger.imports.sheets import UnreadableFile

    from ce_ledger import collector

    with build_services() as services:
        try:
            processes = jobs_for(services.settings, file, jobs)
        except OneWriterOnly as e:
            console.print(f"[red]--jobs: {e}[/red]")
            raise typer.Exit(2) from None
        collector.settle()  # a large file is a long run of batches, like a server's requests
        with Progress(console=progress_console, transient=True) as progress:
            shown = f"importing {file.name}" + (f" ({processes} processes)" if processes > 1 else "")
            task = progress.add_task(shown, total=None)
            options = {"kind": kind, "encoding": encoding, "dry_run": dry_run, "resume": not restart,
                       "progress": lambda n, total: progress.update(task, completed=n, total=total)}
            importer = services.importer(by=by, sole_writer=True)  # a migration: its shares write their own people
            try:
                done = (run_in_shares(importer, services.settings, file, processes, **options) if processes > 1
                        else importer.run(file, **options))
            except UnreadableFile as e:
                console.print(f"[red]{file.name}: {e}[/red]")
                raise typer.Exit(2) from None
            except ShareStopped as e:
                console.print(f"[red]{file.name}: {e}[/red]")
                raise typer.Exit(3) from None
    if json:
        typer.echo(json_module.dumps(dataclasses.asdict(done), ensure_ascii=False, indent=2))
    else:
        console.print(import_summary(file.name, done))
        if done.problems:
            console.print(import_problems_table(done.problems))
    if done.problems:
        raise typer.Exit(1)


# -- backup and restore ------------------------------------------------------------------


def _stores(settings: Settings):
    """The ledger and the token registry, whose logs a backup holds (the view is rebuilt)."""
    services = build_services(settings, read_side=False)
    return services.ledger, services.access


def _expected_header(settings: Settings, counts: dict[str, int]):
    from ce_ledger.backup import Header, key_check
    from ce_ledger.config import secret_key

    return Header(key_check=key_check(secret_key(settings)), encrypted=settings.encryption_key is not None,
                  counts=counts)


@app.command()
def export(file: Path = typer.Argument(..., dir_okay=False, help="the JSON-lines file to write")) -> None:
    """Write the whole event log (ledger and tokens) as JSON lines, in log order, as stored."""
    from rich.progress import Progress

    from ce_ledger.backup import export_log

    settings = Settings()
    ledger, access = _stores(settings)
    try:
        recorders = {"ledger": ledger.recorder, "access": access.recorder}
        counts = {app: _count(r) for app, r in recorders.items()}
        # Owner-only, like the store it copies: it holds the whole log.
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out, Progress(console=progress_console, transient=True) as progress:
            task = progress.add_task(f"exporting to {file.name}", total=sum(counts.values()))
            written = export_log(recorders, out, _expected_header(settings, counts),
                                 progress=lambda n: progress.update(task, completed=n))
    finally:
        ledger.close()
        access.close()
    console.print(f"[green]{written} events written to {file}[/green] ({', '.join(f'{k}: {v}' for k, v in counts.items())})")


def _count(recorder) -> int:
    return recorder.count_events()


@app.command("import-log")
def import_log(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a file from `ce-ledger export`")) -> None:
    """Restore an exported log into this (empty) store, each event under its own log position."""
    from rich.progress import Progress

    from ce_ledger.backup import RestoreRefused, read_header, restore_log

    settings = Settings()
    with file.open(encoding="utf-8") as f:
        try:
            announced = read_header(f.readline())
        except RestoreRefused as e:
            console.print(f"[red]{file.name}: {e}[/red]")
            raise typer.Exit(2) from None
    ledger, access = _stores(settings)
    try:
        with file.open(encoding="utf-8") as lines, Progress(console=progress_console, transient=True) as progress:
            task = progress.add_task(f"restoring {file.name}", total=sum(announced.counts.values()))
            done = restore_log({"ledger": ledger.recorder, "access": access.recorder}, lines,
                               _expected_header(settings, announced.counts),
                               progress=lambda n: progress.update(task, completed=n))
    except RestoreRefused as e:
        console.print(f"[red]{file.name}: {e}[/red]")
        raise typer.Exit(2) from None
    finally:
        ledger.close()
        access.close()
    console.print(f"[green]restored {', '.join(f'{k}: {v}' for k, v in done.items())} events[/green]; "
                  "check it with `ce-ledger verify`; the totals view is rebuilt when the API or `ce-ledger project` starts")


report = typer.Typer(help="Reports from the read side.")
app.add_typer(report, name="report")


@report.command("programmes")
def report_programmes(
    year: int = typer.Option(..., help="the programmes' year"),
    json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """The knowledge-update programmes of a year: planned vs held classes and trainees (§2)."""
    from api.render import programme_tables
    from projections.programmes import programme_report

    with build_services() as services:
        services.projection.catch_up()  # a worker may not have caught up yet
        report = programme_report(services.view, year)
        if json:
            typer.echo(report.model_dump_json(indent=2))
            return
        for table in programme_tables(report):
            console.print(table)


# -- audit ------------------------------------------------------------------------------


def _audit():
    services = build_services(Settings(), read_side=False)
    return services, services.audit


@app.command()
def replay(
    verdict_id: UUID,
    json: bool = typer.Option(False, "--json", help="print the replay as JSON"),
) -> None:
    """Re-evaluate a recorded verdict from the record versions it pinned; exit 1 unless reproduced."""
    from api.render import replay_panel

    services, audit = _audit()
    try:
        result = audit.replay(verdict_id)
    except LedgerError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        services.close()
    if json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        console.print(replay_panel(result))
    raise typer.Exit(0 if result.reproduced else 1)


@app.command()
def verify(json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Recompute every stream's hash chain, verdict pins and checkpoints; exit 1 on any break.
    Also lists live activities whose keys are one key once compared in one spelling (reading 16),
    and records that finding for the workbench's auditors when it changed."""
    from rich.progress import Progress

    from api.render import breaks_table, collisions_table

    services, audit = _audit()
    try:
        with Progress(console=progress_console, transient=True) as progress:
            task = progress.add_task("verifying hash chains", total=audit.log.count())
            report = audit.verify(progress=lambda n: progress.advance(task, n))
        audit.record_findings(report, by=f"cli:{_operator()}", channel=Channel.CLI)
    finally:
        services.close()
    if json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        if report.breaks:
            console.print(breaks_table(report.breaks))
        if report.collisions:
            console.print(collisions_table(report.collisions, report.more_collisions))
        console.print(
            f"{report.events} events on {report.streams} streams, {report.verdict_pins} verdict pins, "
            f"{report.checkpoints} checkpoints: "
            + ("[green]intact[/green]" if report.intact else f"[red]{len(report.breaks)} break(s)[/red]")
        )
    raise typer.Exit(0 if report.intact else 1)


@app.command()
def checkpoint(by: str = typer.Option("cli", help="who records it")) -> None:
    """Record a Merkle root over the log now (hashing only what was appended); publish the root it prints."""
    services, audit = _audit()
    try:
        recorded = audit.checkpoint(by=by, channel=Channel.CLI)
    finally:
        services.close()
    console.print(f"checkpoint {recorded.originator_version}: position {recorded.position}, "
                  f"{recorded.streams} rows of the log\nroot [bold]{recorded.root}[/bold]")


@app.command()
def prove(
    stream_id: UUID,
    checkpoint: int | None = typer.Option(None, help="checkpoint number (default: the latest)"),
) -> None:
    """Print an inclusion proof (JSON) of a stream's head in a checkpoint; docs/audit.md checks it."""
    services, audit = _audit()
    try:
        proof = audit.prove(stream_id, checkpoint)
    except LedgerError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(json_module.dumps({"checkpoint": proof.checkpoint, **proof.to_dict()}, indent=2))


@app.command()
def consistency(
    old: int = typer.Argument(..., help="the earlier checkpoint"),
    new: int | None = typer.Argument(None, help="the later checkpoint (default: the latest)"),
) -> None:
    """Print a consistency proof (JSON, RFC 9162): the later checkpoint extends the earlier one."""
    services, audit = _audit()
    try:
        proof = audit.consistency(old, new)
    except LedgerError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(json_module.dumps(dataclasses.asdict(proof), indent=2))


@app.command("file-roster")
def file_roster_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a CSV (UTF-8 or GB18030) or xlsx roster"),
    provider: str = typer.Option(..., help="the CE base filing it"),
    encoding: str | None = typer.Option(None, help="the CSV's encoding, if not UTF-8 or GB18030"),
    json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """File a CE base's roster of certificates (备案): each row as over the API; a retry files nothing twice."""
    from api.render import import_problems_table
    from ce_ledger.imports.roster import file_roster
    from ce_ledger.imports.sheets import UnreadableFile

    with build_services() as services:
        try:
            report = file_roster(services.ledger, provider, file, by=f"cli:{_operator()}", encoding=encoding)
        except (UnreadableFile, LedgerError) as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
    if json:
        typer.echo(json_module.dumps({**{k: getattr(report, k) for k in ("rows", "filed", "duplicate", "verified_claims")},
                                      "problems": [p.__dict__ for p in report.problems]}, ensure_ascii=False))
    else:
        console.print(f"{report.rows} row(s): {report.filed} filed, {report.duplicate} on file already, "
                      f"{report.verified_claims} claim(s) verified by their filing, {len(report.problems)} problem(s)")
        if report.problems:
            console.print(import_problems_table(report.problems))
    raise typer.Exit(1 if report.problems else 0)


spot = typer.Typer(help="The Department's spot checks of recorded verdicts (§3(5)).")
app.add_typer(spot, name="spot-check")


@spot.command("draw")
def spot_check_draw(
    year: int = typer.Option(..., help="the evaluation year of the verdicts"),
    rate: str = typer.Option(None, help="a share in (0, 1], e.g. 0.01"),
    size: int = typer.Option(None, help="or a number of verdicts"),
    level: str = typer.Option(None, help="junior, intermediate, deputy_senior or senior"),
    unit: str = typer.Option(None, help="one unit's code"),
    series: str = typer.Option(None, help="one title series"),
    seed: str = typer.Option(None, help="the seed (8+ characters); generated and shown if not given"),
    position: int = typer.Option(None, "--as-of-position", help="the population as of this log position"),
    weighted: bool = typer.Option(False, "--weighted", help="weight verdicts by their intrinsic risk signals"),
    by: str = typer.Option(None, help="who draws it, for the record (default: the login name)"),
    json: bool = typer.Option(False, "--json", help="print the recorded spot check as JSON"),
) -> None:
    """Draw a spot check and record it (docs/inspection.md gives the procedure)."""
    from pydantic import ValidationError
    from rich.table import Table

    from ce_ledger.domain.errors import InvalidInput
    from ce_ledger.domain.inspection import SpotCheckRequest
    from ce_ledger.domain.values import Channel

    try:
        request = SpotCheckRequest(evaluation_year=year, rate=rate, size=size, level=level, unit=unit, series=series,
                                   seed=seed, as_of_position=position, weighted=weighted)
    except ValidationError as e:
        error = InvalidInput.from_validation(e)
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    with build_services() as services:
        services.projection.catch_up()
        try:
            drawn = services.ledger.draw_spot_check(request, services.view, by=f"auditor:{by or _operator()}",
                                                   channel=Channel.CLI)
        except LedgerError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
    if json:
        typer.echo(drawn.model_dump_json(indent=2))
        return
    table = Table(title=f"spot check {drawn.originator_id}: seed {drawn.seed}, position {drawn.position}")
    for col, justify in (("unit", "left"), ("series", "left"), ("population", "right"), ("drawn", "right")):
        table.add_column(col, justify=justify, overflow="fold")
    for s in drawn.strata:
        table.add_row(s.unit, s.series, str(s.population), str(s.drawn))
    console.print(table)
    console.print(f"sample: {len(drawn.sample)} verdict(s); `ce-ledger spot-check show {drawn.originator_id}` lists them")


@spot.command("show")
def spot_check_show(
    spot_check_id: UUID,
    json: bool = typer.Option(False, "--json", help="print JSON lines, a sampled verdict each"),
) -> None:
    """The sample of a recorded spot check, with each verdict's latest finding."""
    from rich.table import Table

    with build_services(Settings(), read_side=False) as services:
        ledger = services.ledger
        try:
            drawn = ledger.spot_check(spot_check_id)
        except LedgerError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
        rows = []
        for vid in drawn.sample:
            found = [f for f in ledger.findings_of(vid) if f.spot_check_id == spot_check_id]
            issued = ledger.verdict(vid)
            rows.append((str(vid), str(issued.professional_id), "passed" if issued.verdict.passed else "failed",
                         found[-1].finding.value if found else "—"))
    if json:
        for vid, pid, result, finding in rows:
            typer.echo(json_module.dumps({"verdict_id": vid, "professional_id": pid, "result": result,
                                          "finding": None if finding == "—" else finding}))
        return
    table = Table(title=f"spot check {spot_check_id}: {len(rows)} sampled")
    for col in ("verdict", "professional", "result", "finding"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


keys = typer.Typer(help="Keys the settings need.")
app.add_typer(keys, name="keys")


@keys.command("encryption")
def encryption_key() -> None:
    """Print a new AES-256 key for CE_LEDGER_ENCRYPTION_KEY (keep it apart from the database)."""
    typer.echo(base64.b64encode(secrets.token_bytes(32)).decode())


tokens = typer.Typer(help="Bearer tokens for the HTTP API.")
app.add_typer(tokens, name="tokens")


def _operator() -> str:
    """Who runs the command, for the record (the login name, else the user id)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


@tokens.command("list")
def list_tokens(json: bool = typer.Option(False, "--json", help="print JSON lines")) -> None:
    """Every token issued: id, role, binding, name, issued, expires, last used (the day), state
    (never the token itself)."""
    from rich.table import Table

    access = build_access(Settings())
    try:
        found = access.tokens()
    finally:
        access.close()
    if json:
        for t in found:
            typer.echo(json_module.dumps({
                "id": str(t.id), "role": t.principal.role.value, "unit": t.principal.unit,
                "professional_id": str(t.principal.professional_id) if t.principal.professional_id else None,
                "name": t.principal.name, "issued_at": t.issued_at.isoformat(),
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "last_used": t.last_used.date().isoformat() if t.last_used else None, "state": t.state,
            }, ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} token(s)")
    for col in ("id", "role", "binding", "name", "issued", "expires", "last used", "state"):
        table.add_column(col, overflow="fold")
    for t in found:
        p = t.principal
        table.add_row(str(t.id), p.role.value, p.unit or (str(p.professional_id) if p.professional_id else ""), p.name,
                      f"{t.issued_at:%Y-%m-%d}", f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "—",
                      f"{t.last_used:%Y-%m-%d}" if t.last_used else "—", t.state)
    console.print(table)


@tokens.command("lookups")
def list_lookups(
    limit: int = typer.Option(100, min=1, max=10_000, help="how many, newest first"),
    json: bool = typer.Option(False, "--json", help="print JSON lines"),
) -> None:
    """Lookups by ID number, newest first: who, when, which record (its keyed id), and whether
    it was one they may see. A run of misses from one token is someone guessing numbers."""
    from rich.table import Table

    access = build_access(Settings())
    try:
        found = access.lookups(limit)
    finally:
        access.close()
    if json:
        for e in found:
            typer.echo(json_module.dumps({"at": e.recorded_at.isoformat(), "by": e.caused_by, "channel": e.channel,
                                          "professional_id": str(e.professional_id), "found": e.found}))
        return
    table = Table(title=f"{len(found)} lookup(s), newest first")
    for col in ("at", "by", "record", "found"):
        table.add_column(col, overflow="fold")
    for e in found:
        table.add_row(f"{e.recorded_at:%Y-%m-%d %H:%M:%S}", e.caused_by or "", str(e.professional_id),
                      "yes" if e.found else "no")
    console.print(table)


@tokens.command("revoke")
def revoke_token(
    token_id: UUID = typer.Argument(..., help="the id `ce-ledger tokens list` shows"),
    reason: str = typer.Option(..., help="why (recorded with the revocation)"),
) -> None:
    """Refuse a token from now on: every server process within 5 seconds (its workbench sessions too)."""
    access = build_access(Settings())
    try:
        info = access.revoke(token_id, reason=reason, by=f"cli:{_operator()}", channel=Channel.CLI)
    except KeyError as e:
        console.print(f"[red]{e.args[0]}[/red]")
        raise typer.Exit(2) from None
    finally:
        access.close()
    console.print(f"token {info.id} ({info.principal.actor}): {info.state}")


@tokens.command("issue")
def issue_token(
    role: Role = typer.Option(..., help="platform, employer, committee, auditor, professional or provider"),
    unit: str | None = typer.Option(None, help="the employer's unit code (employer tokens)"),
    professional: UUID | None = typer.Option(None, help="the record a professional token may see"),
    provider: str | None = typer.Option(None, help="the CE base a provider token files for (provider tokens)"),
    name: str = typer.Option("cli", help="who holds it; decisions name it"),
    expires_in: int | None = typer.Option(
        None, "--expires-in", min=1, help="days it is valid (default: 30 for people, no end for a platform)"
    ),
) -> None:
    """Print a new bearer token on stdout. Only its SHA-256 is stored: keep it, it is shown once."""
    settings = Settings()
    access = build_access(settings)
    lifetime = timedelta(days=expires_in) if expires_in else "default"
    try:
        typer.echo(access.issue(Principal(role=role, unit=unit, professional_id=professional, provider=provider, name=name),
                                by=f"cli:{_operator()}", channel=Channel.CLI, expires_in=lifetime))
    except (ValueError, ValidationError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        access.close()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, help="server processes"),
    demo: bool = typer.Option(False, "--demo", help="load the demo data (once) and print a token per role"),
    log_level: str = typer.Option("warning", help="uvicorn's log level; `info` adds a line per request"),
) -> None:
    """Run the HTTP API (uvicorn) on the configured store."""
    settings = Settings()
    if settings.plain_http and host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[red]CE_LEDGER_PLAIN_HTTP is for loopback only: serve on 127.0.0.1, or behind TLS[/red]")
        raise typer.Exit(2)
    if prepare_stores(settings):  # before the workers start: they would race to create them
        # The view was built by another rule-set (or other code): serve it meanwhile, rebuild beside.
        import subprocess
        import sys

        subprocess.Popen([sys.executable, "-m", "api.cli", "rebuild"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        console.print("[yellow]the totals view is being rebuilt for the configured rule-set; the current "
                      "version answers until it is done[/yellow]")
    if demo:
        from rich.table import Table

        from ce_ledger import demo as demo_data

        services = build_services(settings)
        loaded = demo_data.load(services.ledger)
        demo_data.load_programmes(services.ledger)
        tokens = _demo_tokens(settings, services.access, loaded[0].professional_id)
        services.close()
        table = Table(title="demo tokens (kept for the next start in a file only you can read)")
        table.add_column("role")
        table.add_column("token", overflow="fold")
        for label, token in tokens.items():
            table.add_row(label, token)
        console.print(table)
    console.print(f"API docs: [bold]http://{host}:{port}/docs[/bold]   (OpenAPI: http://{host}:{port}/openapi.json)")
    console.print(f"Workbench (审验工作台): [bold]http://{host}:{port}/workbench/[/bold]   (sign in with a token)")
    from api.logs import log_config

    import uvicorn  # only the server needs it

    os.environ["CE_LEDGER_SERVER_PROCESSES"] = str(workers)  # read by each worker's settings (api/batches.py)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                log_config=log_config(log_level))


def _demo_tokens(settings: Settings, access, professional_id: UUID) -> dict[str, str]:
    """One token per role for the demo, issued once and reused on the next start while valid
    (each start used to mint five more). Kept in clear in an owner-only file beside the store:
    this is the demo, whose store is on the same machine."""
    from ce_ledger.config import DEFAULT_DATA_DIR

    folder = settings.sqlite_path.parent if settings.is_sqlite else DEFAULT_DATA_DIR
    path = folder / "demo-tokens.json"
    kept: dict[str, str] = {}
    if path.exists():
        try:
            kept = json_module.loads(path.read_text())
        except ValueError:
            kept = {}
    tokens: dict[str, str] = {}
    for role, unit, pid in (
        (Role.PLATFORM, None, None), (Role.EMPLOYER, "640100-NXJT", None), (Role.COMMITTEE, None, None),
        (Role.AUDITOR, None, None), (Role.PROFESSIONAL, None, professional_id),
    ):
        label = role.value + (f" ({unit})" if unit else "") + (f" ({pid})" if pid else "")
        token = kept.get(label)
        if token is None or access.principal(token) is None:
            token = access.issue(Principal(role=role, unit=unit, professional_id=pid, name="demo"),
                                 by="demo", channel=Channel.DEMO)
        tokens[label] = token
    if tokens != kept:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json_module.dump(tokens, out, ensure_ascii=False)
    return tokens


def main() -> None:
    app()


if __name__ == "__main__":
    main()
