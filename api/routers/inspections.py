"""The Department's inspection over HTTP (§3(5)): spot checks, findings, sanctions.

Auditors draw and record; committees see everything recorded; an employer sees the findings
and sanctions that concern its own unit and staff.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from ce_ledger.access import Principal, Role
from ce_ledger.audit.replay import Replay
from ce_ledger.domain.inspection import (
    Finding, FindingKind, Population, Sanction, SanctionImposed, SanctionTarget, SpotCheckDrawn, SpotCheckRequest,
    Stratum,
)
from ce_ledger.domain.values import Channel, Value, canonical_code
from api.deps import Services_, limited, record_unit, require
from api.exact import ExactRoute
from api.problems import responses

router = APIRouter(tags=["inspection"], route_class=ExactRoute)
AUDITOR = Depends(require(Role.AUDITOR))
READERS = Depends(require(Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR))


class SpotCheckOut(Value):
    spot_check_id: UUID
    population: Population
    size: int | None
    rate: str | None
    seed: str
    position: int
    algorithm: str
    weighted: bool
    strata: tuple[Stratum, ...]
    sample: tuple[UUID, ...]
    drawn_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, d: SpotCheckDrawn) -> SpotCheckOut:
        return cls(spot_check_id=d.originator_id, population=d.population, size=d.size,
                   rate=None if d.rate is None else str(d.rate), seed=d.seed, position=d.position,
                   algorithm=d.algorithm, weighted=d.weighted, strata=d.strata, sample=d.sample, drawn_by=d.drawn_by,
                   recorded_at=d.recorded_at)


class SignalOut(Value):
    code: str
    figures: dict[str, str]


class FindingOut(Value):
    spot_check_id: UUID
    verdict_id: UUID
    finding: FindingKind
    reason: str
    decision_ref: str
    found_by: str
    recorded_at: datetime


class SampledVerdict(Value):
    verdict_id: UUID
    professional_id: UUID
    signals: list[SignalOut]
    findings: list[FindingOut]
    sanctions: list[SanctionOut]
    replay: Replay | None


class SanctionOut(Sanction):
    imposed_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, s: SanctionImposed) -> SanctionOut:
        return cls(**{k: getattr(s, k) for k in Sanction.model_fields}, imposed_by=s.imposed_by,
                   recorded_at=s.recorded_at)


SampledVerdict.model_rebuild()


def _finding(f) -> FindingOut:
    return FindingOut(spot_check_id=f.spot_check_id, verdict_id=f.verdict_id, finding=f.finding, reason=f.reason,
                      decision_ref=f.decision_ref, found_by=f.found_by, recorded_at=f.recorded_at)


@router.post("/v1/spot-checks", status_code=201, response_model=SpotCheckOut,
             responses=responses(401, 403, 422, 429))
def draw(body: SpotCheckRequest, svc: Services_, who: Annotated[Principal, AUDITOR],
         _: Annotated[None, Depends(limited("replays"))]) -> SpotCheckOut:
    """Draw a spot check of recorded verdicts and record it (docs/inspection.md gives the procedure,
    so that anyone can draw the same sample again from the same seed and log position)."""
    return SpotCheckOut.of(svc.ledger.draw_spot_check(body, svc.view, by=who.actor, channel=Channel.API))


@router.get("/v1/spot-checks", response_model=list[SpotCheckOut], responses=responses(401, 403))
def spot_checks(svc: Services_, _: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))],
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[SpotCheckOut]:
    return [SpotCheckOut.of(svc.ledger.spot_check(f.spot_check_id)) for f in svc.ledger.spot_checks(limit)]


@router.get("/v1/spot-checks/{spot_check_id}", response_model=SpotCheckOut, responses=responses(401, 403, 404))
def spot_check(spot_check_id: UUID, svc: Services_,
               _: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))]) -> SpotCheckOut:
    return SpotCheckOut.of(svc.ledger.spot_check(spot_check_id))


@router.get("/v1/spot-checks/{spot_check_id}/verdicts/{verdict_id}", response_model=SampledVerdict,
            responses=responses(401, 403, 404, 422, 429))
def sampled_verdict(spot_check_id: UUID, verdict_id: UUID, svc: Services_, _: Annotated[Principal, AUDITOR],
                    __: Annotated[None, Depends(limited("replays"))],
                    replay: Annotated[bool, Query(description="replay it too (expensive)")] = True) -> SampledVerdict:
    """A sampled verdict: its risk signals, findings, sanctions touching it, and (by default) its replay."""
    drawn = svc.ledger.spot_check(spot_check_id)
    if verdict_id not in drawn.sample:
        raise HTTPException(404, f"verdict {verdict_id} is not in this spot check's sample")
    issued = svc.ledger.verdict(verdict_id)
    return SampledVerdict(
        verdict_id=verdict_id, professional_id=issued.professional_id,
        signals=[SignalOut(code=s.code, figures=s.figures) for s in svc.ledger.verdict_signals(verdict_id)],
        findings=[_finding(f) for f in svc.ledger.findings_of(verdict_id)],
        sanctions=[SanctionOut.of(s) for s in svc.ledger.sanctions_touching(issued.professional_id)],
        replay=svc.audit.replay(verdict_id) if replay else None,
    )


@router.post("/v1/spot-checks/{spot_check_id}/findings", status_code=201, response_model=FindingOut,
             responses={200: {"model": FindingOut, "description": "a retry: the same finding"},
                        **responses(401, 403, 404, 422)})
def record_finding(spot_check_id: UUID, body: Finding, svc: Services_, response: Response,
                   who: Annotated[Principal, AUDITOR]) -> FindingOut:
    """Record a finding on one sampled verdict: upheld, verdict wrong, or fraud suspected."""
    recorded, created = svc.ledger.record_finding(spot_check_id, body, by=who.actor, channel=Channel.API)
    if not created:
        response.status_code = 200
    return _finding(recorded)


@router.get("/v1/verdicts/{verdict_id}/findings", response_model=list[FindingOut], responses=responses(401, 403, 404))
def findings(verdict_id: UUID, svc: Services_, who: Annotated[Principal, READERS]) -> list[FindingOut]:
    """The findings recorded on a verdict (an employer: on its own staff's verdicts)."""
    issued = svc.ledger.verdict(verdict_id)
    if who.role is Role.EMPLOYER and record_unit(svc, issued.professional_id) != who.unit:
        raise HTTPException(403, f"employer of unit {who.unit} sees its own staff's verdicts only")
    return [_finding(f) for f in svc.ledger.findings_of(verdict_id)]


@router.post("/v1/sanctions", status_code=201, response_model=SanctionOut,
             responses={200: {"model": SanctionOut, "description": "a retry: the same sanction"},
                        **responses(401, 403, 404, 422)})
def impose(body: Sanction, svc: Services_, response: Response, who: Annotated[Principal, AUDITOR]) -> SanctionOut:
    """Record a sanction against a person (their record's id), a unit or a CE base. It changes no hours."""
    imposed, created = svc.ledger.impose_sanction(body, svc.view, by=who.actor, channel=Channel.API)
    if not created:
        response.status_code = 200
    return SanctionOut.of(imposed)


@router.get("/v1/sanctions", response_model=list[SanctionOut], responses=responses(401, 403, 422))
def sanctions(svc: Services_, who: Annotated[Principal, READERS], target_kind: SanctionTarget,
              target: Annotated[str, Query(min_length=1, max_length=64)]) -> list[SanctionOut]:
    """The sanctions against one person, unit or CE base (an employer: its own unit and staff)."""
    if who.role is Role.EMPLOYER:
        if target_kind is SanctionTarget.UNIT and canonical_code(target) != canonical_code(who.unit or ""):
            raise HTTPException(403, f"employer of unit {who.unit} sees its own unit's sanctions only")
        if target_kind is SanctionTarget.PROFESSIONAL:
            try:
                pid = UUID(target)
            except ValueError:
                raise HTTPException(422, "target: a professional is named by their record's id") from None
            if record_unit(svc, pid) != who.unit:
                raise HTTPException(403, f"employer of unit {who.unit} sees its own staff's sanctions only")
    return [SanctionOut.of(s) for s in svc.ledger.sanctions_of(target_kind, target)]
