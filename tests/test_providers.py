"""CE bases (§1(4)): their standing over time, and what it does to certificates and verdicts."""

from __future__ import annotations

from datetime import date

import pytest

from ce_ledger.audit.service import Audit
from ce_ledger.domain.errors import Conflict, InvalidInput, NotFound
from ce_ledger.domain.provider import (
    ProviderLevel,
    ProviderStatusChange,
    ProviderStanding,
    provider_stream,
)
from ce_ledger.domain.values import Level
from tests.builders import VERIFIED, public, registration, specialty


@pytest.fixture
def ledger(memory_ledger):
    """Providers' records and rule-set NX-2019.1 are pure domain: the in-memory store."""
    return memory_ledger

AUDITOR = "auditor:NXRS"


def accredit(ledger, code="NXJY-01", on=date(2012, 1, 1), name="宁夏继续教育基地"):
    return ledger.accredit_provider(
        code, name=name, level=ProviderLevel.REGIONAL, effective_on=on, decision_ref="认定-1", by=AUDITOR
    )


def change(ledger, status, on, code="NXJY-01", **more):
    body = ProviderStatusChange(status=status, effective_on=on, decision_ref=f"{status}-{on}", **more)
    return ledger.change_provider_status(code, body, by=AUDITOR)


def order(ledger, on=date(2017, 3, 1), deadline=date(2017, 6, 30), code="NXJY-01"):
    return change(ledger, "ordered_to_rectify", on, code, deadline=deadline, reason="考核不合格")


def disqualify(ledger, on=date(2017, 7, 1), code="NXJY-01"):
    return change(ledger, "disqualified", on, code, reason="整改后仍不合格")


def person_with_certificates(ledger, *days: date, provider="NXJY-01"):
    pid = ledger.register(registration(), by="test").professional_id
    for y in range(2015, 2019):
        ledger.record(pid, public("27", date(y, 3, 1)), by="test")
    ids = []
    for day in days:
        aid = ledger.record(pid, specialty("100", day, provider=provider), by="test").activity_id
        ledger.decide(pid, aid, VERIFIED, by="employer:U")
        ids.append(aid)
    return pid, ids


def lines(verdict):
    return {line.activity_id: line for line in verdict.items}


# -- the provider's record ---------------------------------------------------------------


def test_a_provider_goes_through_rectification_disqualification_and_reaccreditation(ledger):
    assert accredit(ledger).status == "recorded"
    order(ledger)
    disqualify(ledger)
    change(ledger, "reaccredited", date(2018, 2, 1))
    provider = ledger.provider("NXJY-01")
    assert provider.version == 4 and provider.standing is ProviderStanding.ACCREDITED
    assert provider.standing_on(date(2011, 12, 31)).standing is None
    assert provider.standing_on(date(2017, 3, 1)).standing is ProviderStanding.ORDERED_TO_RECTIFY
    assert provider.standing_on(date(2017, 7, 1)).standing is ProviderStanding.DISQUALIFIED
    assert provider.standing_on(date(2018, 1, 31)).standing is ProviderStanding.DISQUALIFIED
    assert provider.standing_on(date(2018, 2, 1)).standing is ProviderStanding.ACCREDITED


def test_retries_record_nothing_twice_and_other_content_is_a_conflict(ledger):
    accredit(ledger)
    assert accredit(ledger).status == "duplicate"
    with pytest.raises(Conflict) as e:
        accredit(ledger, name="另一个名字")
    assert e.value.field == "code"
    order(ledger)
    assert order(ledger).status == "duplicate"
    assert ledger.provider("NXJY-01").version == 2


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ([("disqualified", date(2017, 7, 1), {"reason": "x"})], "status", "can next be ordered_to_rectify"),
        ([("ordered_to_rectify", date(2017, 3, 1), {"reason": "x"})], "deadline", "needs a deadline"),
        ([("ordered_to_rectify", date(2017, 3, 1), {"deadline": date(2017, 6, 30)})], "reason", "needs a reason"),
        ([("ordered_to_rectify", date(2011, 3, 1), {"deadline": date(2011, 6, 30), "reason": "x"})], "effective_on", "order they took effect"),
        ([("ordered_to_rectify", date(2019, 4, 1), {"deadline": date(2019, 6, 30), "reason": "x"})], "effective_on", "future"),
        (
            [("ordered_to_rectify", date(2017, 3, 1), {"deadline": date(2017, 6, 30), "reason": "x"}),
             ("disqualified", date(2017, 5, 1), {"reason": "x"})],
            "effective_on", "only after the deadline",
        ),
        ([("reaccredited", date(2017, 3, 1), {})], "status", "accredited"),
    ],
)
def test_a_decision_out_of_turn_is_refused_naming_the_field(ledger, steps, field, words):
    accredit(ledger)
    *before, last = steps
    for status, on, more in before:
        change(ledger, status, on, **more)
    with pytest.raises((Conflict, InvalidInput)) as e:
        status, on, more = last
        change(ledger, status, on, **more)
    assert e.value.field == field and words in e.value.rule
    assert ledger.provider("NXJY-01").version == 1 + len(before)


