"""The workbench's pages: sign in, find a person, their record and window totals, issue and
replay verdicts, a unit's staff, the assessment form. Sync handlers: the ledger blocks."""

from __future__ import annotations

import functools
from urllib.parse import urlparse
import inspect
from pathlib import Path
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
import segno
from pypinyin import lazy_pinyin
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from pydantic import ValidationError

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.deps import may_enter, may_see
from api.workbench import session
from api.labels import ACTIVITY_KINDS as KINDS
from api.labels import PROGRAMME_KINDS, PROVIDER_CHANGES, PROVIDER_LEVELS, PROVIDER_STANDINGS, ACTIVITIES, DEGREES, FIELD_NAMES, FILE_KINDS, import_problem_in_chinese, ROUTES, BREAKS, error_in_chinese, CHANNELS, HAPPENED, LEVELS, ROLES, STATUSES, in_chinese, reading_in_chinese
from api.problems import status_of
from api.workbench.exports import XLSX, workbook
from api.workbench.form import assessment_form
from ce_ledger.domain.errors import Conflict, LedgerError, NotFound
from ce_ledger.domain.commands import Correction, Registration, Transfer, Verification, Voiding
from ce_ledger.domain.provider import ProviderLevel, ProviderStatusChange
from ce_ledger.domain.details import Degree, ExamPass, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.identity import normalise_id_number
from ce_ledger.rules.nx2019_2 import claim, what
from ce_ledger.domain.values import Level, canonical

router = APIRouter(prefix="/workbench", include_in_schema=False)

def pinyin(name: str) -> list[str]:
    """How Chinese names are ordered for people (by pinyin, not by code point)."""
    return lazy_pinyin(name)


SORTS = {
    "name": (lambda s: (pinyin(s.name), str(s.professional_id)), "姓名", False),
    "masked_id": (lambda s: s.masked_id, "公民身份号码", False),
    "public": (lambda s: (s.credited.public_hours, s.name), "公需课学时", True),
    "total": (lambda s: (s.credited.total_hours, s.name), "总学时", True),
    "public_short": (lambda s: (-s.shortfall.public_hours, s.name), "公需课尚差", True),
    "total_short": (lambda s: (-s.shortfall.total_hours, s.name), "总学时尚差", True),
    "meets": (lambda s: (s.meets, -s.shortfall.total_hours, s.name), "是否达标", False),
}


def _hours(value: Decimal | None) -> str:
    return "—" if value is None else canonical(value)


@pass_context
def _local(context: Any, moment: Any) -> Any:
    """A recorded time (UTC) as the ledger's users read it, in CE_LEDGER_TIMEZONE."""
    return moment.astimezone(context["zone"]).strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else moment


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("api.workbench"), autoescape=select_autoescape(default=True))
    env.filters["h"] = _hours
    env.filters["local"] = _local
    # A verdict's reasons, arithmetic, activities, summary and readings in Chinese (api/labels.py);
    # a verdict from before NX-2019.2 has no codes, and shows the English its rule-set wrote.
    env.filters["zh"] = in_chinese
    env.filters["zh_what"] = lambda reason, english="": in_chinese(reason, english, ACTIVITIES)
    env.filters["zh_reading"] = reading_in_chinese
    return env


