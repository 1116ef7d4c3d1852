"""Finding people (by ID number, by name), registering them, correcting a registration, moving a person."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.deps import may_see, register_as
from api.workbench import session
from api.labels import FIELD_NAMES
from ce_ledger.domain.errors import Conflict, LedgerError, NotFound
from ce_ledger.domain.commands import Correction, Registration, Transfer
from ce_ledger.domain.identity import normalise_id_number
from api.workbench.pages.common import (
    form_problem, pages, pinyin, render, require_role, router, unit_names,
)


# -- finding a person -----------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
@pages
def home(request: Request, who: Principal) -> HTMLResponse:
    findings = request.app.state.services.audit.findings() if who.role is Role.AUDITOR else None
    return render(request, "home.html", who=who, level="intermediate", year=2019, findings=findings)


@router.get("/review", response_class=HTMLResponse)
@pages
def review(request: Request, who: Principal) -> HTMLResponse:
    """For auditors: what the latest `ce-ledger verify` found — activities whose keys are one key
    once compared in one spelling (reading 16). They are not merged: an auditor voids what should
    not count, and the next verification records that the collision is gone."""
    require_role(who, Role.AUDITOR)
    return render(request, "review.html", who=who, findings=request.app.state.services.audit.findings())


@router.post("/lookup")
@pages
def lookup(request: Request, who: Principal, id_number: Annotated[str, Form(max_length=40)],
           csrf: Annotated[str, Form()] = "") -> Response:
    """By POST, so the number never reaches a URL, a history or an access log."""
    session.check_csrf(request, csrf)
    request.app.state.rate_limits.hit("lookups", who)  # an ID number is guessed one lookup at a time
    svc = request.app.state.services
    try:
        pid = svc.ledger.professional_id_for(normalise_id_number(id_number))
    except (ValueError, ValidationError):
        return render(request, "home.html", 422, who=who, level="intermediate", year=2019,
                      problem="公民身份号码有误：请核对是否为 18 位、出生日期是否有效、最后一位校验码是否正确（可为 X）")
    # "Nobody" and "someone you may not see" answer alike: otherwise a masked number could be
    # unmasked by trying the hidden digits. Every lookup is recorded for the auditors.
    try:
        may_see(svc, who, pid)
        svc.ledger.professional(pid, copy=False)
        found = True
    except (HTTPException, NotFound):
        found = False
    svc.access.record_lookup(pid, found=found, by=who.actor, channel=Channel.WORKBENCH)
    if not found:
        return render(request, "home.html", 404, who=who, level="intermediate", year=2019,
                      problem="未找到：此公民身份号码没有您可以查看的继续教育记录")
    return RedirectResponse(f"/workbench/professionals/{pid}", status_code=303)



# -- registering a person, correcting it, moving it --------------------------------------------


@router.post("/professionals/{professional_id}/corrections")
@pages
def correct_registration(request: Request, who: Principal, professional_id: UUID,
                         name: Annotated[str, Form(max_length=50)], series: Annotated[str, Form(max_length=50)],
                         reason: Annotated[str, Form(max_length=500)], decision_ref: Annotated[str, Form(max_length=200)],
                         foreign: Annotated[bool, Form()] = False, computer: Annotated[bool, Form()] = False,
                         own_ce: Annotated[bool, Form()] = False, csrf: Annotated[str, Form()] = "") -> Response:
    """A committee's or auditor's correction of the name or the series settings, with reason and decision."""
    session.check_csrf(request, csrf)
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    try:
        correction = Correction(name=name, series=series, requires_foreign_language_exam=foreign,
                                requires_computer_exam=computer, own_ce_regulation=own_ce, reason=reason,
                                decision_ref=decision_ref)
    except ValidationError as e:
        raise form_problem(e, "更正") from None
    request.app.state.services.ledger.correct_registration(professional_id, correction, by=who.actor,
                                                           channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/professionals/{professional_id}", status_code=303)


@router.post("/transfers")
@pages
def propose_transfer(request: Request, who: Principal, id_number: Annotated[str, Form(max_length=40)],
                     effective_on: Annotated[str, Form(max_length=10)], csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    """The new unit asks to take a person over, by ID number. The answer is the same whether or not the
    person is registered elsewhere (an employer may not learn who another unit employs)."""
    session.check_csrf(request, csrf)
    require_role(who, Role.EMPLOYER)
    request.app.state.rate_limits.hit("lookups", who)
    svc = request.app.state.services
    try:
        pid = svc.ledger.professional_id_for(normalise_id_number(id_number))
        transfer = Transfer(to_unit=who.unit, effective_on=effective_on)
    except ValidationError as e:
        raise form_problem(e, "调动") from None
    except ValueError:
        raise HTTPException(422, "公民身份号码填写有误") from None
    try:
        svc.ledger.propose_transfer(pid, transfer, by=who.actor, channel=Channel.WORKBENCH)
        found = True
    except NotFound:
        found = False
    except LedgerError:
        found = True  # e.g. already in this unit: said alike
    svc.access.record_lookup(pid, found=found, by=who.actor, channel=Channel.WORKBENCH)
    return render(request, "register.html", 202, who=who, transfer_accepted=True)


@router.post("/professionals/{professional_id}/transfers/confirmation")
@pages
def confirm_transfer(request: Request, who: Principal, professional_id: UUID, csrf: Annotated[str, Form()] = "") -> Response:
    """The present unit (or a committee) confirms the move proposed for this person."""
    session.check_csrf(request, csrf)
    svc = request.app.state.services
    record = svc.ledger.professional(professional_id, copy=False)
    if not (who.role is Role.COMMITTEE or (who.role is Role.EMPLOYER and record.employer_unit == who.unit)):
        raise HTTPException(403, "只有此人现在的单位或评审委员会可以确认调动")
    if record.transfer is None:
        raise HTTPException(409, "此人没有待确认的调动")
    transfer = Transfer(to_unit=record.transfer.to_unit, effective_on=record.transfer.effective_on)
    svc.ledger.confirm_transfer(professional_id, transfer, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse("/workbench/" if who.role is Role.EMPLOYER else f"/workbench/professionals/{professional_id}",
                            status_code=303)


@router.get("/register", response_class=HTMLResponse)
@pages
def register_page(request: Request, who: Principal) -> HTMLResponse:
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    return render(request, "register.html", who=who)


@router.post("/register")
@pages
def register(request: Request, who: Principal, id_number: Annotated[str, Form(max_length=40)],
             name: Annotated[str, Form(max_length=50)], series: Annotated[str, Form(max_length=50)],
             employer_unit: Annotated[str, Form(max_length=64)] = "",
             employer_unit_name: Annotated[str, Form(max_length=100)] = "", foreign: Annotated[bool, Form()] = False,
             computer: Annotated[bool, Form()] = False, own_ce: Annotated[bool, Form()] = False,
             csrf: Annotated[str, Form()] = "") -> Response:
    """As over the API: the number is checked, hashed and dropped; to an employer, a person new to
    the ledger and one registered in another unit are answered alike (reading 19)."""
    session.check_csrf(request, csrf)
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    request.app.state.rate_limits.hit("lookups", who)
    unit = who.unit if who.role is Role.EMPLOYER else employer_unit
    try:
        registration = Registration(id_number=normalise_id_number(id_number), name=name, series=series,
                                    requires_foreign_language_exam=foreign, requires_computer_exam=computer,
                                    own_ce_regulation=own_ce, employer_unit=unit,
                                    employer_unit_name=employer_unit_name.strip() or None)
    except (ValueError, ValidationError) as e:
        raise form_problem(e, "id_number") from None
    svc = request.app.state.services
    pid = svc.ledger.professional_id_for(registration.id_number)
    try:
        done = register_as(svc, who, registration, Channel.WORKBENCH)
    except Conflict as e:
        field = FIELD_NAMES.get(e.field or "", e.field or "登记内容")
        raise HTTPException(409, f"此人已登记，且{field}等与登记内容不同：更正由评审委员会或人社厅办理，调动由调入单位提出") from None
    unit_names(request).forget(unit)
    if done is None:  # an employer's answer, alike for a new person and another unit's
        return render(request, "register.html", 202, who=who, accepted=True)
    return RedirectResponse(f"/workbench/professionals/{pid}", status_code=303)



# -- finding people by name ------------------------------------------------------------------

FOUND_AT_MOST = 50


@router.get("/search", response_class=HTMLResponse)
@pages
def search(request: Request, who: Principal, q: Annotated[str, Query(min_length=1, max_length=20)]) -> HTMLResponse:
    """By part of a name, within what the role may see: an employer its own unit, a committee or an
    auditor everyone; ordered by pinyin. Counted against the lookup limit, like a lookup by number."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("lookups", who)
    svc = request.app.state.services
    found = svc.view.search_people(q.strip(), who.unit if who.role is Role.EMPLOYER else None, FOUND_AT_MOST + 1)
    more = len(found) > FOUND_AT_MOST
    found = sorted(found[:FOUND_AT_MOST], key=lambda r: (pinyin(r["name"]), r["professional_id"]))
    return render(request, "search.html", who=who, q=q, found=found, more=more)
