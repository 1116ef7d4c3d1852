"""The ``ce-ledger`` command line."""

from __future__ import annotations

from uuid import UUID

import typer
from rich.console import Console
from rich.progress import Progress

from ce_ledger import demo as demo_data
from ce_ledger.bootstrap import build_ledger
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.values import Level
from api.render import verdict_panel

app = typer.Typer(help="ce-ledger: continuing-education credits, event-sourced (宁人社函〔2019〕148号).")
console = Console()
if not console.is_terminal:  # piped or captured: wide enough that verdict lines stay readable
    console = Console(width=140)


@app.command()
def demo(year: int = typer.Option(2019, help="evaluation year")) -> None:
    """Load the demo professionals (once: reloading records nothing new) and print their verdicts."""
    ledger = build_ledger()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("recording demo activities", total=len(demo_data.PEOPLE))
            loaded = demo_data.load(ledger, progress=lambda _: progress.advance(task))
        for item in loaded:
            console.print(f"[dim]{item.person.story}[/dim]")
            verdict = ledger.evaluate(item.professional_id, item.person.level, year)
            console.print(verdict_panel(verdict, ledger.professional(item.professional_id)))
    finally:
        ledger.close()


@app.command()
def evaluate(
    professional_id: UUID,
    level: Level = typer.Option(..., help="title level applied for"),
    year: int = typer.Option(2019, help="evaluation year"),
    rule_set: str | None = typer.Option(None, help="rule-set id (default: the one in force)"),
    json: bool = typer.Option(False, "--json", help="print the verdict's canonical JSON"),
) -> None:
    """Evaluate one professional's record and print the verdict."""
    ledger = build_ledger()
    try:
        verdict = ledger.evaluate(professional_id, level, year, rule_set=rule_set)
        if json:
            typer.echo(verdict.canonical_json().decode())
        else:
            console.print(verdict_panel(verdict, ledger.professional(professional_id)))
    except LedgerError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        ledger.close()


def main() -> None:
    app()
