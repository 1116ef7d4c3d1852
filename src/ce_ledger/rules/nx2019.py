"""Rule-set NX-2019: 宁人社函〔2019〕148号, for title evaluations in 2019.

Published and frozen. Any change to this file changes the rule-set's digest and
fails the golden test: new behaviour belongs in a new rule-set module with a new id.
The numbered readings are those of ``shared/domain.md``; every verdict lists the
ones it relied on and every line names its clause.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NamedTuple
from decimal import Decimal

from ce_ledger.domain.details import (
    Degree,
    ExamPass,
    PublicCourse,
    SpecialtyCredit,
    StudyTour,
    Teaching,
)
from ce_ledger.domain.professional import Activity, Professional, Status
from ce_ledger.domain.values import ActivityKind, Exam, Level, Series, canonical
from ce_ledger.rules.ruleset import Parameters, Requirement, RuleSet
from ce_ledger.rules.verdict import (
    ZERO,
    CountsToward,
    Credited,
    Required,
    RuleSetRef,
    Verdict,
    Window,
)

_DEPUTY_SENIOR = Requirement(years=5, total_hours=Decimal(396), public_hours=Decimal(132))

PARAMETERS = Parameters(
    id="NX-2019",
    title="宁人社函〔2019〕148号 关于做好2019年全区专业技术人员继续教育工作的通知",
    evaluation_years=(2019,),
    requirements={
        Level.JUNIOR: Requirement(years=4, total_hours=ZERO, public_hours=ZERO),  # reading 5
        Level.INTERMEDIATE: Requirement(years=4, total_hours=Decimal(324), public_hours=Decimal(108)),
        Level.DEPUTY_SENIOR: _DEPUTY_SENIOR,
        Level.SENIOR: _DEPUTY_SENIOR,  # reading 7: "副高级及以上"
    },
    study_tour_hours_per_day=Decimal(6),
    teaching_multiplier=Decimal(3),
    foreign_language_exam_hours=Decimal(40),
    computer_module_hours=Decimal(10),
)

READINGS = {
    1: "1. Hours are exact decimals; no total is ever rounded.",
    2: "2. Substituted public hours count toward both the public minimum and the total.",
    3: "3. Teaching and study-tour hours count toward the total, never the public minimum.",
    4: "4. A pending or rejected specialty credit counts nothing.",
    5: "5. Junior (初级) applications have no hour requirement under NX-2019.",
    7: "7. Senior (正高级) applications follow the deputy-senior row (副高级及以上).",
    8: "8. An activity belongs to the window by the calendar year of its date; a study tour by "
    "its last day; teaching is credited 1 → 3 in every year of the window.",
    9: "9. Exam substitution needs a series that requires neither exam; the foreign-language exam "
    "counts 40 h once, computer modules 10 h per distinct module; a pass on or before the "
    "window's last day counts, however early.",
    10: "10. A degree counts if graduated inside the window: enrolled on or after the window's "
    "start waives the requirement; enrolled before, the institution-certified hours count as "
    "specialty hours and both minimums still apply.",
    11: "11. A series with its own CE regulation (e.g. continuing medical education) gets no "
    "teaching credit under NX-2019.",
    14: "14. Each line shows the claimed figure converted, with its arithmetic.",
}


class Assessment(NamedTuple):
    """One activity's effect: the figure claimed, what is credited, and why."""

    claimed: Decimal | None
    arithmetic: str
    credited: Decimal
    credited_as: str | None
    counts_toward: CountsToward
    reason: str
    readings: tuple[int, ...] = ()


def h(value: Decimal) -> str:
    return f"{canonical(value)} h"


def _nothing(claimed: Decimal | None, arithmetic: str, reason: str, *readings: int) -> Assessment:
    return Assessment(claimed, arithmetic, ZERO, None, CountsToward.NOTHING, reason, readings)


# -- the claim, converted (reading 14) ----------------------------------------------


