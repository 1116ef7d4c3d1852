"""Risk signals on a sampled verdict (§3(5) spot checks): what an auditor looks at first.

Computed from the record as the verdict read it (its pinned version) and from what the
ledger knows now (a CE base's later decisions, other claimants of a certificate). A
signal never changes a verdict by itself; it is shown beside it. Thresholds are stated
here once and in docs/inspection.md:

- ``over_24h_day``: more than 24 hours on one day from two or more entries of the sources
  that are dated by a day — platform public courses, hours taught, and certificates of
  one-day routes (an industry exam, an academic activity). One entry alone is not a day's
  attendance (a 40-hour online course carries its completion date); a training class's
  certificate is dated its last day and is left out.
- ``tour_overlap``: a study tour whose days overlap another tour, or a course, a teaching
  or a one-day certificate dated inside it.
- ``base_later_sanctioned``: a certificate from a CE base later ordered to rectify or
  disqualified (a decision effective after the certificate's date).
- ``certificate_shared``: one certificate (its canonical key) reserved by more than one
  person over time.
- ``late_backdated_entries``: at least 5 entries recorded in the 90 days before the verdict
  for dates 2 years or more before they were recorded.
- ``just_over_threshold``: passed with the total, or the public hours, at most 5% over what
  is required.
- ``waiving_degree``: the requirement was waived by a degree (reading 10).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from ce_ledger.domain.details import PublicCourse, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.professional import Activity, Status
from ce_ledger.domain.provider import Provider, ProviderDisqualified, ProviderOrderedToRectify
from ce_ledger.domain.values import canonical
from ce_ledger.rules.verdict import Verdict

DAY_LIMIT = Decimal(24)
ONE_DAY_ROUTES = {"industry_exam", "academic_activity"}
LATE_WINDOW = timedelta(days=90)
BACKDATED_YEARS = 2
LATE_AT_LEAST = 5
JUST_OVER = Decimal("0.05")
SIGNALS = ("over_24h_day", "tour_overlap", "base_later_sanctioned", "certificate_shared",
           "late_backdated_entries", "just_over_threshold", "waiving_degree")


@dataclass(frozen=True)
class Signal:
    code: str
    figures: dict[str, str] = field(default_factory=dict)


def risk_signals(
    verdict: Verdict,
    activities: Iterable[Activity],
    issued_at: datetime,
    provider: Callable[[str], Provider | None],
    claimants: Callable[[str], int],
) -> list[Signal]:
    live = [a for a in activities if a.status not in (Status.VOIDED, Status.REJECTED)]
    found: list[Signal] = []
    found += _over_24h(live)
    found += _tour_overlaps(live)
    found += _later_sanctioned(live, provider)
    found += _shared(live, claimants)
    found += _late_backdated(live, issued_at)
    found += _just_over(verdict)
    if verdict.waived_by_degree:
        found.append(Signal("waiving_degree"))
    return found


def _one_day_hours(a: Activity) -> Decimal | None:
    d = a.recorded
    if isinstance(d, PublicCourse):
        return d.hours
    if isinstance(d, Teaching):
        return d.hours_taught
    if isinstance(d, SpecialtyCredit) and d.route in ONE_DAY_ROUTES:
        return d.hours
    return None


def _over_24h(live: list[Activity]) -> list[Signal]:
    per_day: dict[date, list[Decimal]] = defaultdict(list)
    for a in live:
        hours = _one_day_hours(a)
        if hours is not None:
            per_day[a.occurred_on].append(hours)
    return [Signal("over_24h_day", {"day": day.isoformat(), "hours": canonical(sum(hours, Decimal(0))),
                                    "entries": str(len(hours))})
            for day, hours in sorted(per_day.items()) if len(hours) > 1 and sum(hours, Decimal(0)) > DAY_LIMIT]


def _tour_overlaps(live: list[Activity]) -> list[Signal]:
    tours = [a for a in live if isinstance(a.recorded, StudyTour)]
    found = []
    for i, tour in enumerate(tours):
        first, last = tour.recorded.first_day, tour.recorded.last_day  # type: ignore[attr-defined]
        for other in tours[i + 1:]:
            o = other.recorded
            if o.first_day <= last and first <= o.last_day:  # type: ignore[attr-defined]
                found.append(Signal("tour_overlap", {"tour": tour.recorded.subject, "with": o.subject}))  # type: ignore[attr-defined]
        for a in live:
            if _one_day_hours(a) is not None and first <= a.occurred_on <= last:
                found.append(Signal("tour_overlap", {"tour": tour.recorded.subject,  # type: ignore[attr-defined]
                                                     "with": a.recorded.describe(), "day": a.occurred_on.isoformat()}))
    return found


def _later_sanctioned(live: list[Activity], provider: Callable[[str], Provider | None]) -> list[Signal]:
    found = []
    for a in live:
        d = a.recorded
        if not isinstance(d, SpecialtyCredit):
            continue
        base = provider(d.provider_code)
        for decision in base.decisions if base else ():
            if isinstance(decision, ProviderOrderedToRectify | ProviderDisqualified) and decision.effective_on > d.completed_on:
                found.append(Signal("base_later_sanctioned", {
                    "certificate": f"{d.provider_code}/{d.certificate_no}", "decision": decision.decision_ref,
                    "standing": decision.standing.value, "on": decision.effective_on.isoformat()}))
                break
    return found


def _shared(live: list[Activity], claimants: Callable[[str], int]) -> list[Signal]:
    found = []
    for a in live:
        d = a.recorded
        if isinstance(d, SpecialtyCredit):
            people = claimants(d.canonical_key())
            if people > 1:
                found.append(Signal("certificate_shared", {"certificate": f"{d.provider_code}/{d.certificate_no}",
                                                           "people": str(people)}))
    return found


def _late_backdated(live: list[Activity], issued_at: datetime) -> list[Signal]:
    late = [a for a in live if issued_at - LATE_WINDOW <= a.recorded.recorded_at <= issued_at
            and a.occurred_on <= _years_before(a.recorded.recorded_at.date(), BACKDATED_YEARS)]
    if len(late) >= LATE_AT_LEAST:
        return [Signal("late_backdated_entries", {"count": str(len(late))})]
    return []


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def draw_weight(verdict: Verdict) -> int:
    """A verdict's weight in a weighted spot check (docs/inspection.md): 1, plus one for each signal
    the verdict shows by itself — just over the total, just over the public hours, a waiving degree.
    The other signals need the record and the ledger's later knowledge, which a draw over a whole
    region does not read."""
    return 1 + len(_just_over(verdict)) + int(verdict.waived_by_degree)


def _just_over(verdict: Verdict) -> list[Signal]:
    if not verdict.passed or verdict.waived_by_degree or verdict.window is None:
        return []
    found = []
    for what, need, got in (("total", verdict.required.total_hours, verdict.credited.total_hours),
                            ("public", verdict.required.public_hours, verdict.credited.public_hours)):
        need, got = Decimal(need), Decimal(got)
        if need > 0 and got - need <= need * JUST_OVER:
            found.append(Signal("just_over_threshold", {"what": what, "required": canonical(need),
                                                        "credited": canonical(got)}))
    return found
