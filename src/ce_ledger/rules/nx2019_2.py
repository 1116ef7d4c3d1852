"""Rule-set NX-2019.2: NX-2019.1's credit, with reasons as data and wording that agrees with itself.

What NX-2019.1 credits, this credits, with one exception: a computer module is told apart by its
canonical code (case and width ignored, docs/rules.md reading 16), so ``word2003`` on one
certificate and ``WORD2003`` on another count once. What changes is how a verdict says it:

- every line carries its reason, its arithmetic and its activity as a code and figures
  (``because``, ``working``, ``what``) and the verdict its summary (``outcome``), so the workbench
  and the form word them in Chinese; the English ``reason`` and ``summary`` are worded from the
  same data by the templates below;
- a degree that waives the window shows no shortfall; a junior verdict weighs no window (there is
  no hour requirement: reading 5) and lists no lines;
- each reason names the specific rule: which exams a series requires; a study tour is placed by
  its last day; a series with its own CE regulation has teaching credited there, not here;
  a CE base with no record in the ledger is flagged on the line (reading 15).

Published and frozen like the rule-sets before it: its digest covers this text and theirs
(``BUILDS_ON``). The readings' numbers are those of docs/rules.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from ce_ledger.domain.details import Degree, ExamPass, PublicCourse, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.professional import Activity, Professional, Status
from ce_ledger.domain.provider import ProviderDecided, ProviderOrderedToRectify, ProviderRegister, ProviderStanding
from ce_ledger.domain.values import ActivityKind, Exam, Level, Series, canonical, canonical_code
from ce_ledger.rules import nx2019, nx2019_1
from ce_ledger.rules.nx2019 import CREDITED_KINDS, YEARLY_KINDS, credited, window_for
from ce_ledger.rules.ruleset import Parameters, RuleSet
from ce_ledger.rules.verdict import (
    ZERO,
    CountsToward,
    Reason,
    Required,
    RuleSetRef,
    Verdict,
    VerdictLine,
    Window,
    add_effects,
    passes,
    shortfall,
)

__all__ = [
    "CREDITED_KINDS", "YEARLY_KINDS", "assess", "count_degrees", "credited", "effects_in", "evaluate",
    "substitute_exams", "window_for",
]

BUILDS_ON = (nx2019_1, nx2019)
READS_PROVIDERS = True
WAIVER_CLEARS_SHORTFALL = True  # the read side shows what a verdict shows

PARAMETERS = nx2019.PARAMETERS.model_copy(
    update={
        "id": "NX-2019.2",
        "title": nx2019.PARAMETERS.title + "（含继续教育基地资格，§1(4)；审验理由结构化）",
    }
)

READINGS = {
    **{n: text for n, text in nx2019.READINGS.items() if n not in (5, 9, 11)},
    5: "5. Junior (初级) applications have no hour requirement: their verdict weighs no window.",
    9: "9. Exam substitution needs a series that requires neither exam; the foreign-language exam "
    "counts 40 h once, computer modules 10 h per distinct module (told apart by their canonical "
    "code, reading 16); a pass on or before the window's last day counts, however early.",
    11: "11. A series with its own CE regulation (e.g. continuing medical education) has teaching "
    "credited under that regulation, not under this notice: the ledger credits it nothing here.",
    15: nx2019_1.READING_15,
    16: "16. Keys are compared in one canonical spelling: Unicode NFKC, trimmed, case-folded.",
}

# The English wording of every code. The Chinese wording of the same codes is the workbench's
# (api/labels.py); these are frozen with the rule-set because they are part of its verdicts.
WORDING = {
    # the arithmetic (reading 14)
    "hours": "{hours} h",
    "tour_days": "{days} d × {per_day} h/d = {hours} h",
    "taught": "{taught} h taught × {multiplier} = {hours} h",
    "foreign_language_exam": "foreign-language exam = {hours} h",
    "computer_module": "module {module} = {hours} h",
    "degree_certified": "certified by {institution}: {hours} h",
    "degree_uncertified": "no hours certified by the institution",
    "degree_inside": "enrolled {enrolled} and graduated {graduated}, both in {window}",
    # why a line counts what it counts
    "public_course": "public course from the platform, auto-verified (§3(1), §3(5))",
    "outside_window": "{day} is outside the window {window} (§3(2), reading 8)",
    "tour_outside_window": "a study tour is placed by its last day, {day}, which is outside the window "
    "{window} (§3(2), reading 8)",
    "pending": "pending verification by the employer or review committee (§3(5))",
    "rejected": "rejected on {on} by {by}: {why} (§3(5))",
    "verified": "specialty credit verified on {on} by {by}; CE base {provider} accredited since {since} "
    "(decision {decision}) (§3(1), §3(5), §1(4))",
    "verified_rectifying": "specialty credit verified on {on} by {by}; CE base {provider} was ordered on "
    "{since} (decision {decision}) to rectify by {deadline}, which does not exclude it (§3(1), §3(5), §1(4))",
    "verified_base_not_yet": "specialty credit verified on {on} by {by}; CE base {provider} was not yet "
    "accredited on {day}, which does not exclude it (§3(1), §3(5), reading 15)",
    "verified_base_unknown": "specialty credit verified on {on} by {by}; CE base {provider} has no record "
    "in the ledger: flagged for the auditors, not excluded (§3(1), §3(5), reading 15)",
    "base_disqualified": "verified on {on} by {by}, but the certificate is dated {day}, while CE base "
    "{provider} was disqualified (since {since}, decision {decision}): it counts nothing (§1(4))",
    "study_tour": "study tour placed in the window by its last day, {day}: actual days, travel excluded, "
    "× {per_day} h as specialty hours, into the total (§3(3), reading 8)",
    "teaching": "teaching CE courses: 1 hour taught = {multiplier} hours, into the total (§3(3))",
    "teaching_own_regulation": "series {series} has its own CE regulation: teaching is credited under "
    "it, not under this notice, so nothing is credited here (§3(3), reading 11)",
    "series_requires_both_exams": "series {series} requires the foreign-language exam and the computer exam "
    "for its titles, so a pass substitutes nothing (§3(4), reading 9)",
    "series_requires_foreign_language_exam": "series {series} requires the foreign-language exam for its "
    "titles, so a pass substitutes nothing (§3(4), reading 9)",
    "series_requires_computer_exam": "series {series} requires the computer exam for its titles, so a pass "
    "substitutes nothing (§3(4), reading 9)",
    "exam_after_window": "passed {day}, after the window's last day {last_day} (§3(4), reading 9)",
    "foreign_language_exam_counted_before": "the foreign-language exam already counted once (§3(4), reading 9)",
    "module_counted_before": "module {module} already counted once, however spelled (§3(4), readings 9, 16)",
    "exam_substitutes": "passed {day}, on or before the window's end: replaces public hours (§3(4))",
    "degree_outside": "graduated {day}, outside the window {window} (§3(3), reading 10)",
    "degree_waives": "degree obtained inside the window: the window's requirement is deemed met "
    "(§3(3), reading 10)",
    "degree_before_uncertified": "enrolled {enrolled}, before the window: only institution-certified "
    "hours count, and none were certified (§3(3), reading 10)",
    "degree_before_certified": "enrolled {enrolled}, before the window: certified hours count as "
    "specialty hours; the public minimum still applies (§3(3), reading 10)",
    "voided": "voided on {on} by {by}: {why} (decision {decision}; §3(5))",
    # the verdict's summary
    "passed": "passed for {level} in {window}: public {public} h ≥ {public_required} h; total {total} h "
    "≥ {total_required} h (§3(2))",
    "not_passed": "not passed for {level} in {window}: public {public} h of {public_required} h "
    "(short {public_short} h); total {total} h of {total_required} h (short {total_short} h) (§3(2))",
    "waived": "passed: a degree enrolled and graduated inside {window} deems the requirement met, so "
    "nothing is short (§3(3), reading 10); hours credited in the window: public {public} h, total {total} h",
    "junior": "passed: junior titles have no hour requirement, so no window is weighed (reading 5)",
}

REQUIRED_EXAMS = {
    (True, True): "series_requires_both_exams",
    (True, False): "series_requires_foreign_language_exam",
    (False, True): "series_requires_computer_exam",
}


def say(reason: Reason) -> str:
    return WORDING[reason.code].format(**reason.figures)


def r(code: str, **figures: object) -> Reason:
    return Reason(code=code, figures={k: _text(v) for k, v in figures.items()})


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return canonical(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


class Assessment(NamedTuple):
    """One activity's effect, as NX-2019's, with the reason and the arithmetic as data."""

    claimed: Decimal | None
    working: Reason
    credited: Decimal
    credited_as: str | None
    counts_toward: CountsToward
    because: Reason
    readings: tuple[int, ...] = ()

    @property
    def arithmetic(self) -> str:
        return say(self.working)

    @property
    def reason(self) -> str:
        return say(self.because)


def _nothing(claimed: Decimal | None, working: Reason, because: Reason, *readings: int) -> Assessment:
    return Assessment(claimed, working, ZERO, None, CountsToward.NOTHING, because, readings)


def claim(params: Parameters, activity: Activity) -> tuple[Decimal | None, Reason]:
    """The hours an activity claims, and their arithmetic (reading 14)."""
    d = activity.recorded
    if isinstance(d, PublicCourse | SpecialtyCredit):
        return d.hours, r("hours", hours=d.hours)
    if isinstance(d, StudyTour):
        hours = d.days * params.study_tour_hours_per_day
        return hours, r("tour_days", days=d.days, per_day=params.study_tour_hours_per_day, hours=hours)
    if isinstance(d, Teaching):
        hours = d.hours_taught * params.teaching_multiplier
        return hours, r("taught", taught=d.hours_taught, multiplier=params.teaching_multiplier, hours=hours)
    if isinstance(d, ExamPass):
        if d.exam is Exam.FOREIGN_LANGUAGE:
            return params.foreign_language_exam_hours, r("foreign_language_exam", hours=params.foreign_language_exam_hours)
        return params.computer_module_hours, r("computer_module", module=d.module, hours=params.computer_module_hours)
    if isinstance(d, Degree):
        if d.certified_hours is None:
            return None, r("degree_uncertified")
        return d.certified_hours, r("degree_certified", institution=d.institution, hours=d.certified_hours)
    raise TypeError(type(d).__name__)


def what(activity: Activity) -> Reason:
    """The activity as a person matches it against the paper it came from (its fields as typed)."""
    d = activity.recorded
    if isinstance(d, PublicCourse):
        return r("public_course", title=d.title, course_code=d.course_code, record_id=d.record_id)
    if isinstance(d, SpecialtyCredit):
        extra = {"programme": d.programme_code} if d.programme_code else {}
        return r("specialty", subject=d.subject, provider=d.provider_code, certificate=d.certificate_no,
                 route=d.route, **extra)
    if isinstance(d, StudyTour):
        return r("study_tour", subject=d.subject, first_day=d.first_day, last_day=d.last_day, document=d.document_ref)
    if isinstance(d, Teaching):
        return r("teaching", course=d.course, document=d.document_ref)
    if isinstance(d, ExamPass):
        if d.exam is Exam.FOREIGN_LANGUAGE:
            return r("foreign_language_exam", certificate=d.certificate_no)
        return r("computer_module", module=d.module, certificate=d.certificate_no)
    if isinstance(d, Degree):
        return r("degree", degree=d.degree, institution=d.institution, enrolled=d.enrolled_on)
    raise TypeError(type(d).__name__)


# -- activities credited year by year --------------------------------------------------


def assess(
    params: Parameters, activity: Activity, series: Series, providers: ProviderRegister = nx2019_1.NO_PROVIDERS
) -> Assessment:
    """The credit of an activity of a year-bound kind, window aside (the read side calls this too)."""
    claimed, working = claim(params, activity)
    if activity.void is not None:
        return assess_void(claimed, working, activity)
    kind = activity.kind
    if kind is ActivityKind.PUBLIC_COURSE:
        return Assessment(claimed, working, claimed, "public_course", CountsToward.PUBLIC_AND_TOTAL, r("public_course"))
    if kind is ActivityKind.SPECIALTY:
        return _specialty(claimed, working, activity, providers)
    if kind is ActivityKind.STUDY_TOUR:
        tour: StudyTour = activity.recorded  # type: ignore[assignment]
        return Assessment(claimed, working, claimed, "study_tour", CountsToward.TOTAL,
                          r("study_tour", day=tour.last_day, per_day=params.study_tour_hours_per_day), (3, 8))
    if kind is ActivityKind.TEACHING:
        if series.own_ce_regulation:
            return _nothing(claimed, working, r("teaching_own_regulation", series=series.name), 11)
        return Assessment(claimed, working, claimed, "teaching", CountsToward.TOTAL,
                          r("teaching", multiplier=params.teaching_multiplier), (3, 8))
    raise TypeError(f"{kind} is not credited year by year")


def _specialty(claimed: Decimal | None, working: Reason, activity: Activity, providers: ProviderRegister) -> Assessment:
    status = activity.status
    if status is Status.PENDING:
        return _nothing(claimed, working, r("pending"), 4)
    dec = activity.decision
    if status is Status.REJECTED:
        return _nothing(claimed, working, r("rejected", on=dec.decided_on, by=dec.decided_by, why=dec.reason), 4)
    code = activity.recorded.provider_code  # type: ignore[attr-defined]
    base = {"on": dec.decided_on, "by": dec.decided_by, "provider": code}
    provider = providers.get(canonical_code(code))
    if provider is None:
        return Assessment(claimed, working, claimed, "specialty", CountsToward.TOTAL,
                          r("verified_base_unknown", **base), (3, 15))
    on = provider.standing_on(activity.occurred_on)
    decision: ProviderDecided | None = on.decision
    if decision is None:
        return Assessment(claimed, working, claimed, "specialty", CountsToward.TOTAL,
                          r("verified_base_not_yet", day=activity.occurred_on, **base), (3, 15))
    since = {"since": decision.effective_on, "decision": decision.decision_ref}
    if decision.standing is ProviderStanding.DISQUALIFIED:
        return _nothing(claimed, working, r("base_disqualified", day=activity.occurred_on, **base, **since), 15)
    if isinstance(decision, ProviderOrderedToRectify):
        return Assessment(claimed, working, claimed, "specialty", CountsToward.TOTAL,
                          r("verified_rectifying", deadline=decision.deadline, **base, **since), (3, 15))
    return Assessment(claimed, working, claimed, "specialty", CountsToward.TOTAL, r("verified", **base, **since), (3,))


# -- activities that depend on the window as a whole ---------------------------------------


def substitute_exams(
    params: Parameters, exams: Iterable[Activity], series: Series, window: Window
) -> dict[Activity, Assessment]:
    """§3(4), reading 9: substitution for public hours, earliest pass first; a module once,
    however it is spelled."""
    result: dict[Activity, Assessment] = {}
    counted: set[tuple[Exam, str | None]] = set()
    for activity in sorted(exams, key=lambda a: (a.occurred_on, a.recorded.originator_version)):
        d: ExamPass = activity.recorded  # type: ignore[assignment]
        claimed, working = claim(params, activity)
        key = (d.exam, canonical_code(d.module) if d.module else None)
        if activity.void is not None:
            result[activity] = assess_void(claimed, working, activity)
        elif series.requires_an_exam:
            code = REQUIRED_EXAMS[(series.requires_foreign_language_exam, series.requires_computer_exam)]
            result[activity] = _nothing(claimed, working, r(code, series=series.name), 9)
        elif d.passed_on > window.last_day:
            result[activity] = _nothing(claimed, working, r("exam_after_window", day=d.passed_on,
                                                            last_day=window.last_day), 9)
        elif key in counted:
            again = (r("foreign_language_exam_counted_before") if d.exam is Exam.FOREIGN_LANGUAGE
                     else r("module_counted_before", module=key[1]))
            result[activity] = _nothing(claimed, working, again, 9)
        else:
            counted.add(key)
            result[activity] = Assessment(claimed, working, claimed, "exam_substitution",
                                          CountsToward.PUBLIC_AND_TOTAL, r("exam_substitutes", day=d.passed_on), (2, 9))
    return result


def count_degrees(params: Parameters, degrees: Iterable[Activity], window: Window) -> dict[Activity, Assessment]:
    """§3(3), reading 10. A waiver credits no hours: it is reported, not added."""
    result: dict[Activity, Assessment] = {}
    for activity in degrees:
        d: Degree = activity.recorded  # type: ignore[assignment]
        claimed, working = claim(params, activity)
        if activity.void is not None:
            result[activity] = assess_void(claimed, working, activity)
        elif d.graduated_on not in window:
            result[activity] = _nothing(claimed, working, r("degree_outside", day=d.graduated_on, window=window), 10)
        elif d.enrolled_on >= window.first_day:
            inside = r("degree_inside", enrolled=d.enrolled_on, graduated=d.graduated_on, window=window)
            result[activity] = Assessment(claimed, inside, ZERO, None, CountsToward.WAIVER, r("degree_waives"), (10,))
        elif claimed is None:
            result[activity] = _nothing(claimed, working, r("degree_before_uncertified", enrolled=d.enrolled_on), 10)
        else:
            result[activity] = Assessment(claimed, working, claimed, "degree", CountsToward.TOTAL,
                                          r("degree_before_certified", enrolled=d.enrolled_on), (3, 10))
    return result


def assess_void(claimed: Decimal | None, working: Reason, activity: Activity) -> Assessment:
    v = activity.void
    return _nothing(claimed, working, r("voided", on=v.decided_on, by=v.decided_by, why=v.reason, decision=v.decision_ref))


# -- the verdict -------------------------------------------------------------------------


def effects_in(
    params: Parameters,
    activities: list[Activity],
    series: Series,
    window: Window,
    providers: ProviderRegister = nx2019_1.NO_PROVIDERS,
) -> dict[Activity, Assessment]:
    """Every activity's effect on one window."""
    effects: dict[Activity, Assessment] = {}
    for activity in activities:
        if activity.kind not in YEARLY_KINDS:
            continue
        if activity.void is None and activity.occurred_on not in window:
            claimed, working = claim(params, activity)
            code = "tour_outside_window" if activity.kind is ActivityKind.STUDY_TOUR else "outside_window"
            effects[activity] = _nothing(claimed, working, r(code, day=activity.occurred_on, window=window), 8)
        else:
            effects[activity] = assess(params, activity, series, providers)
    effects |= substitute_exams(params, (a for a in activities if a.kind is ActivityKind.EXAM_PASS), series, window)
    effects |= count_degrees(params, (a for a in activities if a.kind is ActivityKind.DEGREE), window)
    return effects


