"""A training provider (CE base, 继续教育基地): its own stream, its standing over time.

Notice §1(4): a base that fails its assessment is ordered to rectify by a deadline
and, if it still fails, disqualified. A certificate dated while its issuer was
disqualified counts nothing, so a verdict needs the provider's standing *on the
certificate's date*, not today's: the record keeps every decision with the day it
took effect, and ``standing_on`` reads the record like a timeline.

Decisions must be entered in the order they took effect (each effective date on or
after the last), so the recorded order is the timeline; a wrong entry is corrected
by a later decision, never edited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal
from uuid import UUID, uuid5

from ce_ledger.domain.aggregate import Chained
from ce_ledger.domain.chain import GENESIS
from ce_ledger.domain.errors import Conflict, InvalidInput
from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Code, Day, Text, Value, canonical_code

PROVIDER_NAMESPACE = UUID("9a7c3e51-2f6b-5d08-8e14-c0b2d4f6a813")


def provider_stream(code: str) -> UUID:
    """A CE base's stream, by its code in one spelling (reading 16): a certificate naming
    "nxjd-01" finds the base accredited as "NXJD-01" (and cannot escape its standing)."""
    return uuid5(PROVIDER_NAMESPACE, canonical_code(code))


class ProviderLevel(StrEnum):
    NATIONAL = "national"  # 国家级继续教育基地
    REGIONAL = "regional"  # 自治区级继续教育基地


class ProviderStanding(StrEnum):
    ACCREDITED = "accredited"
    ORDERED_TO_RECTIFY = "ordered_to_rectify"
    DISQUALIFIED = "disqualified"


# The name the published, frozen rule-set NX-2019.1 imports (its text cannot change).
Standing = ProviderStanding


class ProviderDecided(LedgerEvent):
    """Base of a provider's events: a decision of the Department, with the day it took effect."""

    standing: ClassVar[ProviderStanding]
    code: Code
    effective_on: Day
    decided_by: Text
    decision_ref: Text

    @property
    def valid_on(self) -> date:
        return self.effective_on


class ProviderAccredited(ProviderDecided):
    """The base is accredited: opens its record."""

    standing: ClassVar[ProviderStanding] = ProviderStanding.ACCREDITED
    name: Text
    level: ProviderLevel


class ProviderOrderedToRectify(ProviderDecided):
    """责令限期整改: failed its assessment; must rectify by ``deadline``."""

    standing: ClassVar[ProviderStanding] = ProviderStanding.ORDERED_TO_RECTIFY
    deadline: Day
    reason: Text


class ProviderRectified(ProviderDecided):
    """整改达到要求: the order is lifted."""

    standing: ClassVar[ProviderStanding] = ProviderStanding.ACCREDITED


class ProviderDisqualified(ProviderDecided):
    """取消其继续教育基地资格: still failing after the deadline."""

    standing: ClassVar[ProviderStanding] = ProviderStanding.DISQUALIFIED
    reason: Text


class ProviderReaccredited(ProviderDecided):
    """Accredited again after a disqualification."""

    standing: ClassVar[ProviderStanding] = ProviderStanding.ACCREDITED


STATUS_EVENTS: dict[str, type[ProviderDecided]] = {
    "ordered_to_rectify": ProviderOrderedToRectify,
    "rectified": ProviderRectified,
    "disqualified": ProviderDisqualified,
    "reaccredited": ProviderReaccredited,
}
PROVIDER_EVENTS: tuple[type[ProviderDecided], ...] = (ProviderAccredited, *STATUS_EVENTS.values())
StatusChange = Literal["ordered_to_rectify", "rectified", "disqualified", "reaccredited"]

# Which change may follow which standing (§1(4)): rectify first, disqualify only after.
ALLOWED: dict[ProviderStanding, frozenset[str]] = {
    ProviderStanding.ACCREDITED: frozenset({"ordered_to_rectify"}),
    ProviderStanding.ORDERED_TO_RECTIFY: frozenset({"rectified", "disqualified"}),
    ProviderStanding.DISQUALIFIED: frozenset({"reaccredited"}),
}


class ProviderStatusChange(Value):
    """The command: one decision about a provider."""

    status: StatusChange
    effective_on: Day
    decision_ref: Text
    deadline: Day | None = None
    reason: Text | None = None


@dataclass(frozen=True)
class StandingOn:
    """A provider's standing on one day, and the decision it rests on (None: not yet accredited)."""

    code: str
    day: date
    decision: ProviderDecided | None

    @property
    def standing(self) -> ProviderStanding | None:
        return self.decision.standing if self.decision else None

    def describe(self) -> str:
        d = self.decision
        if d is None:
            return f"provider {self.code} was not yet accredited on {self.day.isoformat()}"
        since = f"since {d.effective_on.isoformat()}, decision {d.decision_ref}"
        if isinstance(d, ProviderOrderedToRectify):
            return (
                f"provider {self.code} was ordered to rectify by {d.deadline.isoformat()} "
                f"on {self.day.isoformat()} ({since})"
            )
        return f"provider {self.code} was {d.standing.value} on {self.day.isoformat()} ({since})"


