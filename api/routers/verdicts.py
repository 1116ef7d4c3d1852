"""Verdicts: issued by committees and auditors, recorded, and readable again."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from ce_ledger.domain.values import Channel
from ce_ledger.domain.verdicts import VerdictIssued
from ce_ledger.access import Principal, Role
from api.deps import Principal_, Services_, limited, may_see, require
from api.exact import ExactRoute
from api.labels import verdict_in_chinese
from api.problems import responses
from api.schemas import VerdictEntry, VerdictList, VerdictOut, VerdictRequest, answer
from ce_ledger.audit.replay import Replay

router = APIRouter(tags=["verdicts"], route_class=ExactRoute)


def _out(svc, issued: VerdictIssued) -> VerdictOut:
    v = issued.verdict
    return VerdictOut(
        # Its parts as they are (validated models are taken as they are, not dumped and checked again).
        **{name: getattr(v, name) for name in type(v).model_fields},
        verdict_id=issued.originator_id,
        issued_by=issued.issued_by,
        issued_at=issued.recorded_at,
        fingerprint=issued.fingerprint,
        pins=list(issued.pins),
        superseded_by=svc.ledger.superseded_by(v.rule_set.id, v.evaluation_year),
        in_chinese=verdict_in_chinese(v),
    )


@router.post(
    "/v1/professionals/{professional_id}/verdicts", status_code=201, response_model=VerdictOut,
    responses=responses(401, 403, 404, 409, 422, 429),
)
def issue(
    professional_id: UUID,
    body: VerdictRequest,
    svc: Services_,
    who: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))],
    _: Annotated[None, Depends(limited("verdicts"))],
) -> Response:
    """Evaluate the record now under the rule-set in force and record the verdict.

    Naming another published rule-set is refused (422 on `rule_set`): older ones serve only
    replays of the verdicts issued under them (reading 17). A record whose stored history does
    not verify is refused (409) naming the stream and the break."""
    issued = svc.ledger.issue_verdict(
        professional_id, body.level, body.evaluation_year, by=who.actor, rule_set=body.rule_set, channel=Channel.API
    )
    return answer(_out(svc, issued), status_code=201)


@router.get("/v1/verdicts/{verdict_id}", response_model=VerdictOut, responses=responses(401, 403, 404))
def read(verdict_id: UUID, svc: Services_, who: Principal_) -> Response:
    """A recorded verdict, as issued."""
    issued = svc.ledger.verdict(verdict_id)
    may_see(svc, who, issued.professional_id)
    return answer(_out(svc, issued))


@router.get(
    "/v1/professionals/{professional_id}/verdicts", response_model=VerdictList, responses=responses(401, 403, 404)
)
def listed(professional_id: UUID, svc: Services_, who: Principal_) -> VerdictList:
    """Every verdict issued on this record, oldest first."""
    may_see(svc, who, professional_id)
    return VerdictList(
        professional_id=professional_id,
        verdicts=[
            VerdictEntry(
                verdict_id=f.verdict_id, issued_at=f.recorded_at, level=f.level, evaluation_year=f.evaluation_year,
                rule_set_id=f.rule_set_id, passed=f.passed, fingerprint=f.fingerprint,
                superseded_by=svc.ledger.superseded_by(f.rule_set_id, f.evaluation_year),
            )
            for f in svc.ledger.verdicts_of(professional_id)
        ],
    )


@router.post("/v1/verdicts/{verdict_id}/replay", response_model=Replay, responses=responses(401, 403, 404, 429))
def replay(
    verdict_id: UUID,
    svc: Services_,
    _: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))],
    __: Annotated[None, Depends(limited("replays"))],
) -> Replay:
    """Re-evaluate the verdict from the record versions it pinned, under its own rule-set.

    `reproduced` is true only when the recomputed fingerprint equals the recorded one and
    the history it read is intact; `changes_since` is the same evaluation on today's record.
    """
    return svc.audit.replay(verdict_id)
