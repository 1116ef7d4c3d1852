"""What every workbench page shares: the router, the templates and their filters, rendering,
the sign-in wrapper (`pages`), role checks and the history warning."""

from __future__ import annotations

import functools
import inspect
import time
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

from ce_ledger.access import Principal, Role
from api.workbench import session
from api.labels import ACTIVITY_KINDS as KINDS
from api.labels import ACTIVITIES, BREAKS, FINDINGS, SANCTION_TARGETS, actor_in_chinese, FIELD_NAMES, error_in_chinese, CHANNELS, HAPPENED, LEVELS, ROLES, STATUSES, in_chinese, reading_in_chinese
from api.problems import status_of
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.values import canonical, canonical_code


router = APIRouter(prefix="/workbench", include_in_schema=False)

def pinyin(name: str) -> list[str]:
    """How Chinese names are ordered for people (by pinyin, not by code point). pypinyin is imported
    on first use: its dictionaries cost a third of a second at every server and command start."""
    from pypinyin import lazy_pinyin

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


class UnitNames:
    """Units' names for pages (the unit register, read from the view), kept a minute: a page of
    fifty rows from a few units asks the view a few times, and a rename shows within the minute."""

    def __init__(self, view: Any, seconds: float = 60, most: int = 4096):
        self.view, self.seconds, self.most = view, seconds, most
        self._known: dict[str, tuple[float, str | None]] = {}

    def name(self, code: str) -> str | None:
        key = canonical_code(code)
        found = self._known.get(key)
        now = time.monotonic()
        if found is None or found[0] < now:
            if len(self._known) >= self.most:
                self._known.clear()
            found = self._known[key] = (now + self.seconds, self.view.unit_names([key]).get(key))
        return found[1]

    def forget(self, code: str | None = None) -> None:
        """After a naming through this workbench: shown at once (others' show within the minute)."""
        if code is None:
            self._known.clear()
        else:
            self._known.pop(canonical_code(code), None)

    def label(self, code: str | None) -> str:
        """A unit as people read it: its name, and the code after it; the code alone if unnamed."""
        if not code:
            return "—"
        name = self.name(code)
        return f"{name}（{code}）" if name else code


def unit_names(request: Request) -> UnitNames:
    return request.app.state.unit_names  # made at each start of the app (api/app.py)


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
    env.filters["actor"] = actor_in_chinese  # who caused an event, in words (api/labels.py)
    return env


TEMPLATES = _environment()


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    who = context.get("who")
    units = unit_names(request)
    if who is not None:
        context.setdefault("csrf", session.csrf_token(request))
        context["who_label"] = f"{ROLES[who.role.value]} · {who.name}" + (f" · {units.label(who.unit)}" if who.unit else "")
    html = TEMPLATES.get_template(template).render(
        levels=LEVELS, kinds=KINDS, sanction_targets=SANCTION_TARGETS, finding_words=FINDINGS, statuses=STATUSES, happened=HAPPENED, channels=CHANNELS, breaks=BREAKS,
        zone=ZoneInfo(request.app.state.services.settings.timezone), unit_label=units.label, **context,
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