@dataclass
class Provider(Chained):
    id: UUID
    version: int
    code: str
    name: str
    level: ProviderLevel
    decisions: list[ProviderDecided] = field(default_factory=list)
    head_digest: str = GENESIS
    _pending: list[LedgerEvent] = field(default_factory=list, repr=False)

    @property
    def standing(self) -> ProviderStanding:
        return self.decisions[-1].standing

    def standing_on(self, day: date) -> StandingOn:
        found = None
        for decision in self.decisions:
            if decision.effective_on > day:
                break
            found = decision
        return StandingOn(self.code, day, found)

    # -- commands ----------------------------------------------------------------

    @classmethod
    def accredit(
        cls, code: str, *, name: str, level: ProviderLevel, effective_on: date, decision_ref: str,
        by: str, now: datetime, today: date, channel: str = "direct",
    ) -> Provider:
        _not_future("effective_on", effective_on, today)
        event = ProviderAccredited.next_in_chain(
            provider_stream(code), recorded_at=now, code=code,
            name=name, level=level, effective_on=effective_on, decided_by=by, decision_ref=decision_ref,
            caused_by=by, channel=channel,
        )
        provider = project_provider(None, [event])
        assert provider is not None
        provider._pending.append(event)
        return provider

    def same_accreditation(self, name: str, level: ProviderLevel, effective_on: date, decision_ref: str) -> bool:
        first = self.decisions[0]
        assert isinstance(first, ProviderAccredited)
        return (first.name, first.level, first.effective_on, first.decision_ref) == (
            name, level, effective_on, decision_ref,
        )

    def change(
        self, change: ProviderStatusChange, *, by: str, now: datetime, today: date, channel: str = "direct"
    ) -> Literal["recorded", "duplicate"]:
        event_class = STATUS_EVENTS[change.status]
        last = self.decisions[-1]
        if any(
            type(d) is event_class and (d.effective_on, d.decision_ref) == (change.effective_on, change.decision_ref)
            for d in self.decisions
        ):
            return "duplicate"  # a retry of a decision already recorded (the last, or an earlier one)
        if change.status not in ALLOWED[self.standing]:
            allowed = ", ".join(sorted(ALLOWED[self.standing]))
            raise Conflict(
                "status",
                f"provider {self.code} is {self.standing.value}: it can next be {allowed} (§1(4))",
            )
        _not_future("effective_on", change.effective_on, today)
        if change.effective_on < last.effective_on:
            raise InvalidInput(
                "effective_on",
                f"must not be before the last decision's {last.effective_on.isoformat()}: "
                "decisions are entered in the order they took effect",
            )
        fields: dict[str, object] = {}
        if event_class is ProviderOrderedToRectify:
            if change.deadline is None or change.deadline <= change.effective_on:
                raise InvalidInput("deadline", "an order to rectify needs a deadline after effective_on (§1(4))")
            fields["deadline"] = change.deadline
        elif change.deadline is not None:
            raise InvalidInput("deadline", "only an order to rectify has a deadline")
        if event_class in (ProviderOrderedToRectify, ProviderDisqualified):
            if change.reason is None:
                raise InvalidInput("reason", f"a provider {change.status.replace('_', ' ')} needs a reason")
            fields["reason"] = change.reason
        if event_class is ProviderDisqualified:
            order = last
            assert isinstance(order, ProviderOrderedToRectify)
            if change.effective_on < order.deadline:
                raise InvalidInput(
                    "effective_on",
                    f"disqualification comes only after the deadline to rectify, "
                    f"{order.deadline.isoformat()} (§1(4): 在规定时间内仍然达不到整改要求的)",
                )
        self._trigger(
            event_class, recorded_at=now, code=self.code, effective_on=change.effective_on,
            decided_by=by, decision_ref=change.decision_ref, caused_by=by, channel=channel, **fields,
        )
        return "recorded"

    # -- events ------------------------------------------------------------------

    def __deepcopy__(self, memo: dict) -> Provider:
        # Events are frozen and shared; only the list of decisions grows.
        return Provider(self.id, self.version, self.code, self.name, self.level, list(self.decisions), self.head_digest)

    def _mutate(self, event: LedgerEvent) -> None:
        if not isinstance(event, ProviderDecided):
            raise TypeError(f"a provider's record has no event {type(event).__name__}")
        self.decisions.append(event)


def project_provider(provider: Provider | None, events: Iterable[LedgerEvent]) -> Provider | None:
    for event in events:
        if provider is None:
            if not isinstance(event, ProviderAccredited):
                raise TypeError(f"a provider's record opens with its accreditation, not {type(event).__name__}")
            provider = Provider(
                event.originator_id, event.originator_version, event.code, event.name, event.level,
                [event], event.digest,
            )
        else:
            provider.apply(event)
    return provider


def _not_future(name: str, day: date, today: date) -> None:
    if day > today:
        raise InvalidInput(name, f"must not be in the future (today is {today.isoformat()})")


class ProviderRegister(dict[str, Provider]):
    """The CE bases a rule-set is told about, by code, looked up in one spelling (reading 16):
    a published rule-set asks with the code as the certificate typed it."""

    def __setitem__(self, code: str, provider: Provider) -> None:
        super().__setitem__(canonical_code(code), provider)

    def __getitem__(self, code: str) -> Provider:
        return super().__getitem__(canonical_code(code))

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and super().__contains__(canonical_code(code))

    def get(self, code: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(canonical_code(code), default)
