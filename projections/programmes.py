"""The knowledge-update project's progress for a year (notice §2), from the view.

A class (期) held is read as a distinct completion date among the certificates that
name the programme (a class ends on the day its certificates are dated); trainees are
distinct people, per programme and per kind. Voided certificates count for neither.
"""

from __future__ import annotations

from ce_ledger.domain.programme import TARGETS, ProgrammeKind
from ce_ledger.domain.values import Value
from projections.view import TotalsView

READING = (
    "a class held = a distinct completion date among the programme's certificates; "
    "trainees = distinct people; voided certificates are not counted"
)


class ProgrammeLine(Value):
    code: str
    title: str
    kind: ProgrammeKind
    provider_code: str
    planned_classes: int | None
    classes_held: int
    planned_trainees: int
    trainees: int


class KindLine(Value):
    kind: ProgrammeKind
    programmes: int
    planned_classes: int | None
    classes_held: int
    planned_trainees: int
    trainees: int
    target_classes: int | None
    target_trainees: int | None


class ProgrammeReport(Value):
    year: int
    programmes: list[ProgrammeLine]
    kinds: list[KindLine]
    reading: str = READING


def programme_report(view: TotalsView, year: int) -> ProgrammeReport:
    rows, held, trainees_by_kind = view.programme_report(year)
    lines = [
        ProgrammeLine(
            code=r.code, title=r.title, kind=ProgrammeKind(r.kind), provider_code=r.provider_code,
            planned_classes=r.planned_classes, classes_held=held.get(r.code, (0, 0))[0],
            planned_trainees=r.planned_trainees, trainees=held.get(r.code, (0, 0))[1],
        )
        for r in rows
    ]
    order = list(ProgrammeKind)  # the notice's order, §2(1)–(4)
    lines.sort(key=lambda line: (order.index(line.kind), line.code))
    targets = TARGETS.get(year, {})
    kinds = []
    for kind in ProgrammeKind:
        mine = [line for line in lines if line.kind is kind]
        planned = [line.planned_classes for line in mine if line.planned_classes is not None]
        target = targets.get(kind)
        kinds.append(
            KindLine(
                kind=kind, programmes=len(mine), planned_classes=sum(planned) if planned else None,
                classes_held=sum(line.classes_held for line in mine),
                planned_trainees=sum(line.planned_trainees for line in mine),
                trainees=trainees_by_kind.get(kind.value, 0),
                target_classes=target.classes if target else None,
                target_trainees=target.trainees if target else None,
            )
        )
    return ProgrammeReport(year=year, programmes=lines, kinds=kinds)
