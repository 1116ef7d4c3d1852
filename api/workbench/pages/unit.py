"""A unit's staff against an evaluation, and its export."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from ce_ledger.access import Principal, Role
from api.workbench.exports import XLSX, workbook
from ce_ledger.domain.inspection import SanctionTarget
from ce_ledger.domain.values import Level
from api.workbench.pages.common import (
    SORTS, hours_text, pages, render, require_role, router,
)


# -- a unit's staff -------------------------------------------------------------------------


STAFF_PAGE = 100


@router.get("/unit.xlsx")
@pages
def unit_xlsx(request: Request, who: Principal, unit: Annotated[str, Query(max_length=64)],
              level: Annotated[Level, Query()] = Level.INTERMEDIATE, year: Annotated[int, Query(ge=2000, le=2100)] = 2019,
              everyone: Annotated[bool, Query()] = False) -> Response:
    """The unit's standing as a spreadsheet (the same rows as the page, every page)."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    if who.role is Role.EMPLOYER and unit != who.unit:
        raise HTTPException(403, f"用人单位 {who.unit} 只能查看本单位人员")
    everybody = request.app.state.services.totals.unit(unit, level, year)
    rows = ([s.name, s.masked_id, s.series, hours_text(s.credited.public_hours), hours_text(s.credited.total_hours),
             hours_text(s.shortfall.public_hours), hours_text(s.shortfall.total_hours), "达标" if s.meets else "未达标"]
            for s in sorted(everybody, key=SORTS["meets"][0]) if everyone or not s.meets)
    data = workbook(f"{unit} 达标情况", ["姓名", "公民身份号码", "职称系列", "公需课学时", "总学时", "公需课尚差",
                                        "总学时尚差", "是否达标"], rows)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="unit-{unit}-{level.value}-{year}.xlsx"'})


@router.get("/unit", response_class=HTMLResponse)
@pages
def unit(request: Request, who: Principal, unit: Annotated[str, Query(max_length=64)],
         level: Annotated[Level, Query()] = Level.INTERMEDIATE, year: Annotated[int, Query(ge=2000, le=2100)] = 2019,
         sort: Annotated[str, Query()] = "meets", everyone: Annotated[bool, Query()] = False,
         page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Who still falls short (or, with ``everyone``, all staff), sortable by any column."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    if who.role is Role.EMPLOYER and unit != who.unit:
        raise HTTPException(403, f"用人单位 {who.unit} 只能查看本单位人员")
    key, _, _ = SORTS.get(sort, SORTS["meets"])
    everybody = request.app.state.services.totals.unit(unit, level, year)
    standings = sorted((s for s in everybody if everyone or not s.meets), key=key)
    pages_ = max(1, -(-len(standings) // STAFF_PAGE))
    return render(request, "unit.html", who=who, unit=unit, level=level.value, year=year,
                  standings=standings[(page - 1) * STAFF_PAGE:page * STAFF_PAGE], page=page, pages=pages_,
                  sort=sort if sort in SORTS else "meets", short_count=sum(not s.meets for s in everybody),
                  staff_count=len(everybody), everyone=everyone,
                  sanctions=request.app.state.services.ledger.sanctions_of(SanctionTarget.UNIT, unit),
                  columns=[(k, label, num) for k, (_, label, num) in SORTS.items()])
