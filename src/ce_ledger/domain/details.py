"""What each kind of activity records: the content of an event, and of the command for it.

These models check what is true of an activity whenever it is read (hours positive, a
graduation after its enrolment, ...). What depends on the day of recording (nothing in
the future) is checked by the aggregate, which is told the date.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import ClassVar, Self, get_args

from pydantic import BaseModel, Field, model_validator

from ce_ledger.domain.values import (
    ActivityKind,
    canonical_key,
    typed_key,
    Code,
    Day,
    DegreeKind,
    Exam,
    Hours,
    Route,
    Text,
    Value,
)

MAX_HOURS_TAUGHT_PER_DAY = 24


class ActivityDetails(Value):
    kind: ClassVar[ActivityKind]

    @property
    def occurred_on(self) -> date:
        """Valid time: the day that places the activity in a window (reading 8)."""
        raise NotImplementedError

    def natural_key(self) -> str:
        """The retry key of reading 13 as typed (personal keys are scoped by the aggregate), its
        parts kept apart (``typed_key``). It names the activity (its id is derived from it);
        keys are *compared* in one spelling (``canonical_key``)."""
        return typed_key(*self.key_parts())

    def key_parts(self) -> tuple[str, ...]:
        """The key's kind and parts, as typed."""
        raise NotImplementedError

    def canonical_key(self) -> str:
        """The retry key in one spelling (reading 16): what retries, conflicts and the
        one-credit-across-everyone rule compare."""
        return canonical_key(*self.key_parts())

    def describe(self) -> str:
        """One line a person can match against the paper it came from."""
        raise NotImplementedError

    # Platform record ids and certificates are unique across everyone (reading 12, 13).
    key_is_global: ClassVar[bool] = False
    key_kind: ClassVar[str]  # the key's first part: which kind of key it is

    def dates(self) -> dict[str, date]:
        """Every date field by name, for the "not in the future" check."""
        return {name: v for name in _date_fields(type(self)) if isinstance(v := getattr(self, name), date)}


@functools.cache
def field_names(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``cls`` in the model's order, once per class (pydantic's ``model_fields`` is a
    property, asked on every recording; ``LedgerEvent._built`` fills an event in this order)."""
    return tuple(cls.model_fields)


@functools.cache
def _date_fields(cls: type[ActivityDetails]) -> tuple[str, ...]:
    """The fields of ``cls`` that may hold a date, once per class: ``dates`` is asked on every
    recording, and walking every field's value was a twentieth of its cost."""
    return tuple(name for name, f in cls.model_fields.items() if _holds_a_date(f.annotation))


def _holds_a_date(annotation: object) -> bool:
    """``date`` (or a subclass) anywhere in the annotation: ``date``, ``Day | None``, ..."""
    return (isinstance(annotation, type) and issubclass(annotation, date)) or any(map(_holds_a_date, get_args(annotation)))


class PublicCourse(ActivityDetails):
    """公需课, completed on the platform and auto-verified (§3(1), §3(5))."""

    kind: ClassVar[ActivityKind] = ActivityKind.PUBLIC_COURSE
    key_kind: ClassVar[str] = "platform-record"
    key_is_global: ClassVar[bool] = True

    record_id: Code
    course_code: Code
    title: Text
    hours: Hours
    completed_on: Day

    @property
    def occurred_on(self) -> date:
        return self.completed_on


    def key_parts(self) -> tuple[str, ...]:
        return (self.key_kind, self.record_id)

    def describe(self) -> str:
        return f"{self.title} [{self.course_code}], platform record {self.record_id}"


class SpecialtyCredit(ActivityDetails):
    """专业课, from a completion certificate; counts once verified (§3(1), §3(5))."""

    kind: ClassVar[ActivityKind] = ActivityKind.SPECIALTY
    key_kind: ClassVar[str] = "certificate"
    key_is_global: ClassVar[bool] = True

    provider_code: Code
    certificate_no: Code
    route: Route
    subject: Text
    hours: Hours
    completed_on: Day
    programme_code: Code | None = None

    @property
    def occurred_on(self) -> date:
        return self.completed_on


    def key_parts(self) -> tuple[str, ...]:
        return (self.key_kind, self.provider_code, self.certificate_no)

    def describe(self) -> str:
        programme = f", programme {self.programme_code}" if self.programme_code else ""
        return (
            f"{self.subject}: certificate {self.provider_code}/{self.certificate_no}, "
            f"route {self.route}{programme}"
        )


