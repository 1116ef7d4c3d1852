"""The online platform's batches of public-course completions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError

from ce_ledger import collector
from ce_ledger.domain.values import Channel
from ce_ledger.domain.errors import Conflict, LedgerError, NotFound
from ce_ledger.domain.identity import holds_id_number
from ce_ledger.access import Principal, Role
from api.batches import ONE_BATCH_A_CONNECTION, run_batch
from api.deps import Services_, require
from api.exact import ExactRoute
from api.problems import FieldProblem, field_problems, responses
from api.schemas import CompletionBatch, CompletionItem, CompletionResult, CompletionResults, answer

router = APIRouter(prefix="/v1/platform", tags=["platform"], route_class=ExactRoute)


@router.post("/completions", response_model=CompletionResults, responses=responses(400, 401, 403, 413, 422))
async def completions(
    body: CompletionBatch,
    svc: Services_,
    who: Annotated[Principal, Depends(require(Role.PLATFORM))],
) -> Response:
    """Record up to 1,000 completions; one result per item, in order. Retries are duplicates.
    The connection closes after the answer, so that the next batch goes to a free server process."""
    return await run_batch(svc.settings.server_processes, _answered, body, svc, who)


def _answered(body: CompletionBatch, svc: Any, who: Principal) -> Response:
    """The batch and its answer, serialised within the batch's work (``run_batch``)."""
    with collector.paused():  # a batch: many objects that live until it is answered, no cycles
        return answer(_completions(body, svc, who), headers=ONE_BATCH_A_CONNECTION)


def _completions(body: CompletionBatch, svc: Any, who: Principal) -> CompletionResults:
    results: list[CompletionResult | None] = [None] * len(body.completions)
    batch = []  # (index, professional id, course, whether its raw record id was checked)
    for i, raw in enumerate(body.completions):
        record_id = raw.get("record_id") if isinstance(raw, dict) else None
        # Echoed so the platform can match results to items, unless it could carry an ID number.
        record_id = record_id if isinstance(record_id, str) and len(record_id) <= 64 and not holds_id_number(record_id) else None
        try:
            item = CompletionItem.model_validate(raw)
        except ValidationError as e:
            first = field_problems(e.errors(include_input=False))[0]
            results[i] = CompletionResult(record_id=record_id, status="rejected", error=first)
            continue
        batch.append((i, svc.ledger.professional_id_for(item.id_number), item.course(), record_id is not None))
    outcomes = svc.ledger.record_batch([(pid, course) for _, pid, course, _ in batch], by=who.actor,
                                       channel=Channel.API) if batch else []
    position = None
    for (i, _, course, checked), outcome in zip(batch, outcomes, strict=True):
        # Trimming cannot make an ID number appear: the raw id checked above needs no second look.
        echo = course.record_id if checked or not holds_id_number(course.record_id) else None
        results[i] = _result(echo, outcome)
        position = getattr(outcome, "position", None) or position
    return CompletionResults(results=results, position=position)  # type: ignore[arg-type]


def _result(record_id: str | None, outcome: Any) -> CompletionResult:
    if isinstance(outcome, LedgerError):
        if isinstance(outcome, NotFound):
            error = FieldProblem(field="id_number", rule="no professional is registered with this ID number")
        else:
            error = FieldProblem(field=outcome.field, rule=outcome.rule)
        status = "conflict" if isinstance(outcome, Conflict) else "rejected"
        return CompletionResult(record_id=record_id, status=status, error=error)
    return CompletionResult(record_id=record_id, status=outcome.status, activity_id=outcome.activity_id)
