"""Request and response bodies. Activity bodies are the domain's own detail models."""

from __future__ import annotations

import warnings
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from ce_ledger.domain.details import Degree, PublicCourse
from ce_ledger.domain.identity import IdNumber
from ce_ledger.domain.values import DegreeKind, HoursFigure, Hours, Level, Series, Text, Value
from ce_ledger.rules.verdict import Credited, Verdict, Window
from ce_ledger.domain.verdicts import Pin
from ce_ledger.domain.programme import Programme
from ce_ledger.domain.provider import STATUS_EVENTS, Provider, ProviderLevel, ProviderStanding
from ce_ledger.domain.values import Code, Day
from api.problems import FieldProblem


class CompletionItem(PublicCourse):
    """One platform completion: a public course and whose it is."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
    id_number: IdNumber

    def course(self) -> PublicCourse:
        return PublicCourse.model_construct(**{k: getattr(self, k) for k in PublicCourse.model_fields})


class CompletionBatch(Value):
    # Items are checked one by one in the endpoint, so one bad item never blocks the rest;
    # the schema still documents what an item is.
    completions: Annotated[list[SkipValidation[CompletionItem]], Field(min_length=1, max_length=1000)]


class CompletionResult(Value):
    record_id: str | None
    status: Literal["recorded", "duplicate", "conflict", "rejected"]
    activity_id: UUID | None = None
    error: FieldProblem | None = None


class CompletionResults(Value):
    results: list[CompletionResult]
    position: int | None = Field(None, description="log position to wait for to see these in totals")


class DegreeBody(Value):
    kind: DegreeKind
    institution: Text
    enrolled_on: date
    graduated_on: date
    certified_hours: Hours | None = None

    def details(self) -> Degree:
        return Degree(
            degree=self.kind,
            institution=self.institution,
            enrolled_on=self.enrolled_on,
            graduated_on=self.graduated_on,
            certified_hours=self.certified_hours,
        )


class Registered(Value):
    professional_id: UUID
    created: bool | None  # None to an employer, who may not learn whether another unit registered the person


class PendingTransfer(Value):
    to_unit: str
    effective_on: date
    proposed_by: str


class PersonOut(Value):
    """The person as they stand now (registration, corrections, moves), after a change."""

    professional_id: UUID
    name: str
    series: Series
    employer_unit: str
    pending_transfer: PendingTransfer | None
    version: int
    status: Literal["recorded", "duplicate"]

    @classmethod
    def of(cls, professional: Any, status: str) -> PersonOut:
        t = professional.transfer
        return cls(
            professional_id=professional.id, name=professional.name, series=professional.series,
            employer_unit=professional.employer_unit, version=professional.version, status=status,
            pending_transfer=PendingTransfer(to_unit=t.to_unit, effective_on=t.effective_on, proposed_by=t.proposed_by)
            if t else None,
        )


class ActivityOutcome(Value):
    activity_id: UUID
    status: Literal["recorded", "duplicate"]
    position: int | None = None


class TotalsOut(Value):
    professional_id: UUID
    rule_set: str
    window: Window
    credited: Credited
    public_hours: HoursFigure
    total_hours: HoursFigure
    pending_claims: int
    pending_hours: HoursFigure
    waived_by_degree: bool


class EventOut(Value):
    version: int
    kind: str
    valid_on: date
    recorded_at: datetime
    by: str | None = Field(description="who caused it (a token's actor); none on events recorded before actors were kept")
    channel: str | None = Field(description="api, workbench, import, legacy_upload, demo, cli or direct")
    data: dict[str, Any]


class History(Value):
    professional_id: UUID
    as_of: str | None = Field(None, description="the version or time the record is shown as known at")
    events: list[EventOut]


class VerdictEntry(Value):
    verdict_id: UUID
    issued_at: datetime
    level: Level
    evaluation_year: int
    rule_set_id: str
    superseded_by: str | None = Field(
        None, description="the rule-set in force for the year, when this verdict's is no longer it (reading 17)"
    )
    passed: bool
    fingerprint: str


class VerdictList(Value):
    professional_id: UUID
    verdicts: list[VerdictEntry]


class CheckpointOut(Value):
    checkpoint: int = Field(description="its version on the checkpoint stream")
    position: int = Field(description="the log position the root covers")
    streams: int = Field(description="how many leaves: rows of the log (tree \"log\") or stream heads (\"heads\")")
    tree: str = Field(description='"log": RFC 9162 tree over the log\'s rows; "heads": over stream heads (older)')
    root: str
    recorded_at: datetime
    recorded_by: str


class ConsistencyOut(Value):
    """An RFC 9162 §2.1.4 consistency proof: the later checkpoint's tree extends the earlier one's."""

    old: int
    new: int
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]


class ProofOut(Value):
    """An RFC 6962 inclusion proof; docs/audit.md shows how to check it with hashlib alone."""

    checkpoint: int
    leaf: str = Field(description='"<stream id>:<version>:<digest>"')
    index: int
    size: int
    path: list[str]
    root: str


class VerdictRequest(Value):
    level: Level
    evaluation_year: int = Field(ge=1990, le=2100)
    rule_set: str | None = Field(None, max_length=64, description="default: the rule-set in force that year")


class LineInChinese(Value):
    activity_id: UUID
    description: str
    arithmetic: str
    reason: str


class VerdictInChinese(Value):
    """The verdict's sentences in Chinese (from its codes, NX-2019.2 on; an older verdict keeps its
    English where it has no codes). Not part of the fingerprinted verdict."""

    summary: str
    readings: list[str]
    lines: list[LineInChinese]


with warnings.catch_warnings():
    # The stored fingerprint replaces the computed one: a reply has more fields than the
    # verdict, so its own canonical JSON is not what was fingerprinted.
    warnings.filterwarnings("ignore", message='Field name "fingerprint"')

    class VerdictOut(Verdict):
        verdict_id: UUID
        issued_by: str
        issued_at: datetime
        fingerprint: str = Field(...)  # type: ignore[assignment]
        pins: list[Pin] = Field(description="each record as the verdict read it: version and its chain digest")
        superseded_by: str | None = Field(
            None, description="the rule-set in force for the year, when this verdict's is no longer it (reading 17)"
        )
        in_chinese: VerdictInChinese | None = Field(None, description="the same sentences in Chinese, beside the English")


class UnknownProvider(Value):
    """A CE base code that certificates name but the ledger has no record of (reading 15)."""

    code: str
    certificates: int
    people: int


class ProviderAccreditation(Value):
    code: Code
    name: Text
    level: ProviderLevel
    effective_on: Day
    decision_ref: Text


class ProviderDecisionOut(Value):
    version: int
    standing: ProviderStanding
    decision: Literal["accredited", "ordered_to_rectify", "rectified", "disqualified", "reaccredited"]
    effective_on: date
    decision_ref: str
    decided_by: str
    deadline: date | None = None
    reason: str | None = None
    recorded_at: datetime


class ProviderOut(Value):
    code: str
    name: str
    level: ProviderLevel
    standing: ProviderStanding
    version: int
    decisions: list[ProviderDecisionOut]


def provider_out(provider: Provider) -> ProviderOut:
    names = {cls: name for name, cls in STATUS_EVENTS.items()}
    return ProviderOut(
        code=provider.code, name=provider.name, level=provider.level, standing=provider.standing,
        version=provider.version,
        decisions=[
            ProviderDecisionOut(
                version=d.originator_version, standing=d.standing, decision=names.get(type(d), "accredited"),
                effective_on=d.effective_on, decision_ref=d.decision_ref, decided_by=d.decided_by,
                deadline=getattr(d, "deadline", None), reason=getattr(d, "reason", None),
                recorded_at=d.recorded_at,
            )
            for d in provider.decisions
        ],
    )


class ProgrammeOut(Programme):
    planned_by: str
    recorded_at: datetime


def answer(body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response body already built as its (validated) model, serialised once: FastAPI would
    otherwise validate it again against the operation's ``response_model`` before serialising
    it (a result per item of a batch, a line per activity of a verdict)."""
    return Response(body.model_dump_json(), status_code=status_code, headers=headers, media_type="application/json")