def evaluate(
    params: Parameters,
    record: Professional,
    level: Level,
    evaluation_year: int,
    digest: str,
    providers: ProviderRegister = nx2019_1.NO_PROVIDERS,
) -> Verdict:
    requirement = params.requirements[level]
    required = Required(total_hours=requirement.total_hours, public_hours=requirement.public_hours)
    ref = RuleSetRef(id=params.id, digest=digest)
    if level is Level.JUNIOR:
        none = credited({})
        outcome = r("junior")
        return Verdict(
            professional_id=record.id, record_version=record.version, rule_set=ref, level=level,
            evaluation_year=evaluation_year, window=None, required=required, credited=none,
            shortfall=shortfall(required, none), passed=True, waived_by_degree=False, summary=say(outcome),
            readings=(READINGS[5],), items=(), outcome=outcome,
        )
    window = window_for(params, level, evaluation_year)
    activities = list(record.activities.values())
    effects = effects_in(params, activities, record.series, window, providers)
    by_kind = dict.fromkeys(CREDITED_KINDS, ZERO)
    waived = add_effects(by_kind, effects.values())
    readings = {1, 8}
    for effect in effects.values():
        readings.update(effect.readings)
        if effect.claimed is not None:
            readings.add(14)
    if level is Level.SENIOR:
        readings.add(7)
    if any(a.kind is ActivityKind.SPECIALTY or a.kind is ActivityKind.EXAM_PASS for a in activities):
        readings.add(16)
    totals = credited(by_kind)
    short = shortfall(required, totals, waived)
    passed = passes(short, waived)
    figures = {"level": level, "window": window, "public": totals.public_hours, "total": totals.total_hours}
    if waived:
        outcome = r("waived", **figures)
    else:
        figures |= {"public_required": required.public_hours, "total_required": required.total_hours}
        if passed:
            outcome = r("passed", **figures)
        else:
            outcome = r("not_passed", **figures, public_short=short.public_hours, total_short=short.total_hours)
    items = []
    for a in sorted(activities, key=lambda a: (a.occurred_on, a.kind, a.recorded.originator_version)):
        e = effects[a]
        items.append(VerdictLine(
            activity_id=a.id, kind=a.kind, occurred_on=a.occurred_on, description=a.recorded.describe(),
            status=a.status, claimed_hours=e.claimed, arithmetic=e.arithmetic, credited_hours=e.credited,
            credited_as=e.credited_as, counts_toward=e.counts_toward, reason=e.reason,
            because=e.because, working=e.working, what=what(a),
        ))
    return Verdict(
        professional_id=record.id, record_version=record.version, rule_set=ref, level=level,
        evaluation_year=evaluation_year, window=window, required=required, credited=totals, shortfall=short,
        passed=passed, waived_by_degree=waived, summary=say(outcome),
        readings=tuple(READINGS[n] for n in sorted(readings)), items=tuple(items), outcome=outcome,
    )


RULE_SET = RuleSet(PARAMETERS, sys.modules[__name__])