def test_an_unknown_provider_is_not_found(ledger):
    with pytest.raises(NotFound):
        ledger.provider("NOPE-1")


# -- certificates and verdicts -----------------------------------------------------------


def test_a_certificate_dated_while_its_provider_was_disqualified_counts_nothing(ledger):
    accredit(ledger)
    order(ledger)
    disqualify(ledger)
    change(ledger, "reaccredited", date(2018, 2, 1))
    pid, (before, during, after, ordered) = person_with_certificates(
        ledger, date(2016, 5, 1), date(2017, 9, 1), date(2018, 5, 1), date(2017, 4, 1)
    )
    verdict = ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
    assert verdict.rule_set.id == "NX-2019.2"
    by_id = lines(verdict)
    assert by_id[before].credited_hours == 100 and "NXJY-01 accredited since 2012-01-01" in by_id[before].reason
    assert by_id[ordered].credited_hours == 100 and "to rectify by 2017-06-30" in by_id[ordered].reason
    assert by_id[after].credited_hours == 100
    excluded = by_id[during]
    assert excluded.credited_hours == 0 and excluded.counts_toward == "nothing"
    assert "dated 2017-09-01, while CE base NXJY-01 was disqualified (since 2017-07-01" in excluded.reason
    assert "§1(4)" in excluded.reason and excluded.because.code == "base_disqualified"
    assert verdict.credited.specialty == 300 and any(r.startswith("15.") for r in verdict.readings)
    # NX-2019, still published for verdicts issued under it, credits all four.
    assert ledger.evaluate(pid, Level.INTERMEDIATE, 2019, rule_set="NX-2019").credited.specialty == 400


def test_a_provider_without_a_record_is_no_ground_to_exclude(ledger):
    pid, (aid,) = person_with_certificates(ledger, date(2016, 5, 1), provider="LEGACY-9")
    line = lines(ledger.evaluate(pid, Level.INTERMEDIATE, 2019))[aid]
    assert line.credited_hours == 100 and "CE base LEGACY-9 has no record in the ledger: flagged for the auditors" in line.reason


def test_a_verdict_pins_its_providers_and_replays_exactly_after_a_later_disqualification(ledger):
    accredit(ledger)
    order(ledger)  # deadline 2017-06-30
    pid, (aid,) = person_with_certificates(ledger, date(2017, 9, 1))
    issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:C")
    provider_pins = [p for p in issued.pins if p.role == "provider"]
    assert [(p.stream_id, p.version) for p in provider_pins] == [(provider_stream("NXJY-01"), 2)]
    assert lines(issued.verdict)[aid].credited_hours == 100

    disqualify(ledger)  # effective 2017-07-01: before the certificate's date
    assert lines(ledger.evaluate(pid, Level.INTERMEDIATE, 2019))[aid].credited_hours == 0

    replay = Audit(ledger).replay(issued.originator_id)
    assert replay.reproduced and replay.recomputed_fingerprint == issued.fingerprint
    (changed,) = replay.changes_since.activities
    assert changed.activity_id == aid and (changed.credited_then, changed.credited_now) == (100, 0)
    (event,) = changed.events
    assert (event.happened, event.stream, event.version) == ("provider_disqualified", "provider", 3)
    assert Audit(ledger).verify().breaks == ()


def test_the_view_recredits_certificates_when_their_provider_is_disqualified(services):
    ledger = services.ledger
    accredit(ledger)
    order(ledger)
    pid, _ = person_with_certificates(ledger, date(2017, 9, 1))
    assert services.totals.window(pid, 2015, 2018).credited.specialty == 100
    disqualify(ledger)
    totals = services.totals.window(pid, 2015, 2018)
    verdict = ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
    assert totals.credited.specialty == 0 and totals.credited == verdict.credited
    # A rebuild from the log gives the same rows as the upkeep did.
    before = services.view.dump(services.projection.current_version())
    version, _ = services.projection.rebuild()
    assert services.view.dump(version) == before


def test_an_earlier_decision_sent_again_is_a_retry_not_out_of_turn(ledger):
    # A client (or the demo run again) re-sends every decision in order: each one already
    # recorded is a duplicate, wherever it stands in the record.
    accredit(ledger)
    steps = [
        ProviderStatusChange(status="ordered_to_rectify", effective_on=date(2017, 1, 10), decision_ref="D-1",
                             deadline=date(2017, 4, 30), reason="评估不合格"),
        ProviderStatusChange(status="disqualified", effective_on=date(2017, 6, 1), decision_ref="D-2", reason="整改不到位"),
        ProviderStatusChange(status="reaccredited", effective_on=date(2018, 2, 1), decision_ref="D-3"),
    ]
    for step in steps:
        assert ledger.change_provider_status("NXJY-01", step, by="auditor:a").status == "recorded"
    version = ledger.provider("NXJY-01").version
    for step in steps:
        assert ledger.change_provider_status("NXJY-01", step, by="auditor:a").status == "duplicate"
    assert ledger.provider("NXJY-01").version == version
