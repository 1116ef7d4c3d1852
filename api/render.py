"""Verdicts as readable terminal tables (rich)."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ce_ledger.domain.professional import Professional
from ce_ledger.domain.values import canonical
from ce_ledger.rules.verdict import CountsToward, Verdict

KIND_LABELS = {
    "public_course": "public course 公需课",
    "specialty": "specialty 专业课",
    "study_tour": "study tour 考察交流",
    "teaching": "teaching 授课",
    "exam_pass": "exam 考试",
    "degree": "degree 学历",
}


def hours(value) -> str:
    return "" if value is None else canonical(value)


def verdict_panel(verdict: Verdict, professional: Professional) -> Panel:
    reg = professional.registration
    header = Text.assemble(
        (f"{reg.name}", "bold"),
        f"  {reg.masked_id}  {reg.series.name}  unit {reg.employer_unit}\n",
        f"{verdict.level} · evaluation {verdict.evaluation_year} · window {verdict.window} · "
        f"rule-set {verdict.rule_set.id} ({verdict.rule_set.digest[:12]}…) · record v{verdict.record_version}",
    )

    lines = Table(expand=True, show_edge=False, pad_edge=False)
    lines.add_column("date", no_wrap=True)
    lines.add_column("kind", no_wrap=True)
    lines.add_column("activity — why it counts what it counts", ratio=1)
    lines.add_column("claimed", justify="right")
    lines.add_column("credited", justify="right", no_wrap=True)
    for item in verdict.items:
        counted = item.credited_hours > 0 or item.counts_toward is CountsToward.WAIVER
        lines.add_row(
            item.occurred_on.isoformat(),
            KIND_LABELS[item.kind],
            Text.assemble(item.description, "\n", (f"→ {item.counts_toward}: {item.reason}", "italic")),
            item.arithmetic,
            hours(item.credited_hours),
            style=None if counted else "dim",
        )

    totals = Table(show_edge=False, pad_edge=False)
    totals.add_column("")
    totals.add_column("required", justify="right")
    totals.add_column("credited", justify="right")
    totals.add_column("short", justify="right")
    c, r, s = verdict.credited, verdict.required, verdict.shortfall
    totals.add_row("public 公需课", hours(r.public_hours), hours(c.public_hours), hours(s.public_hours))
    totals.add_row("total 总学时", hours(r.total_hours), hours(c.total_hours), hours(s.total_hours))
    by_kind = "  ".join(
        f"{name} {hours(getattr(c, name))}"
        for name in ("public_course", "exam_substitution", "specialty", "study_tour", "teaching", "degree")
    )

    result = Text(
        ("PASSED 合格" if verdict.passed else "NOT PASSED 不合格") + f" — {verdict.summary}",
        style="bold green" if verdict.passed else "bold red",
    )
    return Panel(
        Group(header, Text(""), lines, Text(""), totals, Text(by_kind, style="dim"), Text(""), result),
        title=f"verdict {verdict.fingerprint[:16]}",
        border_style="green" if verdict.passed else "red",
    )


def rebuild_table(old: int, new: int, applied: int, before: dict, after: dict) -> Table:
    table = Table(title=f"totals view rebuilt: v{old} → v{new} ({applied} notifications applied)")
    table.add_column("rows")
    table.add_column(f"v{old}", justify="right")
    table.add_column(f"v{new}", justify="right")
    table.add_column("identical")
    for name in ("people", "activities", "years"):
        same = before[name] == after[name]
        table.add_row(name, str(len(before[name])), str(len(after[name])), "[green]yes[/green]" if same else "[red]no[/red]")
    return table


def standing_table(standings: list) -> Table:
    table = Table(title="staff standing")
    for col, justify in (("name", "left"), ("ID", "left"), ("public", "right"), ("total", "right"),
                         ("short public", "right"), ("short total", "right"), ("meets", "left")):
        table.add_column(col, justify=justify)
    for s in standings:
        table.add_row(
            s.name, s.masked_id, hours(s.credited.public_hours), hours(s.credited.total_hours),
            hours(s.shortfall.public_hours), hours(s.shortfall.total_hours),
            "[green]yes[/green]" + (" (degree)" if s.waived_by_degree else "") if s.meets else "[red]no[/red]",
        )
    return table
