"""Programmes of the knowledge-update project (专业技术人才知识更新工程, notice §2).

A programme is planned for a year: a kind, how many classes (期) and trainees are
planned, and the CE base that runs it. Specialty credits may name the programme
they were earned in; the read side counts what was actually held against the plan.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID, uuid5

from pydantic import Field

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Code, Text, Value

PROGRAMME_NAMESPACE = UUID("2e8d4b17-6c3a-5f90-a1d2-7b5e9c0f3a64")


def programme_stream(code: str) -> UUID:
    return uuid5(PROGRAMME_NAMESPACE, code)


class ProgrammeKind(StrEnum):
    """The four kinds of §2, in the notice's order."""

    ADVANCED_SEMINAR = "advanced_seminar"  # 高级研修项目 §2(1)
    URGENTLY_NEEDED = "urgently_needed"  # 急需紧缺和岗位骨干人才培养项目 §2(2)
    PARTY_SCHOOL = "party_school"  # 专业技术人员进党校培训 §2(3)
    POVERTY_AREA = "poverty_area"  # 贫困地区专业技术人员能力素质提升 §2(4)


class Programme(Value):
    """What is planned; the command and the event's content."""

    code: Code
    title: Text
    kind: ProgrammeKind
    year: int = Field(ge=2000, le=2100)
    planned_classes: int | None = Field(default=None, ge=1, le=1000, description="none where §2 plans no classes")
    planned_trainees: int = Field(ge=1, le=1_000_000)
    provider_code: Code


class ProgrammePlanned(LedgerEvent, Programme):
    """The programme's record opened: one event; a changed plan would be a later event."""

    planned_by: Text

    def programme(self) -> Programme:
        return Programme.model_construct(**{k: getattr(self, k) for k in Programme.model_fields})


class Target(Value):
    classes: int | None
    trainees: int


# The targets the notice sets for 2019 (§2(1)–(4)): "40 期左右", "3000 余名", ...
TARGETS: dict[int, dict[ProgrammeKind, Target]] = {
    2019: {
        ProgrammeKind.ADVANCED_SEMINAR: Target(classes=40, trainees=3000),
        ProgrammeKind.URGENTLY_NEEDED: Target(classes=40, trainees=7000),
        ProgrammeKind.PARTY_SCHOOL: Target(classes=None, trainees=500),
        ProgrammeKind.POVERTY_AREA: Target(classes=None, trainees=1500),
    }
}
