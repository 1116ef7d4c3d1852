"""Verdicts as readable terminal tables (rich)."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ce_ledger.domain.professional import Professional
from ce_ledger.domain.values import canonical
from ce_ledger.rules.verdict import CountsToward, Verdict
from api.labels import ACTIVITY_KINDS, PROGRAMME_KINDS, bilingual

KIND_LABELS = {kind: bilingual(kind.replace("_", " "), kind, ACTIVITY_KINDS) for kind in ACTIVITY_KINDS}
KIND_LABELS["exam_pass"] = bilingual("exam", "exam_pass", ACTIVITY_KINDS)


def hours(value) -> str:
    return "" if value is None else canonical(value)


def verdict_panel(verdict: Verdict, professional: Professional, title: str = "evaluation · not recorded (a committee issues verdicts)") -> Panel:
    reg = professional.registration
    header = Text.assemble(
        (f"{reg.name}", "bold"),
        f"  {reg.masked_id}  {reg.series.name}  unit {reg.employer_unit}  record {professional.id}\n",
        f"{verdict.level} · evaluation {verdict.evaluation_year} · "
        + (f"window {verdict.window}" if verdict.window else "no window (no hour requirement)")
        + f" · rule-set {verdict.rule_set.id} · record v{verdict.record_version}\n",
        ("fingerprint ", "dim"), (verdict.fingerprint, "dim"),
    )

    lines = Table(expand=True, show_edge=False, pad_edge=False)
    # At 80 columns the words get the room: the date and the hours never wrap, the kind is narrow,
    # and what is left goes three parts to the activity and its reason, one to the arithmetic.
    lines.add_column("date", no_wrap=True)
    lines.add_column("kind", overflow="fold", max_width=10)
    lines.add_column("activity — why it counts what it counts", ratio=3, overflow="fold")
    lines.add_column("claimed", justify="right", ratio=1, overflow="fold")
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
    totals.add_column("", overflow="fold")
    totals.add_column("required", justify="right", overflow="fold")
    totals.add_column("credited", justify="right", overflow="fold")
    totals.add_column("short", justify="right", overflow="fold")
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
        title=title,
        border_style="green" if verdict.passed else "red",
    )


def rebuild_table(old: int, new: int, applied: int, before: dict, after: dict) -> Table:
    table = Table(title=f"totals view rebuilt: v{old} → v{new} ({applied} notifications applied)")
    table.add_column("rows", overflow="fold")
    table.add_column(f"v{old}", justify="right", overflow="fold")
    table.add_column(f"v{new}", justify="right", overflow="fold")
    table.add_column("identical", overflow="fold")
    for name in ("people", "activities", "years"):  # (rows, digest) per table: see TotalsView.digest
        same = before[name] == after[name]
        table.add_row(name, f"{before[name][0]:,}", f"{after[name][0]:,}", "[green]yes[/green]" if same else "[red]no[/red]")
    return table


def standing_table(standings: list) -> Table:
    table = Table(title="staff standing")
    for col, justify in (("name", "left"), ("ID", "left"), ("public", "right"), ("total", "right"),
                         ("short public", "right"), ("short total", "right"), ("meets", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for s in standings:
        table.add_row(
            s.name, s.masked_id, hours(s.credited.public_hours), hours(s.credited.total_hours),
            hours(s.shortfall.public_hours), hours(s.shortfall.total_hours),
            "[green]yes[/green]" + (" (degree)" if s.waived_by_degree else "") if s.meets else "[red]no[/red]",
        )
    return table


def breaks_table(breaks) -> Table:
    table = Table(title=f"{len(breaks)} break(s) in stored history", title_style="bold red")
    for col in ("stream", "version", "kind", "what"):
        table.add_column(col, justify="right" if col == "version" else "left", overflow="fold")
    for b in breaks:
        table.add_row(str(b.stream_id), str(b.version), b.kind, b.detail)
    return table


def replay_panel(replay) -> Panel:
    fingerprints = Table(show_edge=False, pad_edge=False)
    fingerprints.add_column("", overflow="fold")
    fingerprints.add_column("fingerprint", overflow="fold")
    fingerprints.add_row("recorded", replay.recorded_fingerprint)
    fingerprints.add_row("recomputed", replay.recomputed_fingerprint or "—", style=None if replay.reproduced else "red")
    parts: list = [
        Text(f"rule-set {replay.rule_set.id} ({replay.rule_set.digest[:12]}…)"),
        fingerprints,
        Text(replay.explanation, style="bold green" if replay.reproduced else "bold red"),
    ]
    if replay.breaks:
        parts.append(breaks_table(replay.breaks))
    changes = replay.changes_since
    if changes is not None:
        parts += [Text(""), Text(f"changes since (record v{changes.record_version_then} → v{changes.record_version_now}): "
                                 f"{changes.summary}", style="bold")]
        if changes.activities:
            table = Table(show_edge=False, pad_edge=False)
            for col in ("date", "kind", "activity", "what happened since", "credited then", "now"):
                table.add_column(col, justify="right" if col in ("credited then", "now") else "left")
            for a in changes.activities:
                happened = "; ".join(
                    f"{e.happened}" + (f" {e.provider} from {e.effective_on}" if e.provider else "")
                    + f" v{e.version} {e.recorded_at:%Y-%m-%d}" + (f" ({e.reason})" if e.reason else "")
                    + (f" [decision {e.decision_ref}]" if e.decision_ref else "")
                    for e in a.events
                )
                table.add_row(a.occurred_on.isoformat(), KIND_LABELS[a.kind], a.description, happened,
                              hours(a.credited_then), hours(a.credited_now))
            parts.append(table)
    return Panel(Group(*parts), title=f"replay of verdict {replay.verdict_id}",
                 border_style="green" if replay.reproduced else "red")


KIND_NAMES = {
    kind: bilingual(english, kind, PROGRAMME_KINDS)
    for kind, english in (("advanced_seminar", "advanced seminars"), ("urgently_needed", "urgently-needed"),
                          ("party_school", "party school"), ("poverty_area", "poverty areas"))
}


def _of(done: int, planned: int | None) -> str:
    return f"{done} / {planned}" if planned is not None else f"{done} / —"


def programme_tables(report) -> list[Table]:
    """The year's programmes, then the four kinds against the notice's targets."""
    programmes = Table(title=f"knowledge-update programmes {report.year} (classes, trainees: held / planned)")
    for col, justify in (("code", "left"), ("title", "left"), ("kind", "left"), ("provider", "left"),
                         ("classes", "right"), ("trainees", "right")):
        programmes.add_column(col, justify=justify, overflow="fold")
    for p in report.programmes:
        programmes.add_row(p.code, p.title, KIND_NAMES[p.kind], p.provider_code,
                           _of(p.classes_held, p.planned_classes), _of(p.trainees, p.planned_trainees))
    kinds = Table(title=f"§2 by kind {report.year} (held / planned / target)", caption=report.reading)
    for col, justify in (("kind", "left"), ("programmes", "right"), ("classes", "right"), ("trainees", "right")):
        kinds.add_column(col, justify=justify, overflow="fold")
    for k in report.kinds:
        kinds.add_row(
            KIND_NAMES[k.kind], str(k.programmes),
            f"{_of(k.classes_held, k.planned_classes)} / {k.target_classes if k.target_classes is not None else '—'}",
            f"{_of(k.trainees, k.planned_trainees)} / {k.target_trainees if k.target_trainees is not None else '—'}",
        )
    return [programmes, kinds]


def import_summary(name: str, report) -> Text:
    if report.dry_run:
        done = f"would record {report.would_record}, already recorded {report.duplicate}"
    else:
        done = f"recorded {report.recorded}, already recorded {report.duplicate}"
        if report.resumed:
            done += f", {report.resumed} saved by the run that stopped"
    style = "yellow" if report.problems else "green"
    encoding = f", read as {report.encoding}" if report.encoding else ""
    return Text(
        f"{name} ({report.kind}{encoding}): {report.rows} rows; {done}; {report.bad_rows} row(s) refused"
        + (" — dry run, nothing recorded" if report.dry_run else ""),
        style=style,
    )


def import_problems_table(problems) -> Table:
    table = Table(title=f"{len(problems)} problem(s): these rows were not recorded", title_style="bold red")
    table.add_column("row", justify="right", overflow="fold")
    table.add_column("column", overflow="fold")
    table.add_column("problem", overflow="fold")
    for p in problems:
        table.add_row(str(p.row), p.column or "—", p.problem)
    return table


def collisions_table(collisions, more: bool) -> Table:
    """Keys that are one key once canonical (reading 16): which activities, as typed."""
    table = Table(title=f"{len(collisions)}{'+' if more else ''} key(s) shared by live activities once compared "
                        "in one spelling — review, and void what should not count", title_justify="left")
    table.add_column("key (one spelling)", overflow="fold")
    table.add_column("record", overflow="fold")
    table.add_column("activity", overflow="fold")
    table.add_column("as typed", overflow="fold")
    for c in collisions:
        for i, a in enumerate(c.activities):
            table.add_row(c.key if i == 0 else "", str(a.professional_id), str(a.activity_id), a.typed)
    return table
