"""The unit register: units' names beside their codes, and how many staff each has."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from ce_ledger.access import Principal, Role
from ce_ledger.domain.values import CODE_PATTERN, Channel, Text, Value, canonical_code
from api.deps import Services_, require
from api.exact import ExactRoute
from api.problems import responses

router = APIRouter(prefix="/v1/units", tags=["units"], route_class=ExactRoute)


class UnitName(Value):
    name: Text


class UnitOut(Value):
    code: str
    name: str | None
    staff: int


class UnitNamedOut(Value):
    code: str
    name: str
    named_by: str
    recorded_at: datetime


class UnitPage(Value):
    units: list[UnitOut]
    total: int


def _own(who: Principal, code: str) -> None:
    if who.role is Role.EMPLOYER and canonical_code(code) != canonical_code(who.unit or ""):
        raise HTTPException(403, f"employer of unit {who.unit} may name its own unit only")


@router.get("", response_model=UnitPage, responses=responses(401, 403, 422))
def units(
    svc: Services_,
    who: Annotated[Principal, Depends(require(Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR))],
    q: Annotated[str | None, Query(max_length=100, description="part of a unit's name or code")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UnitPage:
    """Units with their names and staff counts (an employer sees its own unit only)."""
    found = [UnitOut(**u) for u in svc.view.units()]
    if who.role is Role.EMPLOYER:
        found = [u for u in found if u.code == canonical_code(who.unit or "")]
    if q:
        needle = q.strip().casefold()
        found = [u for u in found if needle in u.code.casefold() or needle in (u.name or "").casefold()]
    return UnitPage(units=found[offset : offset + limit], total=len(found))


@router.put(
    "/{code}", status_code=201, response_model=UnitNamedOut,
    responses={200: {"model": UnitNamedOut, "description": "the unit has this name already: nothing recorded"},
               **responses(401, 403, 422)},
)
def name(
    code: Annotated[str, Path(pattern=CODE_PATTERN)],
    body: UnitName,
    svc: Services_,
    response: Response,
    who: Annotated[Principal, Depends(require(Role.EMPLOYER, Role.COMMITTEE, Role.AUDITOR))],
) -> UnitNamedOut:
    """Give a unit its name, or a new one (a renamed unit): an event on the unit's stream."""
    _own(who, code)
    named, created = svc.ledger.name_unit(code, body.name, by=who.actor, channel=Channel.API)
    if not created:
        response.status_code = 200
    return UnitNamedOut(code=named.code, name=named.name, named_by=named.named_by, recorded_at=named.recorded_at)
