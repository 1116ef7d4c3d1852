"""Verdicts: issued by committees and auditors, recorded, and readable again."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from ce_ledger.domain.verdicts import VerdictIssued
from api.access import Principal, Role
from api.deps import Principal_, Services_, may_see, require
from api.exact import ExactRoute
from api.problems import responses
from api.schemas import VerdictOut, VerdictRequest

router = APIRouter(tags=["verdicts"], route_class=ExactRoute)


def _out(issued: VerdictIssued) -> VerdictOut:
    return VerdictOut(
        **issued.verdict.model_dump(),
        verdict_id=issued.originator_id,
        issued_by=issued.issued_by,
        issued_at=issued.recorded_at,
        fingerprint=issued.fingerprint,
    )


@router.post(
    "/v1/professionals/{professional_id}/verdicts", status_code=201, response_model=VerdictOut,
    responses=responses(401, 403, 404, 422),
)
def issue(
    professional_id: UUID,
    body: VerdictRequest,
    svc: Services_,
    who: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))],
) -> VerdictOut:
    """Evaluate the record now under the rule-set in force (or the one named) and record the verdict."""
    issued = svc.ledger.issue_verdict(
        professional_id, body.level, body.evaluation_year, by=who.actor, rule_set=body.rule_set
    )
    return _out(issued)


@router.get("/v1/verdicts/{verdict_id}", response_model=VerdictOut, responses=responses(401, 403, 404))
def read(verdict_id: UUID, svc: Services_, who: Principal_) -> VerdictOut:
    """A recorded verdict, as issued."""
    issued = svc.ledger.verdict(verdict_id)
    may_see(svc, who, issued.professional_id)
    return _out(issued)