def claim(params: Parameters, activity: Activity) -> tuple[Decimal | None, str]:
    """The hours an activity claims in NX-2019 units, and the arithmetic that gives them."""
    d = activity.recorded
    if isinstance(d, PublicCourse | SpecialtyCredit):
        return d.hours, h(d.hours)
    if isinstance(d, StudyTour):
        hours = d.days * params.study_tour_hours_per_day
        return hours, f"{d.days} d × {canonical(params.study_tour_hours_per_day)} h/d = {h(hours)}"
    if isinstance(d, Teaching):
        hours = d.hours_taught * params.teaching_multiplier
        return hours, f"{h(d.hours_taught)} taught × {canonical(params.teaching_multiplier)} = {h(hours)}"
    if isinstance(d, ExamPass):
        if d.exam is Exam.FOREIGN_LANGUAGE:
            return params.foreign_language_exam_hours, f"foreign-language exam = {h(params.foreign_language_exam_hours)}"
        return params.computer_module_hours, f"module {d.module} = {h(params.computer_module_hours)}"
    if isinstance(d, Degree):
        if d.certified_hours is None:
            return None, "no hours certified by the institution"
        return d.certified_hours, f"certified by {d.institution}: {h(d.certified_hours)}"
    raise TypeError(type(d).__name__)


# -- activities credited year by year (public course, specialty, study tour, teaching) --


def assess(params: Parameters, activity: Activity, series: Series) -> Assessment:
    """The credit of an activity of a year-bound kind, window aside.

    The read side stores these per calendar year; ``evaluate`` adds the window. Both
    call this function, so the view can never credit differently from a verdict.
    """
    claimed, arithmetic = claim(params, activity)
    if activity.void is not None:
        return assess_void(claimed, arithmetic, activity)
    kind = activity.kind
    if kind is ActivityKind.PUBLIC_COURSE:
        return Assessment(
            claimed, arithmetic, claimed, "public_course", CountsToward.PUBLIC_AND_TOTAL,
            "public course from the platform, auto-verified (§3(1), §3(5))",
        )
    if kind is ActivityKind.SPECIALTY:
        status = activity.status
        if status is Status.PENDING:
            return _nothing(
                claimed, arithmetic,
                "pending verification by the employer or review committee (§3(5))", 4,
            )
        if status is Status.REJECTED:
            dec = activity.decision
            return _nothing(
                claimed, arithmetic,
                f"rejected on {dec.decided_on.isoformat()} by {dec.decided_by}: {dec.reason} (§3(5))", 4,
            )
        dec = activity.decision
        return Assessment(
            claimed, arithmetic, claimed, "specialty", CountsToward.TOTAL,
            f"specialty credit verified on {dec.decided_on.isoformat()} by {dec.decided_by} (§3(1), §3(5))",
            (3,),
        )
    if kind is ActivityKind.STUDY_TOUR:
        return Assessment(
            claimed, arithmetic, claimed, "study_tour", CountsToward.TOTAL,
            "study tour: actual days, travel excluded, × 6 h as specialty hours (§3(3))", (3, 8),
        )
    if kind is ActivityKind.TEACHING:
        if series.own_ce_regulation:
            return _nothing(
                claimed, arithmetic,
                f"series {series.name} has its own CE regulation: no teaching credit under NX-2019 (§3(3))",
                11,
            )
        return Assessment(
            claimed, arithmetic, claimed, "teaching", CountsToward.TOTAL,
            "teaching CE courses: 1 hour taught = 3 hours, into the total (§3(3))", (3, 8),
        )
    raise TypeError(f"{kind} is not credited year by year")


YEARLY_KINDS = frozenset(
    {ActivityKind.PUBLIC_COURSE, ActivityKind.SPECIALTY, ActivityKind.STUDY_TOUR, ActivityKind.TEACHING}
)


# -- activities that depend on the window as a whole ---------------------------------


