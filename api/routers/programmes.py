"""Programmes of the knowledge-update project (§2): plans, and the year's progress report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.deps import Principal_, Services_, require
from api.exact import ExactRoute
from api.problems import responses
from api.schemas import ProgrammeOut
from ce_ledger.domain.programme import Programme
from ce_ledger.domain.values import CODE_PATTERN
from projections.programmes import ProgrammeReport, programme_report

router = APIRouter(prefix="/v1/programmes", tags=["programmes"], route_class=ExactRoute)


@router.post(
    "", status_code=201, response_model=ProgrammeOut,
    responses={200: {"model": ProgrammeOut, "description": "a retry: the same plan"}, **responses(401, 403, 409, 422)},
)
def plan(
    body: Programme, svc: Services_, who: Annotated[Principal, Depends(require(Role.AUDITOR))], response: Response
) -> ProgrammeOut:
    """Record a programme's plan (the Department runs the project: auditors)."""
    planned, created = svc.ledger.plan_programme(body, by=who.actor, channel=Channel.API)
    if not created:
        response.status_code = 200
    return ProgrammeOut(**planned.programme().model_dump(), planned_by=planned.planned_by, recorded_at=planned.recorded_at)


@router.get("/report", response_model=ProgrammeReport, responses=responses(401, 403, 422))
def report(
    svc: Services_,
    _: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))],
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> ProgrammeReport:
    """Each programme's planned vs held classes and trainees, and the four kinds against §2's targets."""
    return programme_report(svc.view, year)


@router.get("/{code}", response_model=ProgrammeOut, responses=responses(401, 404))
def read(code: Annotated[str, Path(pattern=CODE_PATTERN)], svc: Services_, _: Principal_) -> ProgrammeOut:
    planned = svc.ledger.programme(code)
    return ProgrammeOut(**planned.programme().model_dump(), planned_by=planned.planned_by, recorded_at=planned.recorded_at)
