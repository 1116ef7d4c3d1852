"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error names what was wrong and, where one applies, the field (a dotted path
into the request). No error ever repeats the input it refused: an ID number must
not come back in a response or reach a log.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from ce_ledger.domain.errors import BrokenHistory, Conflict, InvalidInput, LedgerError, NoRuleSet, NotFound
from ce_ledger.domain.values import PATTERN_RULES

PROBLEM = "application/problem+json"


class FieldProblem(BaseModel):
    field: str | None
    rule: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []


STATUS_OF: dict[type[LedgerError], tuple[int, str]] = {
    BrokenHistory: (409, "history does not verify"),
    InvalidInput: (422, "invalid input"),
    NoRuleSet: (422, "no rule-set"),
    Conflict: (409, "conflict"),
    NotFound: (404, "not found"),
}


def status_of(error: LedgerError) -> tuple[int, str]:
    """The HTTP status and title of a domain error: the one mapping, for the API and the workbench."""
    return next(v for k, v in STATUS_OF.items() if isinstance(error, k))


def problem(status: int, title: str, detail: str, errors: list[FieldProblem] = ()) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, errors=list(errors))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, media_type=PROBLEM)


def field_problems(errors: list[dict]) -> list[FieldProblem]:
    """pydantic's errors, as field paths and plain rules (without their input)."""
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "string_pattern_mismatch":
            message = PATTERN_RULES.get((e.get("ctx") or {}).get("pattern"), message)
        if e.get("type") == "json_invalid":
            message = f"malformed JSON: {(e.get('ctx') or {}).get('error', 'cannot be parsed')}"
            loc = []
        head, sep, rest = message.partition(": ")
        if sep and " " not in head:  # a model-level rule names its own field first
            loc, message = [*loc, head], rest
        out.append(FieldProblem(field=".".join(loc) or None, rule=message))
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, e: LedgerError) -> JSONResponse:
        status, title = status_of(e)
        problems = getattr(e, "problems", [(e.field, e.rule)])
        return problem(status, title, str(e), [FieldProblem(field=f, rule=r) for f, r in problems])

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = field_problems(list(e.errors()))
        malformed = any(p.rule.startswith("malformed JSON") for p in problems)
        status = 400 if malformed else 422
        detail = "; ".join(f"{p.field}: {p.rule}" if p.field else p.rule for p in problems)
        return problem(status, "malformed request" if malformed else "invalid input", detail, problems)

    @app.exception_handler(ValidationError)
    async def domain_validation_error(_: Request, e: ValidationError) -> JSONResponse:
        # A body that passed its own schema but not the domain model it becomes (a degree
        # whose graduation precedes its enrolment, say).
        problems = field_problems(e.errors(include_input=False))
        detail = "; ".join(f"{p.field}: {p.rule}" if p.field else p.rule for p in problems)
        return problem(422, "invalid input", detail, problems)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        response = problem(e.status_code, str(e.detail), str(e.detail))
        for k, v in (e.headers or {}).items():
            response.headers[k] = v
        return response


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI: which problems an operation can answer with."""
    return {s: {"model": Problem, "content": {PROBLEM: {}}} for s in statuses}


def document_body_problems(app: FastAPI) -> None:
    """Every operation that takes a body can also answer 400 (not JSON) and 413 (too large), and
    every one with parameters 422 as a problem document: say so in the OpenAPI document, once,
    instead of on each route."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = generate()
            problem = {"description": "a problem (RFC 9457)",
                       "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for operations in document["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        for status in ("400", "413"):
                            operation["responses"].setdefault(status, problem)
                    if "requestBody" in operation or operation.get("parameters"):
                        # FastAPI documents its own validation error; ours is a problem document.
                        operation["responses"]["422"] = problem
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with a 413 problem, by header or as they stream in."""

    def __init__(self, app, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.default = limit
        self.larger = larger or {}  # path → its own limit (a spreadsheet upload is bigger than a batch)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.default)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await problem(413, "body too large", f"the body may be at most {limit} bytes")(scope, receive, send)
            return
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # Raised while the endpoint reads its body: becomes the same problem.
                raise HTTPException(413, f"body too large: at most {limit} bytes")
            return message

        await self.app(scope, counted, send)
