"""Small factories for test records: valid ID numbers, registrations, activities."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ce_ledger.domain.commands import Registration, Verification
from ce_ledger.domain.details import (
    Degree,
    ExamPass,
    PublicCourse,
    SpecialtyCredit,
    StudyTour,
    Teaching,
)
from ce_ledger.domain.identity import check_digit
from ce_ledger.domain.values import Decision

_serial = itertools.count(1)


def id_number(region: str = "640104", born: str | None = None, seq: int | None = None) -> str:
    """A valid GB 11643 number, different on every call (region 640104 is in Yinchuan)."""
    n = next(_serial)
    if born is None:
        born = (date(1960, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    first17 = f"{region}{born}{(n if seq is None else seq) % 1000:03d}"
    return first17 + check_digit(first17)


def registration(
    number: str | None = None,
    *,
    series: str = "工程技术",
    foreign: bool = False,
    computer: bool = False,
    own_ce: bool = False,
    unit: str = "UNIT-001",
    name: str = "马晓明",
) -> Registration:
    return Registration(
        id_number=number or id_number(),
        name=name,
        series=series,
        requires_foreign_language_exam=foreign,
        requires_computer_exam=computer,
        own_ce_regulation=own_ce,
        employer_unit=unit,
    )


def public(hours: str, on: date, record_id: str | None = None, title: str = "公需课") -> PublicCourse:
    return PublicCourse(
        record_id=record_id or f"PR-{next(_serial)}",
        course_code="GX-2019-01",
        title=title,
        hours=Decimal(hours),
        completed_on=on,
    )


def specialty(hours: str, on: date, cert: str | None = None, provider: str = "NXJY-01") -> SpecialtyCredit:
    return SpecialtyCredit(
        provider_code=provider,
        certificate_no=cert or f"C-{next(_serial)}",
        route="training_class",
        subject="智能制造研修班",
        hours=Decimal(hours),
        completed_on=on,
    )


def tour(days: int, first: date, last: date, ref: str | None = None) -> StudyTour:
    return StudyTour(
        first_day=first, last_day=last, days=days, subject="考察", document_ref=ref or f"D-{next(_serial)}"
    )


def teaching(hours: str, on: date, ref: str | None = None) -> Teaching:
    return Teaching(
        taught_on=on, hours_taught=Decimal(hours), course="继续教育讲座", document_ref=ref or f"T-{next(_serial)}"
    )


def foreign_pass(on: date, cert: str | None = None) -> ExamPass:
    return ExamPass(exam="foreign_language", passed_on=on, certificate_no=cert or f"FL-{next(_serial)}")


def computer_pass(module: str, on: date, cert: str | None = None) -> ExamPass:
    return ExamPass(exam="computer_module", module=module, passed_on=on, certificate_no=cert or f"CM-{next(_serial)}")


def degree(enrolled: date, graduated: date, hours: str | None = None, kind: str = "second") -> Degree:
    return Degree(
        degree=kind,
        institution="宁夏大学",
        enrolled_on=enrolled,
        graduated_on=graduated,
        certified_hours=Decimal(hours) if hours is not None else None,
    )


VERIFIED = Verification(decision=Decision.VERIFIED, reason="证书真实，内容与本职工作一致")
REJECTED = Verification(decision=Decision.REJECTED, reason="证书与所从事专业无关")


class Clock:
    """A settable clock: tests decide what 'now' is."""

    def __init__(self, now: datetime = datetime(2019, 3, 25, 1, 0, tzinfo=UTC)):
        self.now = now

    def __call__(self) -> datetime:
        return self.now
