"""The unit register in the browser: units by name or code, and naming (or renaming) one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ce_ledger.access import Principal, Role
from ce_ledger.domain.values import Channel, canonical_code
from api.routers.units import UnitName
from api.workbench import session
from api.workbench.pages.common import pages, pinyin, render, require_role, router, unit_names

UNITS_PAGE = 50


@router.get("/units", response_class=HTMLResponse)
@pages
def units(request: Request, who: Principal, q: Annotated[str, Query(max_length=50)] = "",
          page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """Committees and auditors: every unit, by part of its name or code, ordered by pinyin. An
    employer has one unit: its page."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    if who.role is Role.EMPLOYER:
        return RedirectResponse(f"/workbench/unit?unit={who.unit}", status_code=303)
    found = request.app.state.services.view.units()
    needle = q.strip().casefold()
    if needle:
        found = [u for u in found if needle in u["code"].casefold() or needle in (u["name"] or "").casefold()]
    found.sort(key=lambda u: (u["name"] is None, pinyin(u["name"] or ""), u["code"]))
    pages_ = max(1, -(-len(found) // UNITS_PAGE))
    return render(request, "units.html", who=who, q=q, units=found[(page - 1) * UNITS_PAGE:page * UNITS_PAGE],
                  total=len(found), page=page, pages=pages_)


@router.post("/units/{code}/name")
@pages
def name_unit(request: Request, who: Principal, code: str, name: Annotated[str, Form(max_length=100)] = "",
              csrf: Annotated[str, Form()] = "") -> Response:
    """Name a unit (its own employer, a committee, an auditor): a new event when the name is new."""
    session.check_csrf(request, csrf)
    require_role(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    if who.role is Role.EMPLOYER and canonical_code(code) != canonical_code(who.unit or ""):
        raise HTTPException(403, f"用人单位只能登记本单位（{who.unit}）的名称")
    try:
        checked = UnitName(name=name)
    except ValidationError:
        raise HTTPException(422, "单位名称填写有误：须填写，且不含控制字符") from None
    request.app.state.services.ledger.name_unit(code, checked.name, by=who.actor, channel=Channel.WORKBENCH)
    unit_names(request).forget(code)
    return RedirectResponse(f"/workbench/unit?unit={code}", status_code=303)
