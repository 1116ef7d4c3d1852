"""The assessment form (HTML, PDF) and its public check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from ce_ledger.access import Principal
from api.deps import may_see
from api.labels import ACTIVITY_KINDS as KINDS
from api.workbench.form import assessment_form
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.values import Level
from api.workbench.pages.common import (
    TEMPLATES, history_warning, pages, render, router, unit_names,
)


# -- the assessment form ---------------------------------------------------------------------


PRINT_DATE = "__PRINT_DATE__"  # filled when the form is printed: the PDF is kept without it


def _form_html(request: Request, who: Principal, professional_id: UUID, level: Level, year: int,
               part: int) -> tuple[str, str]:
    import segno  # the QR code: only a printed form has one (a server start need not import it)

    svc = request.app.state.services
    may_see(svc, who, professional_id)
    form = assessment_form(svc.ledger, professional_id, level, year, part, svc.settings.form_lines_per_part)
    check_url = f"{svc.settings.public_url.rstrip('/')}/workbench/check/{form.issued.originator_id}?code={form.code}"
    html = TEMPLATES.get_template("assessment_form.html").render(
        f=form, kinds=KINDS, zone=ZoneInfo(svc.settings.timezone), warning=history_warning(svc, professional_id),
        unit_label=unit_names(request).label, check_url=check_url, qr=segno.make(check_url, error="m").svg_inline(scale=1.6), print_date=PRINT_DATE,
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