def substitute_exams(
    params: Parameters, exams: Iterable[Activity], series: Series, window: Window
) -> dict[Activity, Assessment]:
    """§3(4), reading 9: substitution for public hours, earliest pass first."""
    result: dict[Activity, Assessment] = {}
    counted: set[tuple[Exam, str | None]] = set()
    for activity in sorted(exams, key=lambda a: (a.occurred_on, a.recorded.originator_version)):
        d: ExamPass = activity.recorded  # type: ignore[assignment]
        claimed, arithmetic = claim(params, activity)
        if activity.void is not None:
            result[activity] = assess_void(claimed, arithmetic, activity)
        elif series.requires_an_exam:
            result[activity] = _nothing(
                claimed, arithmetic,
                f"series {series.name} requires the title exams, so a pass substitutes nothing (§3(4))",
                9,
            )
        elif d.passed_on > window.last_day:
            result[activity] = _nothing(
                claimed, arithmetic, f"passed after the window's last day {window.last_day.isoformat()}", 9
            )
        elif (d.exam, d.module) in counted:
            what = "the foreign-language exam" if d.exam is Exam.FOREIGN_LANGUAGE else f"module {d.module}"
            result[activity] = _nothing(claimed, arithmetic, f"{what} already counted once (§3(4))", 9)
        else:
            counted.add((d.exam, d.module))
            result[activity] = Assessment(
                claimed, arithmetic, claimed, "exam_substitution", CountsToward.PUBLIC_AND_TOTAL,
                f"passed {d.passed_on.isoformat()}, on or before the window's end: replaces public hours (§3(4))",
                (2, 9),
            )
    return result


def count_degrees(
    params: Parameters, degrees: Iterable[Activity], window: Window
) -> dict[Activity, Assessment]:
    """§3(3), reading 10. A waiver credits no hours: it is reported, not added."""
    result: dict[Activity, Assessment] = {}
    for activity in degrees:
        d: Degree = activity.recorded  # type: ignore[assignment]
        claimed, arithmetic = claim(params, activity)
        if activity.void is not None:
            result[activity] = assess_void(claimed, arithmetic, activity)
        elif d.graduated_on not in window:
            result[activity] = _nothing(
                claimed, arithmetic, f"graduated {d.graduated_on.isoformat()}, outside the window {window}", 10
            )
        elif d.enrolled_on >= window.first_day:
            result[activity] = Assessment(
                claimed,
                f"enrolled {d.enrolled_on.isoformat()} and graduated {d.graduated_on.isoformat()}, both in {window}",
                ZERO, None, CountsToward.WAIVER,
                "degree obtained inside the window: the window's requirement is deemed met (§3(3))",
                (10,),
            )
        elif claimed is None:
            result[activity] = _nothing(
                claimed, arithmetic,
                f"enrolled {d.enrolled_on.isoformat()}, before the window: only institution-certified "
                "hours count, and none were certified (§3(3))",
                10,
            )
        else:
            result[activity] = Assessment(
                claimed, arithmetic, claimed, "degree", CountsToward.TOTAL,
                f"enrolled {d.enrolled_on.isoformat()}, before the window: certified hours count as "
                "specialty hours; the public minimum still applies (§3(3))",
                (3, 10),
            )
    return result


def assess_void(claimed: Decimal | None, arithmetic: str, activity: Activity) -> Assessment:
    v = activity.void
    return _nothing(
        claimed, arithmetic,
        f"voided on {v.decided_on.isoformat()} by {v.decided_by}: {v.reason} (decision {v.decision_ref}; §3(5))",
    )


# -- the verdict ---------------------------------------------------------------------


def window_for(params: Parameters, level: Level, evaluation_year: int) -> Window:
    """§3(2): the N calendar years before the evaluation year."""
    years = params.requirements[level].years
    return Window(from_year=evaluation_year - years, to_year=evaluation_year - 1)


def effects_in(
    params: Parameters, activities: list[Activity], series: Series, window: Window
) -> dict[Activity, Assessment]:
    """Every activity's effect on one window: the heart of a verdict."""
    effects: dict[Activity, Assessment] = {}
    for activity in activities:
        if activity.kind not in YEARLY_KINDS:
            continue
        if activity.void is None and activity.occurred_on not in window:
            claimed, arithmetic = claim(params, activity)
            effects[activity] = _nothing(
                claimed, arithmetic,
                f"{activity.occurred_on.isoformat()} is outside the window {window} (§3(2))", 8,
            )
        else:
            effects[activity] = assess(params, activity, series)
    effects |= substitute_exams(
        params, (a for a in activities if a.kind is ActivityKind.EXAM_PASS), series, window
    )
    effects |= count_degrees(params, (a for a in activities if a.kind is ActivityKind.DEGREE), window)
    return effects


