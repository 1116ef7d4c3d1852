"""The ledger as a whole, for auditors: chain verification, checkpoints, inclusion proofs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from ce_ledger.domain.values import Channel
from ce_ledger.audit.checkpoint import CheckpointRecorded
from ce_ledger.audit.service import VerificationReport
from ce_ledger.access import Principal, Role
from api.deps import Services_, limited, require
from api.exact import ExactRoute
from api.problems import responses
from api.schemas import CheckpointOut, ConsistencyOut, ProofOut

router = APIRouter(prefix="/v1/ledger", tags=["audit"], route_class=ExactRoute)
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]


def _out(c: CheckpointRecorded) -> CheckpointOut:
    return CheckpointOut(
        checkpoint=c.originator_version, position=c.position, streams=c.streams, tree=c.tree, root=c.root,
        recorded_at=c.recorded_at, recorded_by=c.recorded_by,
    )


@router.get("/verification", response_model=VerificationReport, responses=responses(401, 403))
def verification(svc: Services_, _: Auditor) -> VerificationReport:
    """Recompute every stream's hash chain, every verdict's pins and every checkpoint; list each break."""
    return svc.audit.verify()


@router.post("/checkpoints", status_code=201, response_model=CheckpointOut, responses=responses(401, 403))
def checkpoint(svc: Services_, who: Auditor) -> CheckpointOut:
    """Record a Merkle root (RFC 9162) over the log up to the current position; costs the rows since the last."""
    return _out(svc.audit.checkpoint(by=who.actor, channel=Channel.API))


@router.get("/checkpoints", response_model=list[CheckpointOut], responses=responses(401, 403))
def checkpoints(svc: Services_, _: Auditor) -> list[CheckpointOut]:
    return [_out(c) for c in svc.audit.checkpoints()]


@router.get("/proofs/{stream_id}", response_model=ProofOut, responses=responses(401, 403, 404, 409, 429))
def proof(
    stream_id: UUID,
    svc: Services_,
    _: Annotated[Principal, Depends(require(Role.AUDITOR, Role.COMMITTEE))],
    __: Annotated[None, Depends(limited("proofs"))],
    checkpoint: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
) -> ProofOut:
    """That the stream's head at a checkpoint was one of its leaves."""
    found = svc.audit.prove(stream_id, checkpoint)
    return ProofOut(checkpoint=found.checkpoint, leaf=found.leaf, index=found.index, size=found.size,
                    path=list(found.path), root=found.root)


@router.get("/checkpoints/{new}/consistency", response_model=ConsistencyOut,
            responses=responses(401, 403, 404, 409, 429))
def consistency(
    new: int,
    svc: Services_,
    _: Annotated[Principal, Depends(require(Role.AUDITOR, Role.COMMITTEE))],
    __: Annotated[None, Depends(limited("proofs"))],
    old: Annotated[int, Query(ge=1, description="the earlier checkpoint")],
) -> ConsistencyOut:
    """That checkpoint ``new`` extends checkpoint ``old``: nothing before was changed or removed."""
    found = svc.audit.consistency(old, new)
    return ConsistencyOut(old=found.old, new=found.new, old_size=found.old_size, new_size=found.new_size,
                          old_root=found.old_root, new_root=found.new_root, path=list(found.path))
