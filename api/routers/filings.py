"""CE bases file their certificates (备案), plain or signed, and publish their keys and status list.

A provider token is bound to one base and acts for it only; auditors act for any base. Claims that
match a filing verify themselves (services/filings.py); docs/credentials.md gives the format.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import Field

from ce_ledger.access import Principal, Role
from ce_ledger.domain.filing import SigningKey
from ce_ledger.domain.values import CODE_PATTERN, Channel, Text, Value, canonical_code
from api.batches import ONE_BATCH_A_CONNECTION, run_batch
from api.deps import Principal_, Services_, limited, require
from api.exact import ExactRoute
from api.problems import responses
from api.schemas import answer

router = APIRouter(prefix="/v1/providers/{code}", tags=["filings"], route_class=ExactRoute)
Code_ = Annotated[str, Path(pattern=CODE_PATTERN)]
FILERS = Depends(require(Role.PROVIDER, Role.AUDITOR))


def for_base(who: Principal, code: str) -> None:
    if who.role is Role.PROVIDER and canonical_code(who.provider or "") != canonical_code(code):
        raise HTTPException(403, f"a provider token of {who.provider} files for that base only")


class Roster(Value):
    """A base's filing: certificates as fields, and/or signed credentials (compact JWS), 1,000 at most."""

    certificates: list[dict[str, Any]] = Field(default=[], max_length=1000,
                                               description="each as `Certificate` (holder_id_number: the ID number)")
    credentials: list[str] = Field(default=[], max_length=1000, description="compact JWS, docs/credentials.md")


class FilingResultOut(Value):
    certificate_no: str | None
    status: str
    problem: str | None = None
    field: str | None = None
    signed_with: str | None = None
    verified_claim: bool = False


class RosterOut(Value):
    results: list[FilingResultOut]
    filed: int
    duplicate: int
    conflict: int
    refused: int


class Withdrawal(Value):
    reason: Text


class Retirement(Value):
    retired_from: datetime
    reason: Text


class StatusList(Value):
    credential: str = Field(max_length=4_000_000, description="the base's BitstringStatusListCredential, a compact JWS")


class KeyOut(SigningKey):
    alg: str
    registered_by: str
    retired_from: datetime | None = None


class FilingOut(Value):
    provider_code: str
    certificate_no: str
    holder: UUID = Field(description="the holder's record id (never the ID number)")
    subject: str
    route: str
    hours: str
    completed_on: date
    signed_with: str | None
    filed_by: str
    filed_at: datetime
    withdrawn: str | None = None


@router.post("/filings", response_model=RosterOut, responses=responses(401, 403, 404, 422, 429))
async def file_roster(code: Code_, body: Roster, svc: Services_, who: Annotated[Principal, FILERS],
                      _: Annotated[None, Depends(limited("filings"))]) -> Response:
    """File certificates. Each is filed, a duplicate (the same again), a conflict (other content), or
    refused with the field and reason (a bad signature, an unknown or expired key, a bad field).
    The connection closes after the answer, so that the next batch goes to a free server process."""
    for_base(who, code)
    items: list[Any] = [*body.certificates, *body.credentials]

    def filed() -> Response:  # the filing and its answer, serialised within the batch's work
        results = svc.ledger.file_certificates(code, items, by=who.actor, channel=Channel.API)
        out = [FilingResultOut(**r.__dict__) for r in results]
        count = {s: sum(r.status == s for r in out) for s in ("filed", "duplicate", "conflict", "refused")}
        return answer(RosterOut(results=out, **count), headers=ONE_BATCH_A_CONNECTION)

    return await run_batch(svc.settings.server_processes, filed)


