"""Importing a spreadsheet: upload, dry run, confirmation, refused rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from ce_ledger.access import Principal, Role
from api.workbench import session
from api.labels import FILE_KINDS, import_problem_in_chinese
from api.workbench.exports import XLSX, workbook
from api.workbench.pages.common import (
    pages, render, require_role, router, unit_names,
)


# -- importing a spreadsheet ------------------------------------------------------------------


def _import(request: Request, who: Principal, path: Any, kind: str, dry_run: bool) -> Any:
    from ce_ledger.imports.columns import FileKind
    from ce_ledger.imports.importer import LegacyByCommittee
    from ce_ledger.imports.sheets import UnreadableFile

    unit = who.unit if who.role is Role.EMPLOYER else None  # an employer imports for its own staff
    try:
        return request.app.state.services.importer(by=who.actor, unit=unit).run(
            path, kind=FileKind(kind) if kind else None, dry_run=dry_run)
    except LegacyByCommittee:
        raise HTTPException(403, "2019年前培训单位上传的历史学时只能由评审委员会导入") from None
    except UnreadableFile:
        raise HTTPException(422, "无法读取此文件：请上传 UTF-8 或 GB18030 编码的 CSV，或 xlsx，"
                                 "表头须为规定的列名（如 学习记录编号、证书编号、登记编号）") from None


def _import_result(request: Request, who: Principal, report: Any, upload_id: str, name: str) -> HTMLResponse:
    problems = [(p.row, p.column, import_problem_in_chinese(p.problem)) for p in report.problems]
    return render(request, "import.html", who=who, report=report, upload_id=upload_id, name=name,
                  problems=problems[:200], more=len(problems) > 200, file_kinds=FILE_KINDS)


@router.get("/import", response_class=HTMLResponse)
@pages
def import_page(request: Request, who: Principal) -> HTMLResponse:
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    return render(request, "import.html", who=who, file_kinds=FILE_KINDS)


@router.post("/import", response_class=HTMLResponse)
@pages
def import_upload(request: Request, who: Principal, file: Annotated[UploadFile, File()],
                  kind: Annotated[str, Form(pattern="^(|public-courses|certificates|legacy)$")] = "",
                  csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    """Upload, then a dry run: every row checked like an API request, nothing recorded. The file
    waits (an hour at most) for the confirmation."""
    session.check_csrf(request, csrf)
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    name = Path(file.filename or "upload").name
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        raise HTTPException(422, "只能导入 .csv 或 .xlsx 文件")
    uploads = request.app.state.uploads
    upload_id = uploads.keep(file.file.read(), name, who.actor)
    path, _ = uploads.find(upload_id, who.actor)
    report = _import(request, who, path, kind, dry_run=True)
    uploads.remember_kind(upload_id, kind)
    return _import_result(request, who, report, upload_id, name)


@router.post("/import/{upload_id}/confirm", response_class=HTMLResponse)
@pages
def import_confirm(request: Request, who: Principal, upload_id: str, csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    """Record the good rows of a file checked before (importing it again records nothing twice)."""
    session.check_csrf(request, csrf)
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    found = request.app.state.uploads.find(upload_id, who.actor)
    if found is None:
        raise HTTPException(404, "上传的文件已过期（保留一小时）或不是您上传的：请重新上传")
    report = _import(request, who, found[0], request.app.state.uploads.kind_of(upload_id), dry_run=False)
    unit_names(request).forget()  # the file may have named units
    return _import_result(request, who, report, upload_id, found[1])


@router.get("/import/{upload_id}/refused.xlsx")
@pages
def import_refused(request: Request, who: Principal, upload_id: str) -> Response:
    """The rows of an upload that were (or would be) refused, with their column and why."""
    require_role(who, Role.EMPLOYER, Role.COMMITTEE)
    found = request.app.state.uploads.find(upload_id, who.actor)
    if found is None:
        raise HTTPException(404, "上传的文件已过期（保留一小时）或不是您上传的：请重新上传")
    report = _import(request, who, found[0], request.app.state.uploads.kind_of(upload_id), dry_run=True)
    rows = ([p.row, p.column or "", import_problem_in_chinese(p.problem)] for p in report.problems)
    return Response(workbook("未导入的行", ["行号", "列", "原因"], rows), media_type=XLSX,
                    headers={"Content-Disposition": 'attachment; filename="refused-rows.xlsx"'})
