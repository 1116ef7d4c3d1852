"""Dependencies: the services, who is asking, and what they may do."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ce_ledger.access import Principal, Role
from ce_ledger.bootstrap import Services
from ce_ledger.domain.commands import Registration
from ce_ledger.domain.errors import Conflict
from ce_ledger.domain.values import Channel
from ce_ledger.services.records import Registered

bearer = HTTPBearer(auto_error=False, description="a token from `ce-ledger tokens issue`")


# The light dependencies are ``async``: a sync one costs a hop through the thread pool
# each, and those hops were most of a totals request's time.


async def services(request: Request) -> Services:
    return request.app.state.services


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    access = request.app.state.access
    found = access.cached(credentials.credentials)
    if found is None:  # not seen lately: the lookup reads the store, so off the event loop
        found = await run_in_threadpool(access.principal, credentials.credentials)
    if found is None:
        raise HTTPException(401, "unknown bearer token", headers={"WWW-Authenticate": "Bearer"})
    return found


Services_ = Annotated[Services, Depends(services)]
Principal_ = Annotated[Principal, Depends(principal)]


def require(*roles: Role):
    """A dependency that admits only these roles."""

    async def check(who: Principal_) -> Principal:
        if who.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(403, f"role {who.role.value} may not do this (allowed: {allowed})")
        return who

    return check


def record_unit(svc: Services, professional_id: UUID) -> str:
    return svc.ledger.professional(professional_id, copy=False).employer_unit  # as the person stands now


def register_as(svc: Services, who: Principal, registration: Registration, channel: Channel) -> Registered | None:
    """Register on ``who``'s behalf (the API and the workbench). To an employer, a person new to the
    ledger and one registered already in another unit get the same answer, None: an employer may not
    learn who another unit employs, nor confirm a guessed ID number by it; the second records nothing
    but a lookup that auditors see. Any other conflict is raised."""
    try:
        done = svc.ledger.register(registration, by=who.actor, channel=channel)
    except Conflict:
        pid = svc.ledger.professional_id_for(registration.id_number)
        if who.role is not Role.EMPLOYER or record_unit(svc, pid) == who.unit:
            raise
        svc.access.record_lookup(pid, found=True, by=who.actor, channel=channel)
        return None
    return None if who.role is Role.EMPLOYER and done.created else done


def may_enter(svc: Services, who: Principal, professional_id: UUID) -> None:
    """Employers enter and verify for their own unit's staff; committees for anyone."""
    if who.role is Role.COMMITTEE:
        return
    if who.role is Role.EMPLOYER:
        if record_unit(svc, professional_id) != who.unit:
            raise HTTPException(403, f"employer of unit {who.unit} may not act on another unit's staff")
        return
    raise HTTPException(403, f"role {who.role.value} may not enter or verify activities")


def may_see(svc: Services, who: Principal, professional_id: UUID) -> None:
    """Committees and auditors see everyone; an employer its staff; a professional themself."""
    if who.role in (Role.COMMITTEE, Role.AUDITOR):
        return
    if who.role is Role.EMPLOYER and record_unit(svc, professional_id) == who.unit:
        return
    if who.role is Role.PROFESSIONAL and who.professional_id == professional_id:
        return
    raise HTTPException(403, f"role {who.role.value} may not see this record")


def limited(kind: str):
    """A dependency that counts the request against the token's limit of ``kind`` (429 past it)."""

    async def check(request: Request, who: Principal_) -> None:
        request.app.state.rate_limits.hit(kind, who)

    return check