@router.get("/filings/{certificate_no}", response_model=FilingOut, responses=responses(401, 403, 404))
def filing(code: Code_, certificate_no: Annotated[str, Path(pattern=CODE_PATTERN)], svc: Services_,
           who: Annotated[Principal, Depends(require(Role.PROVIDER, Role.COMMITTEE, Role.AUDITOR))]) -> FilingOut:
    """A filing (the base itself, committees, auditors; an employer sees the filing's verdict on its
    staff's claims instead, and may not probe which certificates are on file)."""
    for_base(who, code)
    filed, withdrawn = svc.ledger.filing(code, certificate_no)
    if filed is None:
        raise HTTPException(404, f"base {code} has no certificate {certificate_no} on file")
    return FilingOut(provider_code=filed.provider_code, certificate_no=filed.certificate_no, holder=filed.holder,
                     subject=filed.subject, route=filed.route.value, hours=str(filed.hours), completed_on=filed.completed_on,
                     signed_with=filed.signed_with, filed_by=filed.filed_by, filed_at=filed.recorded_at,
                     withdrawn=withdrawn.reason if withdrawn else None)


@router.post("/filings/{certificate_no}/withdrawal", status_code=201, responses=responses(401, 403, 404, 422))
def withdraw(code: Code_, certificate_no: Annotated[str, Path(pattern=CODE_PATTERN)], body: Withdrawal,
             svc: Services_, response: Response, who: Annotated[Principal, FILERS]) -> dict[str, str]:
    """Withdraw a filed certificate: a claim it verified awaits a person's decision again."""
    for_base(who, code)
    event, created = svc.ledger.withdraw_filing(code, certificate_no, body.reason, by=who.actor, channel=Channel.API)
    if not created:
        response.status_code = 200
    return {"certificate_no": event.certificate_no, "reason": event.reason, "withdrawn_by": event.withdrawn_by}


@router.post("/status-list", responses=responses(401, 403, 404, 422))
def status_list(code: Code_, body: StatusList, svc: Services_, who: Annotated[Principal, FILERS]) -> dict[str, list[str]]:
    """The base's signed revocation list: every filed certificate whose entry is set is withdrawn."""
    for_base(who, code)
    return {"withdrawn": svc.ledger.apply_status_list(code, body.credential, by=who.actor, channel=Channel.API)}


@router.post("/keys", status_code=201, response_model=KeyOut, responses=responses(401, 403, 404, 409, 422))
def register_key(code: Code_, body: SigningKey, svc: Services_, response: Response,
                 who: Annotated[Principal, FILERS]) -> KeyOut:
    """Register a public key (an Ed25519 or P-256 JWK) with its validity; a rotation is a new key id."""
    for_base(who, code)
    event, created = svc.ledger.register_key(code, body, by=who.actor, channel=Channel.API)
    if not created:
        response.status_code = 200
    return KeyOut(kid=event.kid, jwk=event.jwk, valid_from=event.valid_from, valid_until=event.valid_until,
                  alg=event.alg, registered_by=event.registered_by)


@router.post("/keys/{kid}/retirement", status_code=201, responses=responses(401, 403, 404, 422))
def retire_key(code: Code_, kid: str, body: Retirement, svc: Services_, who: Annotated[Principal, FILERS]) -> dict[str, str]:
    """End a key early (rotated out, or compromised): credentials signed from then on are refused."""
    for_base(who, code)
    event = svc.ledger.retire_key(code, kid, body.retired_from, body.reason, by=who.actor, channel=Channel.API)
    return {"kid": event.kid, "retired_from": event.retired_from.isoformat(), "retired_by": event.retired_by}


@router.get("/keys", response_model=list[KeyOut], responses=responses(401))
def keys(code: Code_, svc: Services_, _: Principal_) -> list[KeyOut]:
    """The base's public keys and their validity: what its credentials are checked against."""
    known, retired = svc.ledger.keys_of(code)
    return [KeyOut(kid=k.kid, jwk=k.jwk, valid_from=k.valid_from, valid_until=k.valid_until, alg=k.alg,
                   registered_by=k.registered_by, retired_from=retired.get(k.kid)) for k in known.values()]

