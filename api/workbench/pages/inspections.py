"""The Department's inspection in the browser (§3(5)): draw a spot check, work through its
sample (replay, risk signals, a finding each), export the report; sanctions on record."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ce_ledger.access import Principal, Role
from ce_ledger.domain.inspection import Finding, Sanction, SpotCheckRequest
from ce_ledger.domain.values import Channel
from api.labels import FINDINGS, SANCTION_TARGETS, actor_in_chinese, signal_in_chinese
from api.workbench import session
from api.workbench.exports import XLSX, workbook
from api.workbench.pages.common import TEMPLATES, form_problem, pages, render, require_role, router, unit_names

SAMPLE_PAGE = 50


@router.get("/spot-checks", response_class=HTMLResponse)
@pages
def spot_checks(request: Request, who: Principal) -> HTMLResponse:
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    ledger = request.app.state.services.ledger
    drawn = [ledger.spot_check(f.spot_check_id) for f in ledger.spot_checks(50)]
    return render(request, "spot_checks.html", who=who, drawn=drawn)


@router.post("/spot-checks")
@pages
def draw(request: Request, who: Principal, evaluation_year: Annotated[str, Form(max_length=4)],
         rate: Annotated[str, Form(max_length=12)] = "", size: Annotated[str, Form(max_length=8)] = "",
         level: Annotated[str, Form(max_length=20)] = "", unit: Annotated[str, Form(max_length=64)] = "",
         series: Annotated[str, Form(max_length=50)] = "", seed: Annotated[str, Form(max_length=128)] = "",
         weighted: Annotated[bool, Form()] = False,
         csrf: Annotated[str, Form()] = "") -> Response:
    """Draw a spot check (auditors), as over the API: the same seed and position draw the same sample."""
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        share = Decimal(rate) / 100 if rate.strip() else None  # the form asks for a percentage
    except InvalidOperation:
        raise HTTPException(422, "抽查比例填写有误：请填写百分数，如 1 或 0.5") from None
    try:
        request_ = SpotCheckRequest(evaluation_year=evaluation_year, rate=share, size=size or None, level=level or None,
                                    unit=unit or None, series=series or None, seed=seed or None, weighted=weighted)
    except ValidationError as e:
        raise form_problem(e, "size") from None
    svc = request.app.state.services
    drawn = svc.ledger.draw_spot_check(request_, svc.view, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/spot-checks/{drawn.originator_id}", status_code=303)


def _sample_rows(request: Request, spot_check_id: UUID, verdict_ids) -> list[dict]:
    ledger = request.app.state.services.ledger
    rows = []
    for vid in verdict_ids:
        issued = ledger.verdict(vid)
        person = ledger.professional(issued.professional_id, copy=False)
        findings = ledger.findings_of(vid)
        mine = [f for f in findings if f.spot_check_id == spot_check_id]
        rows.append({"verdict_id": vid, "name": person.name, "masked_id": person.registration.masked_id,
                     "unit": person.employer_unit, "series": person.series.name, "v": issued.verdict,
                     "finding": mine[-1] if mine else None})
    return rows


@router.get("/spot-checks/{spot_check_id}", response_class=HTMLResponse)
@pages
def spot_check(request: Request, who: Principal, spot_check_id: UUID,
               page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    drawn = request.app.state.services.ledger.spot_check(spot_check_id)
    pages_ = max(1, -(-len(drawn.sample) // SAMPLE_PAGE))
    rows = _sample_rows(request, spot_check_id, drawn.sample[(page - 1) * SAMPLE_PAGE:page * SAMPLE_PAGE])
    return render(request, "spot_check.html", who=who, d=drawn, rows=rows, page=page, pages=pages_,
                  findings=FINDINGS, strata=drawn.strata[:200])


@router.get("/spot-checks/{spot_check_id}/verdicts/{verdict_id}", response_class=HTMLResponse)
@pages
def sampled(request: Request, who: Principal, spot_check_id: UUID, verdict_id: UUID) -> HTMLResponse:
    """One sampled verdict: replayed, its risk signals, the findings and sanctions; a finding to record."""
    require_role(who, Role.AUDITOR)
    request.app.state.rate_limits.hit("replays", who)
    svc = request.app.state.services
    drawn = svc.ledger.spot_check(spot_check_id)
    if verdict_id not in drawn.sample:
        raise HTTPException(404, "此审验结果不在本次抽查的样本中")
    issued = svc.ledger.verdict(verdict_id)
    person = svc.ledger.professional(issued.professional_id, copy=False)
    return render(request, "sampled.html", who=who, d=drawn, issued=issued, person=person,
                  replay=svc.audit.replay(verdict_id),
                  signals=[signal_in_chinese(s) for s in svc.ledger.verdict_signals(verdict_id)],
                  findings=svc.ledger.findings_of(verdict_id),
                  sanctions=svc.ledger.sanctions_touching(issued.professional_id), targets=SANCTION_TARGETS)


@router.post("/spot-checks/{spot_check_id}/findings")
@pages
def record_finding(request: Request, who: Principal, spot_check_id: UUID, verdict_id: Annotated[UUID, Form()],
                   finding: Annotated[str, Form(max_length=20)], reason: Annotated[str, Form(max_length=500)] = "",
                   decision_ref: Annotated[str, Form(max_length=200)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        found = Finding(verdict_id=verdict_id, finding=finding, reason=reason, decision_ref=decision_ref)
    except ValidationError as e:
        raise form_problem(e, "finding") from None
    request.app.state.services.ledger.record_finding(spot_check_id, found, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/spot-checks/{spot_check_id}/verdicts/{verdict_id}", status_code=303)


REPORT_COLUMNS = ["姓名", "公民身份号码", "工作单位", "职称系列", "审验结论", "抽查结论", "理由", "决定文号", "记录人"]


def _report_rows(request: Request, spot_check_id: UUID):
    """Every sampled verdict with its finding, a page of records at a time (never all loaded at once)."""
    drawn = request.app.state.services.ledger.spot_check(spot_check_id)
    label = unit_names(request).label
    for start in range(0, len(drawn.sample), SAMPLE_PAGE):
        for r in _sample_rows(request, spot_check_id, drawn.sample[start:start + SAMPLE_PAGE]):
            f = r["finding"]
            yield [r["name"], r["masked_id"], label(r["unit"]), r["series"], "合格" if r["v"].passed else "不合格",
                   FINDINGS[f.finding.value] if f else "尚未核查", f.reason if f else "", f.decision_ref if f else "",
                   actor_in_chinese(f.found_by) if f else ""]


@router.get("/spot-checks/{spot_check_id}/report.xlsx")
@pages
def report_xlsx(request: Request, who: Principal, spot_check_id: UUID) -> Response:
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    data = workbook("抽查报告", REPORT_COLUMNS, _report_rows(request, spot_check_id))
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="spot-check-{spot_check_id}.xlsx"'})


@router.get("/spot-checks/{spot_check_id}/report.pdf")
@pages
async def report_pdf(request: Request, who: Principal, spot_check_id: UUID) -> Response:
    """The report as PDF, from the renderer processes (as the assessment form)."""
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("forms", who)

    def html() -> str:
        drawn = request.app.state.services.ledger.spot_check(spot_check_id)
        zone = ZoneInfo(request.app.state.services.settings.timezone)
        return TEMPLATES.get_template("spot_check_report.html").render(
            d=drawn, rows=list(_report_rows(request, spot_check_id)), columns=REPORT_COLUMNS,
            drawn_by=actor_in_chinese(drawn.drawn_by), drawn_at=drawn.recorded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"))

    data = await request.app.state.pdf_forms.pdf_async(await run_in_threadpool(html))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="spot-check-{spot_check_id}.pdf"'})


@router.post("/sanctions")
@pages
def impose(request: Request, who: Principal, target_kind: Annotated[str, Form(max_length=20)],
           target: Annotated[str, Form(max_length=64)], provision: Annotated[str, Form(max_length=200)],
           decision_ref: Annotated[str, Form(max_length=200)], effective_on: Annotated[str, Form(max_length=10)],
           reason: Annotated[str, Form(max_length=500)], ends_on: Annotated[str, Form(max_length=10)] = "",
           back: Annotated[str, Form(max_length=300, pattern="^/workbench/")] = "/workbench/",
           csrf: Annotated[str, Form()] = "") -> Response:
    """A sanction against a person, a unit or a CE base (auditors). It changes no hours by itself."""
    session.check_csrf(request, csrf)
    require_role(who, Role.AUDITOR)
    try:
        sanction = Sanction(target_kind=target_kind, target=target, provision=provision, decision_ref=decision_ref,
                            effective_on=effective_on, ends_on=ends_on or None, reason=reason)
    except ValidationError as e:
        raise form_problem(e, "target") from None
    svc = request.app.state.services
    svc.ledger.impose_sanction(sanction, svc.view, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(back, status_code=303)

