"""CE bases and the knowledge-update programmes (auditors, committees)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.workbench import session
from api.labels import PROGRAMME_KINDS, PROVIDER_CHANGES, PROVIDER_LEVELS, PROVIDER_STANDINGS
from ce_ledger.domain.errors import NotFound
from ce_ledger.domain.programme import Programme
from ce_ledger.domain.provider import ProviderLevel, ProviderStatusChange
from api.workbench.pages.common import (
    form_problem,     pages, render, require_role, router,
)


# -- CE bases (auditors) ----------------------------------------------------------------------


@router.get("/providers", response_class=HTMLResponse)
@pages
def providers_page(request: Request, who: Principal) -> HTMLResponse:
    """Every CE base the ledger's certificates name, with its standing today, and those it has no
    record of (reading 15: flagged, not excluded)."""
    require_role(who, Role.AUDITOR)
    svc = request.app.state.services
    rows = []
    for code, certificates, people in svc.view.certificates_by_provider():
        try:
            provider = svc.ledger.provider(code, copy=False)
        except NotFound:
            provider = None
        rows.append((code, provider, certificates, people))
    return render(request, "providers.html", who=who, rows=rows, standings=PROVIDER_STANDINGS,
                  provider_levels=PROVIDER_LEVELS)


@router.get("/providers/{code}", response_class=HTMLResponse)
@pages
def provider_page(request: Request, who: Principal, code: str) -> HTMLResponse:
    require_role(who, Role.AUDITOR)
    provider = request.app.state.services.ledger.provider(code, copy=False)
    return render(request, "provider.html", who=who, p=provider, standings=PROVIDER_STANDINGS,
                  provider_levels=PROVIDER_LEVELS, changes=PROVIDER_CHANGES, today=date.today().isoformat())


@router.post("/providers")
@pages
def accredit_provider(request: Request, who: Principal, code: Annotated[str, Form(max_length=64)],
                      name: Annotated[str, Form(max_length=200)], level: Annotated[str, Form(pattern="^(national|regional)$")],
                      effective_on: Annotated[str, Form(max_length=10)], decision_ref: Annotated[str, Form(max_length=200)],
                      csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        day = date.fromisoformat(effective_on)
    except ValueError:
        raise HTTPException(422, "生效日期填写有误") from None
    done = request.app.state.services.ledger.accredit_provider(
        code, name=name, level=ProviderLevel(level), effective_on=day, decision_ref=decision_ref, by=who.actor,
        channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/providers/{done.provider.code}", status_code=303)


@router.post("/providers/{code}/decisions")
@pages
def provider_decision(request: Request, who: Principal, code: str,
                      status: Annotated[str, Form(pattern="^(ordered_to_rectify|rectified|disqualified|reaccredited)$")],
                      effective_on: Annotated[str, Form(max_length=10)], decision_ref: Annotated[str, Form(max_length=200)],
                      deadline: Annotated[str, Form(max_length=10)] = "", reason: Annotated[str, Form(max_length=500)] = "",
                      csrf: Annotated[str, Form()] = "") -> Response:
    """A decision of the Department about a CE base (§1(4)), entered in the order they took effect."""
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        change = ProviderStatusChange(status=status, effective_on=effective_on, decision_ref=decision_ref,
                                      deadline=deadline or None, reason=reason or None)
    except ValidationError as e:
        raise form_problem(e, "决定") from None
    request.app.state.services.ledger.change_provider_status(code, change, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/providers/{code}", status_code=303)


@router.get("/programmes", response_class=HTMLResponse)
@pages
def programmes_page(request: Request, who: Principal, year: Annotated[int, Query(ge=2000, le=2100)] = 2019) -> HTMLResponse:
    """The knowledge-update programmes of a year (§2): classes and trainees held against planned, by
    programme and by kind against the notice's targets."""
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    from projections.programmes import programme_report

    report = programme_report(request.app.state.services.view, year)
    return render(request, "programmes.html", who=who, report=report, year=year, programme_kinds=PROGRAMME_KINDS)


@router.post("/programmes")
@pages
def plan_programme(request: Request, who: Principal, code: Annotated[str, Form(max_length=64)],
                   title: Annotated[str, Form(max_length=200)], kind: Annotated[str, Form(max_length=32)],
                   year: Annotated[str, Form(max_length=4)], planned_trainees: Annotated[str, Form(max_length=8)],
                   provider_code: Annotated[str, Form(max_length=64)],
                   planned_classes: Annotated[str, Form(max_length=5)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Plan a programme (the Department runs the project: auditors), as over the API."""
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        programme = Programme(code=code, title=title, kind=kind, year=year, planned_trainees=planned_trainees,
                              planned_classes=planned_classes or None, provider_code=provider_code)
    except ValidationError as e:
        raise form_problem(e, "code") from None
    request.app.state.services.ledger.plan_programme(programme, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/programmes?year={programme.year}", status_code=303)