CREDITED_KINDS = ("public_course", "exam_substitution", "specialty", "study_tour", "teaching", "degree")


def credited(by_kind: dict[str, Decimal]) -> Credited:
    """Totals from hours per kind: public = public courses + substitution (reading 2)."""
    full = {kind: by_kind.get(kind, ZERO) for kind in CREDITED_KINDS}
    public = full["public_course"] + full["exam_substitution"]
    return Credited(**full, public_hours=public, total_hours=sum(full.values(), ZERO))


def evaluate(
    params: Parameters, record: Professional, level: Level, evaluation_year: int, digest: str
) -> Verdict:
    requirement = params.requirements[level]
    window = window_for(params, level, evaluation_year)
    activities = list(record.activities.values())
    effects = effects_in(params, activities, record.series, window)

    by_kind = dict.fromkeys(CREDITED_KINDS, ZERO)
    readings = {1, 8}
    waived = False
    for effect in effects.values():
        if effect.credited_as is not None:
            by_kind[effect.credited_as] += effect.credited
        waived = waived or effect.counts_toward is CountsToward.WAIVER
        readings.update(effect.readings)
        if effect.claimed is not None:
            readings.add(14)
    if level is Level.JUNIOR:
        readings.add(5)
    if level is Level.SENIOR:
        readings.add(7)
    totals = credited(by_kind)
    public, total = totals.public_hours, totals.total_hours
    shortfall = Required(
        total_hours=max(ZERO, requirement.total_hours - total),
        public_hours=max(ZERO, requirement.public_hours - public),
    )
    passed = waived or (shortfall.total_hours == 0 and shortfall.public_hours == 0)

    items = []
    for a in sorted(activities, key=lambda a: (a.occurred_on, a.kind, a.recorded.originator_version)):
        e = effects[a]
        items.append(
            {
                "activity_id": a.id,
                "kind": a.kind,
                "occurred_on": a.occurred_on,
                "description": a.recorded.describe(),
                "status": a.status,
                "claimed_hours": e.claimed,
                "arithmetic": e.arithmetic,
                "credited_hours": e.credited,
                "credited_as": e.credited_as,
                "counts_toward": e.counts_toward,
                "reason": e.reason,
            }
        )
    return Verdict(
        professional_id=record.id,
        record_version=record.version,
        rule_set=RuleSetRef(id=params.id, digest=digest),
        level=level,
        evaluation_year=evaluation_year,
        window=window,
        required=Required(total_hours=requirement.total_hours, public_hours=requirement.public_hours),
        credited=totals,
        shortfall=shortfall,
        passed=passed,
        waived_by_degree=waived,
        summary=summarise(level, window, requirement, public, total, waived, passed),
        readings=tuple(READINGS[r] for r in sorted(readings)),
        items=items,
    )


def summarise(
    level: Level, window: Window, req: Requirement, public: Decimal, total: Decimal, waived: bool, passed: bool
) -> str:
    def compare(name: str, got: Decimal, need: Decimal) -> str:
        if got >= need:
            return f"{name} {h(got)} ≥ {h(need)}"
        return f"{name} {h(got)} < {h(need)} (short {h(need - got)})"

    figures = f"{compare('public', public, req.public_hours)}; {compare('total', total, req.total_hours)}"
    if level is Level.JUNIOR:
        return f"passed: no hour requirement for junior titles (reading 5); window {window}: {figures}"
    if waived:
        return (
            f"passed: a degree enrolled and graduated inside {window} deems the requirement met "
            f"(§3(3), reading 10); the hours credited are shown as they are: {figures}"
        )
    verdict = "passed" if passed else "not passed"
    return f"{verdict} for {level} in {window}: {figures} (§3(2))"


RULE_SET = RuleSet(PARAMETERS, sys.modules[__name__])
