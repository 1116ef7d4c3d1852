"""Rule-set NX-2019.1: NX-2019 plus the standing of CE bases (notice §1(4)).

NX-2019 as first published credited every verified certificate, whoever issued it.
The same notice says a base still failing after its order to rectify is
disqualified, so a certificate dated while its issuer was disqualified must count
nothing. NX-2019 is frozen (reading 6; verdicts issued under it replay under it), so
this is a new rule-set, in force for 2019 from its publication. It takes NX-2019's
credit of every activity and changes only what a provider's record changes; its
digest covers NX-2019's source as well as its own (``BUILDS_ON``).

Published and frozen like NX-2019: new behaviour belongs in a new module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from ce_ledger.domain.professional import Activity, Professional, Status
from ce_ledger.domain.provider import ProviderRegister, Standing
from ce_ledger.domain.values import ActivityKind, Level, Series
from ce_ledger.rules import nx2019
from ce_ledger.rules.nx2019 import (  # re-exported: the read side asks the rule-set's module
    CREDITED_KINDS,
    YEARLY_KINDS,
    Assessment,
    count_degrees,
    credited,
    substitute_exams,
    window_for,
)
from ce_ledger.rules.ruleset import Parameters, RuleSet
from ce_ledger.rules.verdict import ZERO, CountsToward, Required, Verdict, VerdictLine, Window

__all__ = [
    "CREDITED_KINDS", "YEARLY_KINDS", "assess", "count_degrees", "credited", "effects_in", "evaluate",
    "substitute_exams", "window_for",
]

BUILDS_ON = (nx2019,)
READS_PROVIDERS = True

PARAMETERS = nx2019.PARAMETERS.model_copy(
    update={
        "id": "NX-2019.1",
        "title": nx2019.PARAMETERS.title + "（含继续教育基地资格，§1(4)）",
    }
)

READING_15 = (
    "15. A specialty certificate dated while its provider (CE base) was disqualified counts "
    "nothing (§1(4)); a provider with no record in the ledger, or not yet accredited on that "
    "date, is no ground to exclude it: only a disqualification is."
)
NO_PROVIDERS: ProviderRegister = {}


def assess(
    params: Parameters, activity: Activity, series: Series, providers: ProviderRegister = NO_PROVIDERS
) -> Assessment:
    """NX-2019's credit, then the certificate's provider on the certificate's date."""
    effect = nx2019.assess(params, activity, series)
    if activity.kind is not ActivityKind.SPECIALTY or activity.status is not Status.VERIFIED:
        return effect
    code = activity.recorded.provider_code  # type: ignore[attr-defined]
    provider = providers.get(code)
    if provider is None:
        return effect._replace(
            reason=f"{effect.reason}; provider {code} has no record in the ledger (reading 15)",
            readings=(*effect.readings, 15),
        )
    on = provider.standing_on(activity.occurred_on)
    if on.standing is Standing.DISQUALIFIED:
        return effect._replace(
            credited=ZERO,
            credited_as=None,
            counts_toward=CountsToward.NOTHING,
            reason=f"{effect.reason.removesuffix(' (§3(1), §3(5))')}, but the certificate is dated while "
            f"{on.describe()}: a disqualified CE base's certificate counts nothing (§1(4))",
            readings=(15,),
        )
    return effect._replace(
        reason=f"{effect.reason}; {on.describe()} (§1(4))",
        readings=(*effect.readings, 15) if on.standing is None else effect.readings,
    )


def effects_in(
    params: Parameters,
    activities: list[Activity],
    series: Series,
    window: Window,
    providers: ProviderRegister = NO_PROVIDERS,
) -> dict[Activity, Assessment]:
    effects = nx2019.effects_in(params, activities, series, window)
    for activity in _in_window_specialty(activities, window):
        effects[activity] = assess(params, activity, series, providers)
    return effects


def _in_window_specialty(activities: Iterable[Activity], window: Window) -> Iterable[Activity]:
    # NX-2019 credits outside-window and voided activities nothing before asking
    # assess; only what it passed to assess can be changed by a provider.
    for activity in activities:
        if activity.kind is ActivityKind.SPECIALTY and (activity.void is not None or activity.occurred_on in window):
            yield activity


def evaluate(
    params: Parameters,
    record: Professional,
    level: Level,
    evaluation_year: int,
    digest: str,
    providers: ProviderRegister = NO_PROVIDERS,
) -> Verdict:
    """NX-2019's verdict with each specialty line re-assessed against its provider,
    and the totals, result and readings worked out again from the lines."""
    base = nx2019.evaluate(params, record, level, evaluation_year, digest)
    window = base.window
    activities = {a.id: a for a in _in_window_specialty(record.activities.values(), window)}
    lines: list[VerdictLine] = []
    readings = {int(r.split(".", 1)[0]) for r in base.readings}
    for line in base.items:
        activity = activities.get(line.activity_id)
        if activity is None:
            lines.append(line)
            continue
        effect = assess(params, activity, record.series, providers)
        readings.update(effect.readings)
        lines.append(
            line.model_copy(
                update={
                    "credited_hours": effect.credited,
                    "credited_as": effect.credited_as,
                    "counts_toward": effect.counts_toward,
                    "reason": effect.reason,
                }
            )
        )
    by_kind = dict.fromkeys(CREDITED_KINDS, ZERO)
    for line in lines:
        if line.credited_as is not None:
            by_kind[line.credited_as] += line.credited_hours
    totals = credited(by_kind)
    requirement = params.requirements[level]
    shortfall = Required(
        total_hours=max(ZERO, requirement.total_hours - totals.total_hours),
        public_hours=max(ZERO, requirement.public_hours - totals.public_hours),
    )
    waived = base.waived_by_degree
    passed = waived or (shortfall.total_hours == 0 and shortfall.public_hours == 0)
    texts = {**{int(r.split(".", 1)[0]): r for r in base.readings}, 15: READING_15}
    return base.model_copy(
        update={
            "credited": totals,
            "shortfall": shortfall,
            "passed": passed,
            "summary": nx2019.summarise(
                level, window, requirement, totals.public_hours, totals.total_hours, waived, passed
            ),
            "readings": tuple(texts[r] for r in sorted(readings)),
            "items": tuple(lines),
        }
    )


RULE_SET = RuleSet(PARAMETERS, sys.modules[__name__])