class StudyTour(ActivityDetails):
    """国内外考察、专业技术交流: days excluding travel, × 6 h (§3(3))."""

    kind: ClassVar[ActivityKind] = ActivityKind.STUDY_TOUR
    key_kind: ClassVar[str] = "study-tour"

    first_day: Day
    last_day: Day
    days: int = Field(ge=1, description="days of the tour or training, travel excluded")
    subject: Text
    document_ref: Text  # an official document number, often Chinese: 宁人社函〔2019〕148号

    @model_validator(mode="after")
    def _days_fit_the_dates(self) -> Self:
        if self.last_day < self.first_day:
            raise ValueError("last_day: must not be before first_day")
        span = (self.last_day - self.first_day).days + 1
        if self.days > span:
            raise ValueError(
                f"days: {self.days} days do not fit between first_day and last_day ({span} days)"
            )
        return self

    @property
    def occurred_on(self) -> date:
        return self.last_day  # reading 8: a tour belongs to the year of its last day


    def key_parts(self) -> tuple[str, ...]:
        return (self.key_kind, self.document_ref)

    def describe(self) -> str:
        return (
            f"{self.subject}: {self.first_day.isoformat()} to {self.last_day.isoformat()}, "
            f"document {self.document_ref}"
        )


class Teaching(ActivityDetails):
    """担任继续教育培训师资: 1 hour taught = 3 hours (§3(3), reading 8)."""

    kind: ClassVar[ActivityKind] = ActivityKind.TEACHING
    key_kind: ClassVar[str] = "teaching"

    taught_on: Day
    hours_taught: Hours = Field(le=MAX_HOURS_TAUGHT_PER_DAY)
    course: Text
    document_ref: Text  # an official document number, often Chinese: 宁人社函〔2019〕148号

    @property
    def occurred_on(self) -> date:
        return self.taught_on


    def key_parts(self) -> tuple[str, ...]:
        return (self.key_kind, self.document_ref)

    def describe(self) -> str:
        return f"taught {self.course}, document {self.document_ref}"


class ExamPass(ActivityDetails):
    """职称外语 or a 计算机应用能力 module, passed (§3(4))."""

    kind: ClassVar[ActivityKind] = ActivityKind.EXAM_PASS
    key_kind: ClassVar[str] = "exam"

    exam: Exam
    module: Code | None = None
    passed_on: Day
    certificate_no: Code

    @model_validator(mode="after")
    def _module_iff_computer(self) -> Self:
        if self.exam is Exam.COMPUTER_MODULE and self.module is None:
            raise ValueError("module: required for a computer_module pass (each module counts once)")
        if self.exam is Exam.FOREIGN_LANGUAGE and self.module is not None:
            raise ValueError("module: only a computer_module pass has a module")
        return self

    @property
    def occurred_on(self) -> date:
        return self.passed_on


    def key_parts(self) -> tuple[str, ...]:
        return (self.key_kind, self.exam.value, self.module or "-", self.certificate_no)

    def describe(self) -> str:
        if self.exam is Exam.FOREIGN_LANGUAGE:
            return f"title foreign-language exam, certificate {self.certificate_no}"
        return f"computer module {self.module}, certificate {self.certificate_no}"


class Degree(ActivityDetails):
    """高一级学历或第二学历 (§3(3), reading 10)."""

    kind: ClassVar[ActivityKind] = ActivityKind.DEGREE
    key_kind: ClassVar[str] = "degree"

    degree: DegreeKind
    institution: Text
    enrolled_on: Day
    graduated_on: Day
    certified_hours: Hours | None = None

    @model_validator(mode="after")
    def _graduated_after_enrolling(self) -> Self:
        if self.graduated_on <= self.enrolled_on:
            raise ValueError("graduated_on: must be after enrolled_on")
        return self

    @property
    def occurred_on(self) -> date:
        return self.graduated_on  # reading 10: obtained = graduated


    def key_parts(self) -> tuple[str, ...]:
        return (self.key_kind, self.degree.value, self.institution, self.graduated_on.isoformat())

    def describe(self) -> str:
        return f"{self.degree} degree, {self.institution}, enrolled {self.enrolled_on.isoformat()}"


# The kinds of key unique across everyone: an activity under one holds a claim on it (``key_is_global``).
GLOBAL_KEY_KINDS = frozenset(c.key_kind for c in ActivityDetails.__subclasses__() if c.key_is_global)
