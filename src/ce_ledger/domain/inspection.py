"""The Department's inspection (§3(5)): spot checks of issued verdicts, findings, sanctions.

A spot check is drawn once, reproducibly (``audit/sampling.py`` says how), and recorded
with everything needed to draw it again: its parameters, the seed, the log position its
population was read at, the population of each stratum and the sample. Findings are
recorded per sampled verdict on the verdict's own findings stream; sanctions on the
stream of whom they are against (a person, a unit, a CE base). None of these changes
any hours: a void does that.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Self
from uuid import UUID, uuid5

from eventsourcing.utils import register_topic
from pydantic import Field, model_validator

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Code, Day, Level, Text, Value, canonical_code

INSPECTION_NAMESPACE = UUID("5a0e7c3b-2f4d-5c8a-b1e6-9d3f7a2c4e18")


def spot_check_stream(spot_check_id: UUID) -> UUID:
    return spot_check_id  # the spot check's id is its stream


def findings_stream(verdict_id: UUID) -> UUID:
    return uuid5(INSPECTION_NAMESPACE, f"findings:{verdict_id}")


class SanctionTarget(StrEnum):
    PROFESSIONAL = "professional"
    UNIT = "unit"
    PROVIDER = "provider"


def sanctions_stream(target_kind: SanctionTarget, target: str) -> UUID:
    key = target.lower() if target_kind is SanctionTarget.PROFESSIONAL else canonical_code(target)
    return uuid5(INSPECTION_NAMESPACE, f"sanctions:{target_kind.value}:{key}")


class Population(Value):
    """Which recorded verdicts a spot check draws from: an evaluation year, optionally narrowed."""

    evaluation_year: int = Field(ge=2000, le=2100)
    level: Level | None = None
    unit: Code | None = None
    series: Text | None = None
    committee: Text | None = Field(default=None, description="the actor who issued, e.g. committee:职改办")


class SpotCheckRequest(Population):
    """What an auditor asks for: the population, a size or a rate, and a seed (generated if none)."""

    size: int | None = Field(default=None, ge=1, le=1_000_000)
    rate: Decimal | None = Field(default=None, gt=0, le=1, description="a share of the population, in (0, 1]")
    seed: str | None = Field(default=None, min_length=8, max_length=128, pattern=r"^[0-9A-Za-z_.:-]+$")
    as_of_position: int | None = Field(default=None, ge=1, description="draw from the population as of this log position")
    weighted: bool = Field(default=False, description="weight each verdict by its intrinsic risk signals (docs/inspection.md)")

    @model_validator(mode="after")
    def _size_or_rate(self) -> Self:
        if (self.size is None) == (self.rate is None):
            raise ValueError("size: give either size or rate (a share in (0, 1]), not both")
        return self

    def population(self) -> Population:
        return Population(**{k: getattr(self, k) for k in Population.model_fields})


class Stratum(Value):
    unit: str
    series: str
    population: int
    drawn: int


class SpotCheckDrawn(LedgerEvent):
    """A spot check, drawn: enough to draw it again, and the sample."""

    population: Population
    size: int | None
    rate: Decimal | None
    seed: str
    position: int  # the population as of this log position
    algorithm: str  # names the documented procedure (docs/inspection.md)
    weighted: bool = False
    strata: tuple[Stratum, ...]
    sample: tuple[UUID, ...]  # verdict ids, in stratum order, then by score
    drawn_by: Text


class SpotCheckFiled(LedgerEvent):
    """On the index of spot checks: lets them be listed without a scan."""

    spot_check_id: UUID
    evaluation_year: int
    sample_size: int


class FindingKind(StrEnum):
    UPHELD = "upheld"  # 维持
    VERDICT_WRONG = "verdict_wrong"  # 审验结论有误
    FRAUD_SUSPECTED = "fraud_suspected"  # 涉嫌弄虚作假


class Finding(Value):
    verdict_id: UUID
    finding: FindingKind
    reason: Text
    decision_ref: Text


class FindingRecorded(LedgerEvent):
    """On the verdict's findings stream: what an auditor found of it in a spot check."""

    spot_check_id: UUID
    verdict_id: UUID
    finding: FindingKind
    reason: Text
    decision_ref: Text
    found_by: Text


class Sanction(Value):
    """A sanction under the discipline the notice relies on (§3(5)): against whom, on which
    provision and decision, from when, until when (if it ends)."""

    target_kind: SanctionTarget
    target: Text
    provision: Text
    decision_ref: Text
    effective_on: Day
    ends_on: date | None = None
    reason: Text

    @model_validator(mode="after")
    def _ends_after(self) -> Self:
        if self.ends_on is not None and self.ends_on < self.effective_on:
            raise ValueError("ends_on: must not be before effective_on")
        return self


class SanctionImposed(LedgerEvent, Sanction):
    """On the target's sanctions stream. Changes no hours by itself."""

    imposed_by: Text

    @property
    def valid_on(self) -> date:
        return self.effective_on

    def in_force_on(self, day: date) -> bool:
        return self.effective_on <= day and (self.ends_on is None or day <= self.ends_on)


INSPECTION_EVENTS = (SpotCheckDrawn, SpotCheckFiled, FindingRecorded, SanctionImposed)
# Spot checks indexed before the index event moved here from the service layer read as this class.
register_topic("ce_ledger.services.inspections:SpotCheckFiled", SpotCheckFiled)