TEMPLATES = _environment()


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    who = context.get("who")
    if who is not None:
        context.setdefault("csrf", session.csrf_token(request))
        context["who_label"] = f"{ROLES[who.role.value]} · {who.name}" + (f" · {who.unit}" if who.unit else "")
    html = TEMPLATES.get_template(template).render(
        levels=LEVELS, kinds=KINDS, statuses=STATUSES, happened=HAPPENED, channels=CHANNELS, breaks=BREAKS,
        zone=ZoneInfo(request.app.state.services.settings.timezone), **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def history_warning(svc: Any, professional_id: UUID) -> str | None:
    """Shown on every page of a record whose stored history does not verify (reading it is
    still allowed; concluding from it is not: no verdict is issued on it)."""
    breaks = svc.ledger.chain_breaks({professional_id: None})
    if not breaks:
        return None
    first = breaks[0]
    return (f"警告：此人员学时记录的哈希链校验未通过（第 {first.version} 版：{BREAKS[first.kind]}"
            + (f"，另有 {len(breaks) - 1} 处" if len(breaks) > 1 else "")
            + "）。在人社厅核查（ce-ledger verify）之前，不得据此签发审验结果。")


def pages(handler):
    """Signed-out visitors go to sign in; a refused request is shown on a page, in words."""

    def refused(request: Request, who: Principal, e: Exception) -> Response:
        if isinstance(e, HTTPException):
            page = render(request, "base.html", e.status_code, who=who, problem=f"无法完成：{error_in_chinese(e)}")
            page.headers.update(e.headers or {})  # Retry-After of a 429
            return page
        return render(request, "base.html", status_of(e)[0], who=who, problem=f"无法完成：{error_in_chinese(e)}")

    if inspect.iscoroutinefunction(handler):  # a page that waits on something else (the PDF renderer)
        @functools.wraps(handler)
        async def wrapped(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                who = session.current(request)
            except session.SignedOut:
                return RedirectResponse("/workbench/sign-in", status_code=303)
            try:
                return await handler(request, who, *args, **kwargs)
            except (HTTPException, LedgerError) as e:
                return refused(request, who, e)
    else:
        @functools.wraps(handler)
        def wrapped(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                who = session.current(request)
            except session.SignedOut:
                return RedirectResponse("/workbench/sign-in", status_code=303)
            try:
                return handler(request, who, *args, **kwargs)
            except (HTTPException, LedgerError) as e:
                return refused(request, who, e)

    # FastAPI reads the parameters from the signature: the principal comes from the session.
    signature = inspect.signature(handler)
    wrapped.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "who"]
    )
    return wrapped


def _require(who: Principal, *roles: Role) -> None:
    if who.role not in roles:
        raise HTTPException(403, f"角色 {ROLES[who.role.value]} 无权进行此操作")


# -- signing in ---------------------------------------------------------------------------


@router.get("", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/workbench/", status_code=307)


site = APIRouter(include_in_schema=False)


@site.get("/")
def site_root() -> RedirectResponse:
    """The server's address leads people to the workbench (the API lives under /v1, its docs at /docs)."""
    return RedirectResponse("/workbench/", status_code=307)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "sign_in.html")


def _same_site(request: Request) -> bool:
    """Whether a form post came from the workbench's own pages. There is no session yet to
    carry a CSRF value at sign-in (login CSRF: another site signing a visitor in as itself),
    so the browser's own word is checked: Sec-Fetch-Site, else Origin against Host."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlparse(origin).netloc == request.headers.get("host")


@router.post("/sign-in")
def sign_in(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    if not _same_site(request):
        return render(request, "sign_in.html", 403, problem="拒绝：登录请求来自其他网站")
    response = RedirectResponse("/workbench/", status_code=303)
    if session.sign_in(request, response, token) is None:
        return render(request, "sign_in.html", 401, problem="令牌无效：请核对后重新输入")
    return response


@router.post("/sign-out")
@pages
def sign_out(request: Request, who: Principal, csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    response = RedirectResponse("/workbench/sign-in", status_code=303)
    session.sign_out(request, response)
    return response


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
    _require(who, Role.AUDITOR)
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


def _form_problem(e: ValidationError, default: str) -> HTTPException:
    first = e.errors(include_input=False)[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    return HTTPException(422, f"{FIELD_NAMES.get(field, field or default)}填写有误")


@router.post("/professionals/{professional_id}/corrections")
@pages
def correct_registration(request: Request, who: Principal, professional_id: UUID,
                         name: Annotated[str, Form(max_length=50)], series: Annotated[str, Form(max_length=50)],
                         reason: Annotated[str, Form(max_length=500)], decision_ref: Annotated[str, Form(max_length=200)],
                         foreign: Annotated[bool, Form()] = False, computer: Annotated[bool, Form()] = False,
                         own_ce: Annotated[bool, Form()] = False, csrf: Annotated[str, Form()] = "") -> Response:
    """A committee's or auditor's correction of the name or the series settings, with reason and decision."""
    session.check_csrf(request, csrf)
    _require(who, Role.COMMITTEE, Role.AUDITOR)
    try:
        correction = Correction(name=name, series=series, requires_foreign_language_exam=foreign,
                                requires_computer_exam=computer, own_ce_regulation=own_ce, reason=reason,
                                decision_ref=decision_ref)
    except ValidationError as e:
        raise _form_problem(e, "更正") from None
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
    _require(who, Role.EMPLOYER)
    request.app.state.rate_limits.hit("lookups", who)
    svc = request.app.state.services
    try:
        pid = svc.ledger.professional_id_for(normalise_id_number(id_number))
        transfer = Transfer(to_unit=who.unit, effective_on=effective_on)
    except ValidationError as e:
        raise _form_problem(e, "调动") from None
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
    _require(who, Role.EMPLOYER, Role.COMMITTEE)
    return render(request, "register.html", who=who)


@router.post("/register")
@pages
def register(request: Request, who: Principal, id_number: Annotated[str, Form(max_length=40)],
             name: Annotated[str, Form(max_length=50)], series: Annotated[str, Form(max_length=50)],
             employer_unit: Annotated[str, Form(max_length=64)] = "", foreign: Annotated[bool, Form()] = False,
             computer: Annotated[bool, Form()] = False, own_ce: Annotated[bool, Form()] = False,
             csrf: Annotated[str, Form()] = "") -> Response:
    """As over the API: the number is checked, hashed and dropped; to an employer, a person new to
    the ledger and one registered in another unit are answered alike (reading 19)."""
    session.check_csrf(request, csrf)
    _require(who, Role.EMPLOYER, Role.COMMITTEE)
    request.app.state.rate_limits.hit("lookups", who)
    unit = who.unit if who.role is Role.EMPLOYER else employer_unit
    try:
        registration = Registration(id_number=normalise_id_number(id_number), name=name, series=series,
                                    requires_foreign_language_exam=foreign, requires_computer_exam=computer,
                                    own_ce_regulation=own_ce, employer_unit=unit)
    except (ValueError, ValidationError) as e:
        errors = e.errors(include_input=False) if isinstance(e, ValidationError) else []
        field = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else "id_number"
        raise HTTPException(422, f"{FIELD_NAMES.get(field, field)}填写有误") from None
    svc = request.app.state.services
    pid = svc.ledger.professional_id_for(registration.id_number)
    try:
        done = svc.ledger.register(registration, by=who.actor, channel=Channel.WORKBENCH)
    except Conflict as e:
        if who.role is Role.EMPLOYER and svc.ledger.professional(pid, copy=False).employer_unit != who.unit:
            svc.access.record_lookup(pid, found=True, by=who.actor, channel=Channel.WORKBENCH)
            return render(request, "register.html", 202, who=who, accepted=True)
        field = FIELD_NAMES.get(e.field or "", e.field or "登记内容")
        raise HTTPException(409, f"此人已登记，且{field}等与登记内容不同：更正由评审委员会或人社厅办理，调动由调入单位提出") from None
    if who.role is Role.EMPLOYER and done.created:
        return render(request, "register.html", 202, who=who, accepted=True)
    return RedirectResponse(f"/workbench/professionals/{pid}", status_code=303)


# -- importing a spreadsheet ------------------------------------------------------------------


def _import(request: Request, who: Principal, path: Any, kind: str, dry_run: bool) -> Any:
    from ce_ledger.imports.columns import FileKind
    from ce_ledger.imports.sheets import UnreadableFile

    try:
        return request.app.state.services.importer(by=who.actor).run(
            path, kind=FileKind(kind) if kind else None, dry_run=dry_run)
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
    _require(who, Role.COMMITTEE)
    return render(request, "import.html", who=who, file_kinds=FILE_KINDS)


@router.post("/import", response_class=HTMLResponse)
@pages
def import_upload(request: Request, who: Principal, file: Annotated[UploadFile, File()],
                  kind: Annotated[str, Form(pattern="^(|public-courses|certificates|legacy)$")] = "",
                  csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    """Upload, then a dry run: every row checked like an API request, nothing recorded. The file
    waits (an hour at most) for the confirmation."""
    session.check_csrf(request, csrf)
    _require(who, Role.COMMITTEE)
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
    _require(who, Role.COMMITTEE)
    found = request.app.state.uploads.find(upload_id, who.actor)
    if found is None:
        raise HTTPException(404, "上传的文件已过期（保留一小时）或不是您上传的：请重新上传")
    report = _import(request, who, found[0], request.app.state.uploads.kind_of(upload_id), dry_run=False)
    return _import_result(request, who, report, upload_id, found[1])


@router.get("/import/{upload_id}/refused.xlsx")
@pages
def import_refused(request: Request, who: Principal, upload_id: str) -> Response:
    """The rows of an upload that were (or would be) refused, with their column and why."""
    _require(who, Role.COMMITTEE)
    found = request.app.state.uploads.find(upload_id, who.actor)
    if found is None:
        raise HTTPException(404, "上传的文件已过期（保留一小时）或不是您上传的：请重新上传")
    report = _import(request, who, found[0], request.app.state.uploads.kind_of(upload_id), dry_run=True)
    rows = ([p.row, p.column or "", import_problem_in_chinese(p.problem)] for p in report.problems)
    return Response(workbook("未导入的行", ["行号", "列", "原因"], rows), media_type=XLSX,
                    headers={"Content-Disposition": 'attachment; filename="refused-rows.xlsx"'})


# -- CE bases (auditors) ----------------------------------------------------------------------


@router.get("/providers", response_class=HTMLResponse)
@pages
def providers_page(request: Request, who: Principal) -> HTMLResponse:
    """Every CE base the ledger's certificates name, with its standing today, and those it has no
    record of (reading 15: flagged, not excluded)."""
    _require(who, Role.AUDITOR)
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
    _require(who, Role.AUDITOR)
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
    _require(who, Role.AUDITOR)
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
    _require(who, Role.AUDITOR)
    try:
        change = ProviderStatusChange(status=status, effective_on=effective_on, decision_ref=decision_ref,
                                      deadline=deadline or None, reason=reason or None)
    except ValidationError as e:
        first = e.errors(include_input=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise HTTPException(422, f"{FIELD_NAMES.get(field, field or '决定')}填写有误") from None
    request.app.state.services.ledger.change_provider_status(code, change, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/providers/{code}", status_code=303)


@router.get("/programmes", response_class=HTMLResponse)
@pages
def programmes_page(request: Request, who: Principal, year: Annotated[int, Query(ge=2000, le=2100)] = 2019) -> HTMLResponse:
    """The knowledge-update programmes of a year (§2): classes and trainees held against planned, by
    programme and by kind against the notice's targets."""
    _require(who, Role.COMMITTEE, Role.AUDITOR)
    from projections.programmes import programme_report

    report = programme_report(request.app.state.services.view, year)
    return render(request, "programmes.html", who=who, report=report, year=year, programme_kinds=PROGRAMME_KINDS)


# -- finding people by name ------------------------------------------------------------------

FOUND_AT_MOST = 50


@router.get("/search", response_class=HTMLResponse)
@pages
def search(request: Request, who: Principal, q: Annotated[str, Query(min_length=1, max_length=20)]) -> HTMLResponse:
    """By part of a name, within what the role may see: an employer its own unit, a committee or an
    auditor everyone; ordered by pinyin. Counted against the lookup limit, like a lookup by number."""
    _require(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("lookups", who)
    svc = request.app.state.services
    found = svc.view.search_people(q.strip(), who.unit if who.role is Role.EMPLOYER else None, FOUND_AT_MOST + 1)
    more = len(found) > FOUND_AT_MOST
    found = sorted(found[:FOUND_AT_MOST], key=lambda r: (pinyin(r["name"]), r["professional_id"]))
    return render(request, "search.html", who=who, q=q, found=found, more=more)


# -- the claims queue ------------------------------------------------------------------------

PER_PAGE = 50


@router.get("/queue", response_class=HTMLResponse)
@pages
def queue(request: Request, who: Principal, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
          done: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    """Claims awaiting a decision, oldest first: an employer's own unit, a committee's everyone."""
    _require(who, Role.EMPLOYER, Role.COMMITTEE)
    svc = request.app.state.services
    rows, total = svc.view.pending_claims(who.unit if who.role is Role.EMPLOYER else None, PER_PAGE,
                                          (page - 1) * PER_PAGE)
    for row in rows:  # what the claim says, as on the certificate (a page of records, each cached)
        activity = svc.ledger.professional(UUID(row["professional_id"]), copy=False).activities.get(UUID(row["activity_id"]))
        row["what"] = in_chinese(what(activity), activity.recorded.describe(), ACTIVITIES) if activity else ""
        row["hours"] = _hours(Decimal(row["hours"]))
    return render(request, "queue.html", who=who, rows=rows, total=total, page=page,
                  pages=max(1, -(-total // PER_PAGE)), done=done)


@router.get("/queue.xlsx")
@pages
def queue_xlsx(request: Request, who: Principal) -> Response:
    """The claims awaiting a decision (the role's scope), every page, as a spreadsheet."""
    _require(who, Role.EMPLOYER, Role.COMMITTEE)
    view = request.app.state.services.view
    unit = who.unit if who.role is Role.EMPLOYER else None

    def rows():
        offset = 0
        while True:  # page by page: the sheet is written as the rows come
            page, _ = view.pending_claims(unit, 1000, offset)
            for r in page:
                yield [r["name"], r["masked_id"], r["employer_unit"], r["occurred_on"], r["provider_code"],
                       _hours(Decimal(r["hours"])), r["professional_id"], r["activity_id"]]
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
    _require(who, Role.EMPLOYER, Role.COMMITTEE)
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
            ("公需课", _hours(standing.required.public_hours), _hours(standing.credited.public_hours), _hours(standing.shortfall.public_hours)),
            ("总学时", _hours(standing.required.total_hours), _hours(standing.credited.total_hours), _hours(standing.shortfall.total_hours)),
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
    _require(who, Role.PROFESSIONAL)
    if who.professional_id != professional_id:
        raise HTTPException(403, "只能为本人申报")
    svc = request.app.state.services
    try:
        details = SpecialtyCredit(provider_code=provider_code, certificate_no=certificate_no, route=route,
                                  subject=subject, hours=hours, completed_on=completed_on)
    except ValidationError as e:
        first = e.errors(include_input=False)[0]
        field = FIELD_NAMES.get(str(first["loc"][0]) if first["loc"] else "", "申报")
        raise HTTPException(422, f"{field}填写有误") from None
    svc.ledger.record(professional_id, details, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/professionals/{professional_id}", status_code=303)


@router.get("/professionals/{professional_id}/activities/{activity_id}/void", response_class=HTMLResponse)
@pages
def void_page(request: Request, who: Principal, professional_id: UUID, activity_id: UUID) -> HTMLResponse:
    """An auditor strikes out an activity (a forged certificate, say) with the reason and the decision."""
    _require(who, Role.AUDITOR)
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
    _require(who, Role.AUDITOR)
    try:
        voiding = Voiding(reason=reason, decision_ref=decision_ref)
    except ValidationError as e:
        first = e.errors(include_input=False)[0]
        raise HTTPException(422, f"{FIELD_NAMES.get(str(first['loc'][0]), '作废')}填写有误：须填写") from None
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
        first = e.errors(include_input=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise HTTPException(422, f"{FIELD_NAMES.get(field, field or '填写内容')}填写有误") from None
    await run_in_threadpool(lambda: svc.ledger.record(professional_id, details, by=who.actor, channel=Channel.WORKBENCH))
    return RedirectResponse(f"/workbench/professionals/{professional_id}", status_code=303)


TIMELINE_PAGE = 100  # a record of 1,500 activities is fifteen pages, not one of 114,000 pixels


def _claimed(params: Any, activity: Any) -> tuple[str, str]:
    """An activity's hours in the notice's units, and how (days × 6, hours taught × 3, 40, 10 a
    module): the same figure for every kind, where the row used to show hours taught or nothing."""
    if params is None:
        return "—", ""
    hours, working = claim(params, activity)
    return _hours(hours), in_chinese(working)


@router.post("/professionals/{professional_id}/verdicts")
@pages
def issue(request: Request, who: Principal, professional_id: UUID, level: Annotated[Level, Form()],
          year: Annotated[int, Form(ge=2000, le=2100)], csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    _require(who, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("verdicts", who)
    issued = request.app.state.services.ledger.issue_verdict(professional_id, level, year, by=who.actor, channel=Channel.WORKBENCH)
    return RedirectResponse(f"/workbench/verdicts/{issued.originator_id}", status_code=303)


# -- verdicts -------------------------------------------------------------------------------


@router.get("/verdicts/{verdict_id}", response_class=HTMLResponse)
@pages
def verdict(request: Request, who: Principal, verdict_id: UUID) -> HTMLResponse:
    svc = request.app.state.services
    issued = svc.ledger.verdict(verdict_id)
    may_see(svc, who, issued.professional_id)
    name = svc.ledger.professional(issued.professional_id, copy=False).name
    return render(request, "verdict.html", who=who, issued=issued, v=issued.verdict, name=name, changed=set(),
                  may_replay=who.role in (Role.COMMITTEE, Role.AUDITOR), warning=history_warning(svc, issued.professional_id),
                  superseded=svc.ledger.superseded_by(issued.verdict.rule_set.id, issued.verdict.evaluation_year))


@router.post("/verdicts/{verdict_id}/replay")
@pages
def replay_form(request: Request, who: Principal, verdict_id: UUID, csrf: Annotated[str, Form()] = "") -> Response:
    """The button's target: a replay records nothing, so its result lives at a GET address that can
    be bookmarked and opened again."""
    session.check_csrf(request, csrf)
    return RedirectResponse(f"/workbench/verdicts/{verdict_id}/replay", status_code=303)


@router.get("/verdicts/{verdict_id}/replay", response_class=HTMLResponse)
@pages
def replay(request: Request, who: Principal, verdict_id: UUID) -> HTMLResponse:
    _require(who, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("replays", who)
    svc = request.app.state.services
    done = svc.audit.replay(verdict_id)
    return render(request, "replay.html", who=who, replay=done,
                  warning=history_warning(svc, svc.ledger.verdict(verdict_id).professional_id))


# -- a unit's staff -------------------------------------------------------------------------


STAFF_PAGE = 100


@router.get("/unit.xlsx")
@pages
def unit_xlsx(request: Request, who: Principal, unit: Annotated[str, Query(max_length=64)],
              level: Annotated[Level, Query()] = Level.INTERMEDIATE, year: Annotated[int, Query(ge=2000, le=2100)] = 2019,
              everyone: Annotated[bool, Query()] = False) -> Response:
    """The unit's standing as a spreadsheet (the same rows as the page, every page)."""
    _require(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
    if who.role is Role.EMPLOYER and unit != who.unit:
        raise HTTPException(403, f"用人单位 {who.unit} 只能查看本单位人员")
    everybody = request.app.state.services.totals.unit(unit, level, year)
    rows = ([s.name, s.masked_id, s.series, _hours(s.credited.public_hours), _hours(s.credited.total_hours),
             _hours(s.shortfall.public_hours), _hours(s.shortfall.total_hours), "达标" if s.meets else "未达标"]
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
    _require(who, Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR)
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
                  columns=[(k, label, num) for k, (_, label, num) in SORTS.items()])


# -- the assessment form ---------------------------------------------------------------------


PRINT_DATE = "__PRINT_DATE__"  # filled when the form is printed: the PDF is kept without it


def _form_html(request: Request, who: Principal, professional_id: UUID, level: Level, year: int,
               part: int) -> tuple[str, str]:
    svc = request.app.state.services
    may_see(svc, who, professional_id)
    form = assessment_form(svc.ledger, professional_id, level, year, part, svc.settings.form_lines_per_part)
    check_url = f"{svc.settings.public_url.rstrip('/')}/workbench/check/{form.issued.originator_id}?code={form.code}"
    html = TEMPLATES.get_template("assessment_form.html").render(
        f=form, kinds=KINDS, zone=ZoneInfo(svc.settings.timezone), warning=history_warning(svc, professional_id),
        check_url=check_url, qr=segno.make(check_url, error="m").svg_inline(scale=1.6), print_date=PRINT_DATE,
    )
    return html, f"assessment-form-{form.issued.originator_id}" + (f"-{part}" if form.parts > 1 else "") + ".pdf"


async def form_response(request: Request, who: Principal, professional_id: UUID, level: Level, year: int, pdf: bool,
                        part: int = 1) -> Response:
    """The form as HTML, or as PDF from the renderer processes (api/workbench/pdf.py). Async: the
    ledger's reads run in the thread pool, and the wait for a renderer holds none of its threads."""
    html, name = await run_in_threadpool(_form_html, request, who, professional_id, level, year, part)
    today = datetime.now(ZoneInfo(request.app.state.services.settings.timezone)).date().isoformat()
    if not pdf:
        return HTMLResponse(html.replace(PRINT_DATE, today))
    data = await request.app.state.pdf_forms.pdf_async(html, fill={PRINT_DATE: today})
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/check/{verdict_id}", response_class=HTMLResponse)
def check_form(request: Request, verdict_id: UUID, code: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    """Public, no sign-in: whoever holds an assessment form checks it is genuine — the verdict's
    result, the masked name and ID number, the fingerprint, and whether it still reproduces.
    Nothing else about the person. The code printed on the form must match; replays are limited
    per client address."""
    svc = request.app.state.services
    request.app.state.rate_limits.hit_key("replays", f"check:{request.client.host if request.client else '-'}")
    try:
        issued = svc.ledger.verdict(verdict_id)
    except LedgerError:
        issued = None
    if issued is None or code.replace("-", "").upper() != issued.fingerprint[:12].upper():
        return render(request, "check.html", 404, found=False)
    replay = svc.audit.replay(verdict_id)
    person = svc.ledger.professional(issued.professional_id, copy=False)
    name = person.name[:1] + "*" * (len(person.name) - 1)
    return render(request, "check.html", found=True, v=issued.verdict, issued=issued, name=name,
                  masked_id=person.registration.masked_id, reproduced=replay.reproduced,
                  superseded=svc.ledger.superseded_by(issued.verdict.rule_set.id, issued.verdict.evaluation_year))


@router.get("/professionals/{professional_id}/assessment-form")
@pages
async def assessment_form_page(request: Request, who: Principal, professional_id: UUID,
                               level: Annotated[Level, Query()] = Level.INTERMEDIATE,
                               year: Annotated[int, Query(ge=2000, le=2100)] = 2019,
                               format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
                               part: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    request.app.state.rate_limits.hit("forms", who)
    return await form_response(request, who, professional_id, level, year, format == "pdf", part)
