"""A person's record: timeline and totals, claims, entries, voids, issuing a verdict."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.deps import may_enter, may_see
from api.workbench import session
from api.labels import ACTIVITIES, DEGREES, ROUTES, in_chinese
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.commands import Voiding
from ce_ledger.domain.details import Degree, ExamPass, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.rules.nx2019_2 import claim, what
from ce_ledger.domain.values import Level
from api.labels import filing_words
from api.workbench.pages.common import (
    form_problem,     history_warning, hours_text, pages, render, require_role, router,
)


# -- a person's record ----------------------------------------------------------------------


def _collision_warning(svc: Any, who: Principal, professional_id: UUID) -> str | None:
    """To an auditor: this record holds an activity whose key another live activity shares."""
    findings = svc.audit.findings() if who.role is Role.AUDITOR else None
    if findings is None:
        return None
    keys = [c.key for c in findings.collisions if any(a.professional_id == professional_id for a in c.activities)]
    if not keys:
        return None
    return (f"编号冲突待复核：本记录的 {len(keys)} 项学习活动与其他活动的编号按统一写法相同（{'、'.join(keys[:3])}"
            f"{'等' if len(keys) > 3 else ''}），见“编号冲突待复核”页；不应计入的请作废（解读 16）。")


def _percent(got: str, need: str) -> str:
    need_d = Decimal(need)
    return "100" if need_d == 0 else str(min(Decimal(100), Decimal(got) * 100 / need_d).quantize(Decimal(1)))


@router.get("/professionals/{professional_id}", response_class=HTMLResponse)
@pages
def professional(request: Request, who: Principal, professional_id: UUID,
                 level: Annotated[Level, Query()] = Level.INTERMEDIATE, year: Annotated[int, Query(ge=2000, le=2100)] = 2019,
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    svc = request.app.state.services
    may_see(svc, who, professional_id)
    record = svc.ledger.professional(professional_id, copy=False)
    problem = standing = None
    bars: list[tuple[str, str, str, str]] = []
    try:
        standing = svc.totals.standing(professional_id, level, year)
        bars = [
            ("公需课", hours_text(standing.required.public_hours), hours_text(standing.credited.public_hours), hours_text(standing.shortfall.public_hours)),
            ("总学时", hours_text(standing.required.total_hours), hours_text(standing.credited.total_hours), hours_text(standing.shortfall.total_hours)),
        ]
    except LedgerError as e:
        problem = f"无法计算审验期学时：{e}"
    everything = sorted(record.activities.values(), key=lambda a: (a.occurred_on, a.recorded.originator_version))
    pages_ = max(1, -(-len(everything) // TIMELINE_PAGE))
    activities = everything[(page - 1) * TIMELINE_PAGE:page * TIMELINE_PAGE]
    try:
        params = svc.ledger.rule_set_for(year).parameters  # converted by the rules in force for the year
    except LedgerError:
        params = None  # no rule-set serves that year: the figures are shown without conversion
    return render(
        request, "professional.html", who=who, record=record, reg=record.registration, level=level.value, year=year,
        page=page, pages=pages_, count=len(everything),
        describe=lambda a: in_chinese(what(a), a.recorded.describe(), ACTIVITIES),
        claimed=lambda a: _claimed(params, a),
        standing=standing, bars=bars, pct=_percent, rule_set=svc.view.current()[1], activities=activities,
        verdicts=list(reversed(svc.ledger.verdicts_of(professional_id))), problem=problem,
        warning=history_warning(svc, professional_id) or _collision_warning(svc, who, professional_id),
        superseded=lambda f: svc.ledger.superseded_by(f.rule_set_id, f.evaluation_year),
        may_issue=who.role in (Role.COMMITTEE, Role.AUDITOR), own=who.role is Role.PROFESSIONAL,
        may_void=who.role is Role.AUDITOR, may_correct=who.role in (Role.COMMITTEE, Role.AUDITOR),
        may_confirm=record.transfer is not None and (who.role is Role.COMMITTEE or (
            who.role is Role.EMPLOYER and record.employer_unit == who.unit)), may_enter=who.role is Role.COMMITTEE or (
            who.role is Role.EMPLOYER and record.employer_unit == who.unit),
        pending=[a for a in everything if a.status.value == "pending"], routes=ROUTES, today=date.today().isoformat(),
        sanctions=svc.ledger.sanctions_touching(professional_id),
        filing=lambda a: filing_words(svc.ledger, a, professional_id),
    )


@router.post("/professionals/{professional_id}/claims")
@pages
def submit_claim(request: Request, who: Principal, professional_id: UUID, provider_code: Annotated[str, Form(max_length=64)],
                 certificate_no: Annotated[str, Form(max_length=64)], route: Annotated[str, Form(max_length=32)],
                 subject: Annotated[str, Form(max_length=200)], hours: Annotated[str, Form(max_length=12)],
                 completed_on: Annotated[str, Form(max_length=10)], csrf: Annotated[str, Form()] = "") -> Response:
    """A professional's own certificate claim: recorded pending, it waits in the employer's queue
    (the employer or a committee verifies it, as for claims they enter)."""
    session.check_csrf(request, csrf)
    require_role(who, Role.PROFESSIONAL)
    if who.professional_id != professional_id:
        raise HTTPException(403, "只能为本人申报")
    svc = request.app.state.services
    try:
        details = SpecialtyCredit(provider_code=provider_code, certificate_no=certificate_no, route=route,
                                  subject=subject, hours=hours, completed_on=completed_on)
    except ValidationError as e:
        raise form_problem(e, "申报") from None
    svc.ledger.record(professional_id, details, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/professionals/{professional_id}", status_code=303)


@router.get("/professionals/{professional_id}/activities/{activity_id}/void", response_class=HTMLResponse)
@pages
def void_page(request: Request, who: Principal, professional_id: UUID, activity_id: UUID) -> HTMLResponse:
    """An auditor strikes out an activity (a forged certificate, say) with the reason and the decision."""
    require_role(who, Role.AUDITOR)
    svc = request.app.state.services
    activity = svc.ledger.professional(professional_id, copy=False).activity(activity_id)
    return render(request, "void.html", who=who, professional_id=professional_id, activity=activity,
                  described=in_chinese(what(activity), activity.recorded.describe(), ACTIVITIES))


@router.post("/professionals/{professional_id}/activities/{activity_id}/void")
@pages
def void_activity(request: Request, who: Principal, professional_id: UUID, activity_id: UUID,
                  reason: Annotated[str, Form(max_length=500)] = "", decision_ref: Annotated[str, Form(max_length=200)] = "",
                  csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        voiding = Voiding(reason=reason, decision_ref=decision_ref)
    except ValidationError as e:
        raise form_problem(e, "作废") from None
    request.app.state.services.ledger.void(professional_id, activity_id, voiding, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/professionals/{professional_id}", status_code=303)


# The kinds an employer or a committee enters by hand (public courses come from the platform).
ENTRY_KINDS = {"specialty": SpecialtyCredit, "study_tour": StudyTour, "teaching": Teaching, "exam_pass": ExamPass,
               "degree": Degree}


@router.get("/professionals/{professional_id}/entries", response_class=HTMLResponse)
@pages
def entries_page(request: Request, who: Principal, professional_id: UUID) -> HTMLResponse:
    svc = request.app.state.services
    may_enter(svc, who, professional_id)
    record = svc.ledger.professional(professional_id, copy=False)
    return render(request, "entries.html", who=who, record=record, routes=ROUTES, degrees=DEGREES,
                  today=date.today().isoformat())


@router.post("/professionals/{professional_id}/entries/{kind}")
@pages
async def enter_activity(request: Request, who: Principal, professional_id: UUID, kind: str) -> Response:
    """One activity of any hand-entered kind, checked as over the API (same details, same rules:
    duplicates, conflicts, 24 hours a day, no date in the future), recorded with its actor."""
    form = await request.form()
    session.check_csrf(request, str(form.get("csrf", "")))
    if kind not in ENTRY_KINDS:
        raise HTTPException(404, "没有这种学习活动")
    svc = request.app.state.services
    await run_in_threadpool(may_enter, svc, who, professional_id)
    fields = {k: v for k, v in form.items() if k != "csrf" and v != ""}
    try:
        details = ENTRY_KINDS[kind].model_validate(fields)
    except ValidationError as e:
        raise form_problem(e, "填写内容") from None
    await run_in_threadpool(lambda: svc.ledger.record(professional_id, details, by=who.actor, channel=Channel.WORKBENCH))
    return RedirectResponse(f"/workbench/professionals/{professional_id}", status_code=303)


TIMELINE_PAGE = 100  # a record of 1,500 activities is fifteen pages, not one of 114,000 pixels


def _claimed(params: Any, activity: Any) -> tuple[str, str]:
    """An activity's hours in the notice's units, and how (days × 6, hours taught × 3, 40, 10 a
    module): the same figure for every kind, where the row used to show hours taught or nothing."""
    if params is None:
        return "—", ""
    hours, working = claim(params, activity)
    return hours_text(hours), in_chinese(working)


@router.post("/professionals/{professional_id}/verdicts")
@pages
def issue(request: Request, who: Principal, professional_id: UUID, level: Annotated[Level, Form()],
          year: Annotated[int, Form(ge=2000, le=2100)], csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("verdicts", who)
    issued = request.app.state.services.ledger.issue_verdict(professional_id, level, year, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/verdicts/{issued.originator_id}", status_code=303)
