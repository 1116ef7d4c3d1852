"""Training providers (CE bases, 继续教育基地): accreditation and standing (§1(4)).

The Department decides a base's standing, so only auditors (the Department's
role here) write; anyone signed in may read a base's record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from ce_ledger.domain.values import Channel
from ce_ledger.access import Principal, Role
from api.deps import Principal_, Services_, require
from api.exact import ExactRoute
from api.problems import responses
from api.schemas import ProviderAccreditation, ProviderOut, UnknownProvider, provider_out
from ce_ledger.application import ProviderDecision
from ce_ledger.domain.provider import ProviderStatusChange, provider_stream
from ce_ledger.domain.values import CODE_PATTERN

router = APIRouter(prefix="/v1/providers", tags=["providers"], route_class=ExactRoute)
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
ProviderCode = Annotated[str, Path(pattern=CODE_PATTERN, description="the provider's code")]
RETRY = {200: {"model": ProviderOut, "description": "a retry: nothing new recorded"}}


def _out(done: ProviderDecision, response: Response) -> ProviderOut:
    if done.status == "duplicate":
        response.status_code = 200
    return provider_out(done.provider)


@router.get("/unknown", response_model=list[UnknownProvider], responses=responses(401, 403))
def unknown(svc: Services_, _: Auditor) -> list[UnknownProvider]:
    """CE base codes that certificates name (not voided) but the ledger has no record of: no
    ground to exclude the certificates (reading 15), so they are listed for an auditor to look
    into. Codes are compared in one spelling (reading 16)."""
    return [
        UnknownProvider(code=code, certificates=certificates, people=people)
        for code, certificates, people in svc.view.certificates_by_provider()
        if not svc.ledger.exists(provider_stream(code))
    ]


@router.post("", status_code=201, response_model=ProviderOut, responses={**RETRY, **responses(401, 403, 409, 422)})
def accredit(body: ProviderAccreditation, svc: Services_, who: Auditor, response: Response) -> ProviderOut:
    """Record a provider's accreditation: opens its record."""
    done = svc.ledger.accredit_provider(
        body.code, name=body.name, level=body.level, effective_on=body.effective_on,
        decision_ref=body.decision_ref, by=who.actor, channel=Channel.API,
    )
    return _out(done, response)


@router.post(
    "/{code}/status", status_code=201, response_model=ProviderOut,
    responses={**RETRY, **responses(401, 403, 404, 409, 422)},
)
def change_status(code: ProviderCode, body: ProviderStatusChange, svc: Services_, who: Auditor, response: Response) -> ProviderOut:
    """Order to rectify (with a deadline), rectified, disqualified, re-accredited (§1(4))."""
    return _out(svc.ledger.change_provider_status(code, body, by=who.actor, channel=Channel.API), response)


@router.get("/{code}", response_model=ProviderOut, responses=responses(401, 404))
def read(code: ProviderCode, svc: Services_, _: Principal_) -> ProviderOut:
    """A provider's record: its standing now and every decision, in the order they took effect."""
    return provider_out(svc.ledger.provider(code))
