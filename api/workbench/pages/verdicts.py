"""A verdict and its replay."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ce_ledger.access import Principal, Role
from api.deps import may_see
from api.workbench import session
from api.workbench.pages.common import (
    history_warning, pages, render, require_role, router,
)


# -- verdicts -------------------------------------------------------------------------------


@router.get("/verdicts/{verdict_id}", response_class=HTMLResponse)
@pages
def verdict(request: Request, who: Principal, verdict_id: UUID) -> HTMLResponse:
    svc = request.app.state.services
    issued = svc.ledger.verdict(verdict_id)
    may_see(svc, who, issued.professional_id)
    name = svc.ledger.professional(issued.professional_id, copy=False).name
    inspection = who.role is not Role.PROFESSIONAL  # employers see it for their own staff (may_see above)
    return render(request, "verdict.html", who=who, issued=issued, v=issued.verdict, name=name, changed=set(),
                  findings=svc.ledger.findings_of(verdict_id) if inspection else [],
                  sanctions=svc.ledger.sanctions_touching(issued.professional_id) if inspection else [],
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
    require_role(who, Role.COMMITTEE, Role.AUDITOR)
    request.app.state.rate_limits.hit("replays", who)
    svc = request.app.state.services
    done = svc.audit.replay(verdict_id)
    return render(request, "replay.html", who=who, replay=done,
                  warning=history_warning(svc, svc.ledger.verdict(verdict_id).professional_id))
