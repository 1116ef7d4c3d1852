"""What changed between a verdict as issued and the same evaluation on today's record.

Pure: given the two verdicts and today's record, it lists each activity whose
effect differs and the later events that explain it (voided, verified, rejected,
recorded late), so an auditor sees why a replay today would conclude otherwise.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from ce_ledger.audit.verification import Break
from ce_ledger.domain.events import (
    ActivityVoided,
    SpecialtyCreditRejected,
    SpecialtyCreditVerified,
)
from ce_ledger.domain.professional import Professional
from ce_ledger.domain.provider import STATUS_EVENTS, ProviderRegister
from ce_ledger.domain.values import ActivityKind, HoursFigure, Value
from ce_ledger.rules.ruleset import RuleSet
from ce_ledger.rules.verdict import (
    CountsToward,
    Credited,
    RuleSetRef,
    Verdict,
    VerdictLine,
)

PROVIDER_HAPPENED = {cls: name for name, cls in STATUS_EVENTS.items()}

Happened = Literal[
    "recorded", "verified", "rejected", "voided",
    # on the certificate's provider (CE base) record, §1(4)
    "provider_ordered_to_rectify", "provider_rectified", "provider_disqualified", "provider_reaccredited",
]


class LaterEvent(Value):
    happened: Happened
    stream: Literal["record", "provider"] = "record"
    version: int
    recorded_at: datetime
    by: str | None
    reason: str | None
    channel: str | None = None  # through which door it came in (api, workbench, import, legacy_upload, …)
    decision_ref: str | None = None  # the decision a void or a CE base's change rests on
    provider: str | None = None  # a CE base's change: which base, and from which day
    effective_on: date | None = None


class ActivityChange(Value):
    activity_id: UUID
    kind: ActivityKind
    occurred_on: date
    description: str
    events: tuple[LaterEvent, ...]
    credited_then: HoursFigure
    credited_now: HoursFigure
    counts_toward_then: CountsToward
    counts_toward_now: CountsToward


class ChangesSince(Value):
    """The same evaluation on the record as it is now."""

    record_version_then: int
    record_version_now: int
    passed_then: bool
    passed_now: bool
    credited_then: Credited
    credited_now: Credited
    activities: tuple[ActivityChange, ...]
    summary: str


class Replay(Value):
    verdict_id: UUID
    reproduced: bool
    recorded_fingerprint: str
    recomputed_fingerprint: str | None
    rule_set: RuleSetRef
    rule_set_digest_now: str | None
    breaks: tuple[Break, ...]
    explanation: str
    changes_since: ChangesSince | None
    superseded_by: str | None = None  # the rule-set in force for the year now, if another (reading 17)


def changes_since(
    then: Verdict,
    now: Verdict,
    record: Professional,
    providers: ProviderRegister | None = None,
    pinned: dict[UUID, int] | None = None,
) -> ChangesSince:
    """``providers`` are the certificates' providers now, ``pinned`` the provider versions the
    verdict read: a provider decision since is a reason too."""
    lines_then = {line.activity_id: line for line in then.items}
    lines_now = {line.activity_id: line for line in now.items}
    changed = []
    for activity_id in dict.fromkeys([*lines_then, *lines_now]):
        before, after = lines_then.get(activity_id), lines_now.get(activity_id)
        if _effect(before) == _effect(after):
            continue
        line = after or before
        assert line is not None
        changed.append(
            ActivityChange(
                activity_id=activity_id,
                kind=line.kind,
                occurred_on=line.occurred_on,
                description=line.description,
                events=tuple(
                    _later_events(record, activity_id, then.record_version)
                    + _later_provider_events(record, activity_id, providers or {}, pinned or {})
                ),
                credited_then=_effect(before)[0],
                credited_now=_effect(after)[0],
                counts_toward_then=_effect(before)[1],
                counts_toward_now=_effect(after)[1],
            )
        )
    verdict_word = {True: "passed", False: "not passed"}
    if then.passed == now.passed:
        summary = f"the result would stay {verdict_word[now.passed]}"
    else:
        summary = f"the result would change from {verdict_word[then.passed]} to {verdict_word[now.passed]}"
    summary += (
        f"; total {then.credited.total_hours} → {now.credited.total_hours} h, "
        f"public {then.credited.public_hours} → {now.credited.public_hours} h, "
        f"{len(changed)} activit{'y' if len(changed) == 1 else 'ies'} changed effect"
    )
    return ChangesSince(
        record_version_then=then.record_version,
        record_version_now=now.record_version,
        passed_then=then.passed,
        passed_now=now.passed,
        credited_then=then.credited,
        credited_now=now.credited,
        activities=tuple(changed),
        summary=summary,
    )


def _effect(line: VerdictLine | None) -> tuple[Decimal, CountsToward]:
    if line is None:
        return Decimal(0), CountsToward.NOTHING
    return line.credited_hours, line.counts_toward


def _later_events(record: Professional, activity_id: UUID, after_version: int) -> list[LaterEvent]:
    activity = record.activities.get(activity_id)
    if activity is None:
        return []
    found = []
    if activity.recorded.originator_version > after_version:
        found.append(LaterEvent(happened="recorded", version=activity.recorded.originator_version,
                                recorded_at=activity.recorded.recorded_at, by=activity.recorded.caused_by,
                                reason=None, channel=activity.recorded.channel))
    for event in (activity.decision, activity.void):
        if event is None or event.originator_version <= after_version:
            continue
        happened: Happened = (
            "voided" if isinstance(event, ActivityVoided)
            else "verified" if isinstance(event, SpecialtyCreditVerified)
            else "rejected" if isinstance(event, SpecialtyCreditRejected)
            else "recorded"
        )
        found.append(LaterEvent(happened=happened, version=event.originator_version,
                                recorded_at=event.recorded_at, by=event.decided_by, reason=event.reason,
                                channel=event.channel, decision_ref=getattr(event, "decision_ref", None)))
    return sorted(found, key=lambda e: e.version)


def _later_provider_events(
    record: Professional, activity_id: UUID, providers: ProviderRegister, pinned: dict[UUID, int]
) -> list[LaterEvent]:
    activity = record.activities.get(activity_id)
    if activity is None or activity.kind is not ActivityKind.SPECIALTY:
        return []
    provider = providers.get(activity.recorded.provider_code)  # type: ignore[attr-defined]
    if provider is None:
        return []
    seen = pinned.get(provider.id, 0)
    return [
        LaterEvent(
            happened=f"provider_{PROVIDER_HAPPENED[type(d)]}",  # type: ignore[arg-type]
            stream="provider", version=d.originator_version, recorded_at=d.recorded_at,
            by=d.decided_by, reason=getattr(d, "reason", None), channel=d.channel, decision_ref=d.decision_ref,
            provider=provider.code, effective_on=d.effective_on,
        )
        for d in provider.decisions
        if d.originator_version > seen and type(d) in PROVIDER_HAPPENED
    ]


def rule_set_note(pinned: RuleSetRef, rules: RuleSet | None) -> str | None:
    """Why the pinned rule-set cannot be applied as it was, if it cannot."""
    if rules is None:
        return f"rule-set {pinned.id} is no longer published"
    if rules.digest != pinned.digest:
        return (
            f"rule-set {pinned.id} has changed since (digest {pinned.digest[:12]}… then, "
            f"{rules.digest[:12]}… now): a changed rule must be published as a new rule-set"
        )
    return None
