"""What every workbench page shares: the router, the templates and their filters, rendering,
the sign-in wrapper (`pages`), role checks and the history warning."""

from __future__ import annotations

import functools
import inspect
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from fastapi import APIRouter, HTTPException, Request
from pypinyin import lazy_pinyin
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

from ce_ledger.access import Principal, Role
from api.workbench import session
from api.labels import ACTIVITY_KINDS as KINDS
from api.labels import ACTIVITIES, BREAKS, FIELD_NAMES, error_in_chinese, CHANNELS, HAPPENED, LEVELS, ROLES, STATUSES, in_chinese, reading_in_chinese
from api.problems import status_of
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.values import canonical


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


def hours_text(value: Decimal | None) -> str:
    return "—" if value is None else canonical(value)


@pass_context
def _local(context: Any, moment: Any) -> Any:
    """A recorded time (UTC) as the ledger's users read it, in CE_LEDGER_TIMEZONE."""
    return moment.astimezone(context["zone"]).strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else moment


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("api.workbench"), autoescape=select_autoescape(default=True))
    env.filters["h"] = hours_text
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


def require_role(who: Principal, *roles: Role) -> None:
    if who.role not in roles:
        raise HTTPException(403, f"角色 {ROLES[who.role.value]} 无权进行此操作")




def form_problem(error: Exception, default: str) -> HTTPException:
    """A form the domain refused, as a 422 naming the first field in Chinese (``default`` names the
    form, or the field, when the error names none; a ValueError names none)."""
    errors = error.errors(include_input=False) if isinstance(error, ValidationError) else []
    field = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else default
    return HTTPException(422, f"{FIELD_NAMES.get(field, field)}填写有误")
