"""A professional's record: registration, activities, decisions, totals and history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse

from ce_ledger.domain.values import Channel
from ce_ledger.domain.commands import Correction, Registration, Transfer, Verification, Voiding
from ce_ledger.domain.details import ActivityDetails, ExamPass, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.errors import InvalidInput
from ce_ledger.domain.professional import Outcome
from ce_ledger.domain.values import Level
from ce_ledger.access import Principal, Role
from ce_ledger.bootstrap import Services
from api.deps import Principal_, Services_, limited, may_enter, may_see, record_unit, register_as, require
from api.exact import ExactRoute
from api.problems import responses
from api.workbench.pages import form_response
from api.schemas import ActivityOutcome, DegreeBody, EventOut, History, PersonOut, Registered, TotalsOut, answer

router = APIRouter(prefix="/v1/professionals", tags=["professionals"], route_class=ExactRoute)

Pid = Annotated[UUID, "professional id"]


@router.post(
    "", status_code=201, response_model=Registered,
    responses={200: {"model": Registered, "description": "already registered: the same id"},
               202: {"model": Registered, "description": "to an employer: registered now, or registered already "
                     "in another unit (the answer is the same; a move is proposed with …/transfers)"},
               **responses(401, 403, 409, 422, 429)},
)
def register(
    body: Registration,
    request: Request,
    svc: Services_,
    response: Response,
    who: Annotated[Principal, Depends(require(Role.PLATFORM, Role.EMPLOYER, Role.COMMITTEE))],
) -> Registered:
    """Register a professional. The ID number is checked (GB 11643), hashed and dropped.

    To an employer, "registered now in your unit" and "registered already in another unit" get the
    same answer (202, the record's id, `created` null): an employer may not learn who another unit
    employs, nor confirm a guessed ID number by it. Such a registration of another unit's person
    records nothing but a lookup that auditors see, and counts against the token's lookup limit."""
    if who.role is Role.EMPLOYER:
        if body.employer_unit != who.unit:
            raise HTTPException(403, f"employer of unit {who.unit} registers its own staff only")
        request.app.state.rate_limits.hit("lookups", who)
    done = register_as(svc, who, body, Channel.API)
    if done is None:  # an employer's answer, alike for a new person and another unit's
        response.status_code = 202
        return Registered(professional_id=svc.ledger.professional_id_for(body.id_number), created=None)
    if not done.created:
        response.status_code = 200
    return Registered(professional_id=done.professional_id, created=done.created)


PERSON_CHANGE = {
    "status_code": 201,
    "response_model": PersonOut,
    "responses": {200: {"model": PersonOut, "description": "a retry: nothing new recorded"}, **responses(401, 403, 404, 409, 422)},
}


def _changed(done: tuple, response: Response) -> PersonOut:
    professional, status = done
    if status == "duplicate":
        response.status_code = 200
    return PersonOut.of(professional, status)


@router.post("/{professional_id}/corrections", **PERSON_CHANGE)
def correct(
    professional_id: Pid,
    body: Correction,
    svc: Services_,
    response: Response,
    who: Annotated[Principal, Depends(require(Role.COMMITTEE, Role.AUDITOR))],
) -> PersonOut:
    """Correct the registered name or series settings (they decide exam substitution and teaching
    credit), with the reason and the decision it rests on. Verdicts issued before keep the
    registration as it stood (they pinned the record's version)."""
    return _changed(svc.ledger.correct_registration(professional_id, body, by=who.actor, channel=Channel.API), response)


@router.post("/{professional_id}/transfers", **PERSON_CHANGE)
def propose_transfer(professional_id: Pid, body: Transfer, svc: Services_, response: Response, who: Principal_) -> PersonOut:
    """The new unit's employer (or a committee) proposes a move; it takes effect when confirmed."""
    if not (who.role is Role.COMMITTEE or (who.role is Role.EMPLOYER and who.unit == body.to_unit)):
        raise HTTPException(403, f"role {who.role.value} may not propose this move: the new unit's employer or a committee does")
    return _changed(svc.ledger.propose_transfer(professional_id, body, by=who.actor, channel=Channel.API), response)


@router.post("/{professional_id}/transfers/confirmation", **PERSON_CHANGE)
def confirm_transfer(professional_id: Pid, body: Transfer, svc: Services_, response: Response, who: Principal_) -> PersonOut:
    """The old unit's employer (or a committee) confirms a proposed move."""
    if who.role is Role.EMPLOYER:
        if record_unit(svc, professional_id) != who.unit:
            raise HTTPException(403, "only the person's present unit (or a committee) confirms a move")
    elif who.role is not Role.COMMITTEE:
        raise HTTPException(403, f"role {who.role.value} may not confirm a move")
    return _changed(svc.ledger.confirm_transfer(professional_id, body, by=who.actor, channel=Channel.API), response)


def _record(svc: Services_, who: Principal, pid: UUID, details: ActivityDetails, response: Response) -> ActivityOutcome:
    may_enter(svc, who, pid)
    return _outcome(svc.ledger.record(pid, details, by=who.actor, channel=Channel.API), response)


def _outcome(outcome: Outcome, response: Response) -> ActivityOutcome:
    if outcome.status == "duplicate":
        response.status_code = 200
    return ActivityOutcome(activity_id=outcome.activity_id, status=outcome.status, position=outcome.position)


ENTRY = {
    "status_code": 201,
    "response_model": ActivityOutcome,
    "responses": {200: {"model": ActivityOutcome, "description": "a retry: the same activity"}, **responses(401, 403, 404, 409, 422)},
}


@router.post("/{professional_id}/specialty-credits", **ENTRY)
def specialty_credit(professional_id: Pid, body: SpecialtyCredit, svc: Services_, who: Principal_, response: Response):
    """Claim specialty credit from a completion certificate; it counts once verified."""
    return _record(svc, who, professional_id, body, response)


@router.post("/{professional_id}/study-tours", **ENTRY)
def study_tour(professional_id: Pid, body: StudyTour, svc: Services_, who: Principal_, response: Response):
    """A study tour or professional exchange: days excluding travel, × 6 h."""
    return _record(svc, who, professional_id, body, response)


@router.post("/{professional_id}/teaching", **ENTRY)
def teaching(professional_id: Pid, body: Teaching, svc: Services_, who: Principal_, response: Response):
    """Teaching a CE course: 1 hour taught = 3 hours."""
    return _record(svc, who, professional_id, body, response)


@router.post("/{professional_id}/exam-passes", **ENTRY)
def exam_pass(professional_id: Pid, body: ExamPass, svc: Services_, who: Principal_, response: Response):
    """A passed title foreign-language exam or computer-application module."""
    return _record(svc, who, professional_id, body, response)


@router.post("/{professional_id}/degrees", **ENTRY)
def degree(professional_id: Pid, body: DegreeBody, svc: Services_, who: Principal_, response: Response):
    """A higher or second degree."""
    return _record(svc, who, professional_id, body.details(), response)


@router.post("/{professional_id}/specialty-credits/{activity_id}/verification", **ENTRY)
def verify(professional_id: Pid, activity_id: UUID, body: Verification, svc: Services_, who: Principal_, response: Response):
    """Verify or reject a specialty claim. Final: a wrong decision is corrected by a void."""
    may_enter(svc, who, professional_id)
    return _outcome(svc.ledger.decide(professional_id, activity_id, body, by=who.actor, channel=Channel.API), response)


@router.post("/{professional_id}/activities/{activity_id}/void", **ENTRY)
def void(
    professional_id: Pid,
    activity_id: UUID,
    body: Voiding,
    svc: Services_,
    response: Response,
    who: Annotated[Principal, Depends(require(Role.AUDITOR))],
):
    """Strike an activity out by a decision; it stays on the record, credited nothing."""
    return _outcome(svc.ledger.void(professional_id, activity_id, body, by=who.actor, channel=Channel.API), response)


@router.get(
    "/{professional_id}/totals", response_model=TotalsOut, response_class=Response,
    responses={200: {"model": TotalsOut, "content": {"application/json": {}}}, **responses(401, 403, 404, 422)},
)
async def totals(
    professional_id: Pid,
    svc: Services_,
    who: Principal_,
    from_year: Annotated[int, Query(ge=1950, le=2100)],
    to_year: Annotated[int, Query(ge=1950, le=2100)],
) -> Response:
    """Credited hours in a window of calendar years, from the read side."""
    # The API's hottest read, so async and one query: an employer's unit is checked on the
    # view's own row (read with the years in order, so that 404 and 403 still come before 422).
    if who.role is Role.EMPLOYER:
        t = await svc.totals.window_async(professional_id, min(from_year, to_year), max(from_year, to_year))
        if t.employer_unit != who.unit:
            raise HTTPException(403, f"role {who.role.value} may not see this record")
    else:
        may_see(svc, who, professional_id)
    if from_year > to_year:
        raise InvalidInput("from_year", "must not be after to_year")
    if who.role is not Role.EMPLOYER:
        t = await svc.totals.window_async(professional_id, from_year, to_year)
    out = TotalsOut(
        professional_id=t.professional_id, rule_set=t.rule_set, window=t.window, credited=t.credited,
        public_hours=t.credited.public_hours, total_hours=t.credited.total_hours,
        pending_claims=t.pending_claims, pending_hours=t.pending_hours, waived_by_degree=t.waived_by_degree,
    )
    return answer(out)


@router.get("/{professional_id}/history", response_model=History, responses=responses(401, 403, 404, 422))
def history(
    professional_id: Pid,
    svc: Services_,
    who: Principal_,
    as_of: Annotated[
        str | None,
        Query(
            max_length=40,
            description="the record as known at a version (an integer, e.g. `7`) or a time "
            "(ISO 8601, e.g. `2019-03-25T09:00:00+08:00`; without an offset, in CE_LEDGER_TIMEZONE)",
        ),
    ] = None,
) -> History:
    """Every event of the record, in recorded order, with its valid and recorded time and chain digests."""
    may_see(svc, who, professional_id)
    version, moment = _as_of(svc, as_of)
    events = [
        EventOut(
            version=e.originator_version,
            kind=type(e).__name__,
            valid_on=e.valid_on,
            recorded_at=e.recorded_at,
            by=e.caused_by,
            channel=e.channel,
            data=e.model_dump(mode="json", exclude={"originator_id", "originator_version", "recorded_at", "caused_by", "channel"}),
        )
        for e in svc.ledger.history(professional_id, as_of_version=version, as_of_time=moment)
    ]
    return History(professional_id=professional_id, as_of=as_of, events=events)


def _as_of(svc: Services, as_of: str | None) -> tuple[int | None, datetime | None]:
    if as_of is None:
        return None, None
    if as_of.isascii() and as_of.isdigit():  # str.isdigit() is true of "²" too
        if len(as_of) > 9:  # a record version; SQLite's integers overflow past 2^63
            raise InvalidInput("as_of", "a version number has at most 9 digits")
        return int(as_of), None
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise InvalidInput("as_of", "must be a version number or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(svc.settings.timezone))
    return None, moment


@router.get(
    "/{professional_id}/assessment-form",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}},
                     "description": "the CE assessment form (继续教育考核表), printable A4"},
               **responses(401, 403, 404, 422, 429, 503)},
)
async def assessment_form(
    professional_id: Pid,
    request: Request,
    who: Principal_,
    _: Annotated[None, Depends(limited("forms"))],
    evaluation_year: Annotated[int, Query(ge=2000, le=2100)],
    level: Annotated[Level, Query()],
    format: Annotated[Literal["html", "pdf"] | None, Query(description="default: by the Accept header")] = None,
    part: Annotated[int, Query(ge=1, le=10_000, description="a long record's form is printed in parts")] = 1,
) -> Response:
    """The CE assessment form of the latest verdict recorded for this evaluation: HTML, or PDF
    with `Accept: application/pdf` or `format=pdf`. A record with more lines than
    `CE_LEDGER_FORM_LINES_PER_PART` (200) prints in parts (`part=2`, …); each part says which.
    A PDF is rendered once and kept; 503 with Retry-After when the renderers are all busy."""
    pdf = format == "pdf" or (format is None and "application/pdf" in request.headers.get("accept", ""))
    return await form_response(request, who, professional_id, level, evaluation_year, pdf, part)
