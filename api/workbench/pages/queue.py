"""The claims queue: employers and committees decide pending claims."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.deps import may_enter
from api.workbench import session
from api.labels import ACTIVITIES, in_chinese
from api.workbench.exports import XLSX, workbook
from ce_ledger.domain.commands import Verification
from ce_ledger.rules.nx2019_2 import what
from api.labels import filing_words
from api.workbench.pages.common import (
    hours_text, pages, render, require_role, router,
)


# -- the claims queue ------------------------------------------------------------------------

PER_PAGE = 50


@router.get("/queue", response_class=HTMLResponse)
@pages
def queue(request: Request, who: Principal, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
          done: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    """Claims awaiting a decision, oldest first: an employer's own unit, a committee's everyone."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    svc = request.app.state.services
    rows, total = svc.view.pending_claims(who.unit if who.role is Role.EMPLOYER else None, PER_PAGE,
                                          (page - 1) * PER_PAGE)
    for row in rows:  # what the claim says, as on the certificate (a page of records, each cached)
        activity = svc.ledger.professional(UUID(row["professional_id"]), copy=False).activities.get(UUID(row["activity_id"]))
        row["what"] = in_chinese(what(activity), activity.recorded.describe(), ACTIVITIES) if activity else ""
        row["filing"] = filing_words(svc.ledger, activity, UUID(row["professional_id"])) if activity else ""
        row["hours"] = hours_text(Decimal(row["hours"]))
    return render(request, "queue.html", who=who, rows=rows, total=total, page=page,
                  pages=max(1, -(-total // PER_PAGE)), done=done)


@router.get("/queue.xlsx")
@pages
def queue_xlsx(request: Request, who: Principal) -> Response:
    """The claims awaiting a decision (the role's scope), every page, as a spreadsheet."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    view = request.app.state.services.view
    unit = who.unit if who.role is Role.EMPLOYER else None

    def rows():
        offset = 0
        while True:  # page by page: the sheet is written as the rows come
            page, _ = view.pending_claims(unit, 1000, offset)
            for r in page:
                yield [r["name"], r["masked_id"], r["employer_unit"], r["occurred_on"], r["provider_code"],
                       hours_text(Decimal(r["hours"])), r["professional_id"], r["activity_id"]]
            if len(page) < 1000:
                return
            offset += 1000

    data = workbook("待审核的申报", ["姓名", "公民身份号码", "单位", "日期", "继续教育基地", "申报学时", "记录编号",
                                  "学习活动编号"], rows())
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="claims-queue.xlsx"'})


@router.post("/queue")
@pages
def decide_claims(request: Request, who: Principal, decision: Annotated[str, Form(pattern="^(verified|rejected)$")],
                  reason: Annotated[str, Form(max_length=500)] = "", claims: Annotated[list[str], Form()] = [],  # noqa: B006
                  csrf: Annotated[str, Form()] = "") -> Response:
    """Verify or reject the ticked claims with one reason; each decision is recorded with its actor,
    through the workbench, under the same rules as over the API (final; a wrong one is voided)."""
    session.check_csrf(request, csrf)
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    svc = request.app.state.services
    if not claims:
        raise HTTPException(422, "请至少勾选一项待审核的申报")
    try:
        verification = Verification(decision=decision, reason=reason)
    except ValidationError:
        raise HTTPException(422, "请填写审核意见（理由）") from None
    decided = 0
    for claim in claims[:PER_PAGE]:
        pid, _, aid = claim.partition(":")
        professional_id, activity_id = UUID(pid), UUID(aid)
        may_enter(svc, who, professional_id)
        svc.ledger.decide(professional_id, activity_id, verification, by=who.actor, channel=Channel.WORKBENCH)
        decided += 1
    word = "审核通过" if decision == "verified" else "审核未通过"
    return RedirectResponse(f"/workbench/queue?done={decided} 项{word}", status_code=303)
