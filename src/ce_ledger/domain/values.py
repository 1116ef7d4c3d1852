"""Value types shared by events, commands and rule-sets."""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID, SafeUUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
)

# RFC 4122 version 5 (SHA-1, name-based): ``uuid.uuid5``'s result, built from the integer. The
# standard one builds the UUID from bytes and checks the version again: twice this cost, and a
# completion makes two (its activity id, its key's claim id).
_V5_CLEAR = ~(0xF000 << 64) & ~(0xC000 << 48)
_V5_SET = (5 << 76) | (0x8000 << 48)


def uuid5(namespace: UUID, name: str) -> UUID:
    try:  # the hash of the namespace, copied: a handful of namespaces, a name hashed after each
        hashing = _SEEDED[namespace].copy()
    except KeyError:
        if len(_SEEDED) > 64:  # the ledger's namespaces are a handful; a caller's own are not kept for ever
            _SEEDED.clear()
        hashing = _SEEDED.setdefault(namespace, hashlib.sha1(namespace.bytes, usedforsecurity=False)).copy()
    hashing.update(name.encode("utf-8"))
    digest = hashing.digest()
    # Filled as ``UUID.__init__`` fills it at its end, without its checks of a value made right
    # here: ``UUID(int=...)`` was a third of this function's cost.
    made = _new_object(UUID)
    _set_slot(made, "int", int.from_bytes(digest[:16], "big") & _V5_CLEAR | _V5_SET)
    _set_slot(made, "is_safe", SafeUUID.unknown)
    return made


_new_object, _set_slot = object.__new__, object.__setattr__
_SEEDED: dict[UUID, Any] = {}


EARLIEST_DATE = date(1950, 1, 1)
MAX_HOURS_PER_RECORD = 1000


class ActivityKind(StrEnum):
    PUBLIC_COURSE = "public_course"
    SPECIALTY = "specialty"
    STUDY_TOUR = "study_tour"
    TEACHING = "teaching"
    EXAM_PASS = "exam_pass"
    DEGREE = "degree"


class Route(StrEnum):
    """The six routes of specialty study (notice §3(1), items 1-6)."""

    INDUSTRY_EXAM = "industry_exam"
    TRAINING_CLASS = "training_class"
    ACADEMIC_ACTIVITY = "academic_activity"
    DISTANCE_LEARNING = "distance_learning"
    PRACTICE = "practice"
    OTHER = "other"


class Exam(StrEnum):
    FOREIGN_LANGUAGE = "foreign_language"
    COMPUTER_MODULE = "computer_module"


class DegreeKind(StrEnum):
    HIGHER = "higher"
    SECOND = "second"


class Decision(StrEnum):
    VERIFIED = "verified"
    REJECTED = "rejected"


class Level(StrEnum):
    JUNIOR = "junior"
    INTERMEDIATE = "intermediate"
    DEPUTY_SENIOR = "deputy_senior"
    SENIOR = "senior"


@lru_cache(maxsize=4096)  # equal Decimals share one canonical spelling, so caching is exact
def canonical(value: Decimal) -> str:
    """One spelling per number ("132.5", "40"), so equal records give equal bytes."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def _refuse_float(value: Any, info: ValidationInfo) -> Any:
    # A Python float has already lost exactness; make the caller choose. (A JSON number
    # is different: pydantic-core reads it into a Decimal from its digits, exactly.)
    if isinstance(value, float) and info.mode == "python":
        raise ValueError("must be exact: give a decimal string or an integer, not a float")
    return value


def _at_most_two_places(value: Decimal) -> Decimal:
    # Cheaper than Field(decimal_places=2): runs on every event load.
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValueError("at most 2 decimal places (hours are recorded to 0.01 h)")
    return value


# Hours as they arrive: exact, positive, at most 2 places, at most 1000 in one record.
Hours = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    Field(gt=0, le=MAX_HOURS_PER_RECORD, allow_inf_nan=False),
    AfterValidator(_at_most_two_places),
    PlainSerializer(canonical, return_type=str, when_used="json"),
]
# Hours as computed (sums, credits): exact, may be zero, always serialised canonically.
HoursFigure = Annotated[
    Decimal, PlainSerializer(canonical, return_type=str, when_used="json")
]

# Constraints that pydantic-core checks natively: events are re-validated on every
# load, and a Python validator per field would dominate the cost of reading a record.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# A person's name is read by people and printed on forms: no C1 controls, no bidirectional
# overrides or isolates (which reorder what is shown), no zero-width characters (which hide).
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$"
PATTERN_RULES = {
    NAME_PATTERN: "must not contain control, bidirectional-override or zero-width characters",
    TEXT_PATTERN: "must not contain control characters",
    CODE_PATTERN: "must be 1 to 64 letters, digits or . _ / : -, starting with a letter or digit",
}
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=TEXT_PATTERN)
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NAME_PATTERN)
]
Day = Annotated[date, Field(ge=EARLIEST_DATE)]


class Value(BaseModel):
    """Immutable and strict about unknown fields, like every model in the record."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Series(Value):
    """A title series (职称系列) and the three facts about it that the rules read."""

    name: Text
    requires_foreign_language_exam: bool
    requires_computer_exam: bool
    own_ce_regulation: bool

    @property
    def requires_an_exam(self) -> bool:
        return self.requires_foreign_language_exam or self.requires_computer_exam


@lru_cache(maxsize=65_536)  # pure, and asked for the same few codes over and over (every certificate's base)
def canonical_code(text: str) -> str:
    """One spelling of a code or key part, for comparing (reading 16): Unicode NFKC (full-width
    and half-width alike), trimmed, case-folded, shown in upper case (so that codes already
    written that way, as most are, keep their spelling). Records keep what was typed."""
    return unicodedata.normalize("NFKC", text).strip().casefold().upper()


def typed_key(kind: str, *parts: str) -> str:
    """A retry key as typed, built so that its parts cannot run into each other (a ":" or "%"
    inside a part is escaped): provider "A:Q" + certificate "B" is not provider "A" +
    certificate "Q:B". For parts without either it reads as keys always have."""
    return ":".join([kind, *(p.replace("%", "%25").replace(":", "%3A") for p in parts)])


@functools.lru_cache(maxsize=8192)  # pure; asked several times per command (retry, index, key stream)
def canonical_key(kind: str, *parts: str) -> str:
    """The same key in one spelling (reading 16): what retries and conflicts compare."""
    return typed_key(kind, *(canonical_code(p) for p in parts))


class Channel(StrEnum):
    """Through which door an event came in: every event records it beside who caused it."""

    API = "api"
    WORKBENCH = "workbench"
    IMPORT = "import"  # a spreadsheet import
    LEGACY_UPLOAD = "legacy_upload"  # hours a training unit uploaded before 2019 (§3(5))
    DEMO = "demo"
    CLI = "cli"
    FILING = "filing"  # settled by a CE base's filing (备案) of the certificate
    DIRECT = "direct"  # called in-process (tests, scripts)
