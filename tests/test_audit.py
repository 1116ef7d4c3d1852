"""Audit: verdicts replay exactly; tampered history is found and named; checkpoints prove heads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from ce_ledger.audit.checkpoint import CHECKPOINTS
from ce_ledger.audit.service import Audit
from ce_ledger.bootstrap import build_ledger
from ce_ledger.domain.chain import event_digest
from ce_ledger.domain.commands import Voiding
from ce_ledger.domain.values import Level
from ce_ledger.rules import nx2019, nx2019_2
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.ruleset import Registry, RuleSet
from tests.builders import VERIFIED, public, registration, specialty, teaching
from tests.tamper import Tamper

VOID = Voiding(reason="证书系伪造", decision_ref="宁人社稽〔2019〕3号")


def qualified(ledger, clock):
    """An intermediate applicant who meets 2019 exactly (324 h, 2015–2018), 12 of them from teaching."""
    pid = ledger.register(registration(), by="test").professional_id
    for year in (2015, 2016, 2017, 2018):
        ledger.record(pid, public("30", date(year, 5, 1)), by="test")
        cert = ledger.record(pid, specialty("48", date(year, 6, 1)), by="test")
        ledger.decide(pid, cert.activity_id, VERIFIED, by="employer:U-1")
    extra = ledger.record(pid, teaching("4", date(2016, 9, 1)), by="test")  # ×3 = 12 h of the total
    return pid, extra.activity_id


@pytest.fixture
def audit(ledger):
    return Audit(ledger)


def test_a_ledger_used_normally_verifies_intact(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
    audit.checkpoint(by="auditor:a")
    report = audit.verify()
    assert report.intact and report.breaks == ()
    # the record (14 events; its 8 claims on platform/certificate keys are rows beside the log),
    # a verdict, its index entry, a checkpoint
    assert report.events == 14 + 1 + 1 + 1 and report.verdict_pins == 1 and report.checkpoints == 1


def test_replay_after_a_later_void_reproduces_and_lists_the_void(ledger, clock, audit):
    pid, extra = qualified(ledger, clock)
    issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
    assert issued.verdict.passed
    clock.now += timedelta(days=30)
    ledger.void(pid, extra, VOID, by="auditor:a")

    replay = audit.replay(issued.originator_id)

    assert replay.reproduced and replay.breaks == ()
    assert replay.recomputed_fingerprint == replay.recorded_fingerprint == issued.verdict.fingerprint
    changes = replay.changes_since
    assert (changes.passed_then, changes.passed_now) == (True, False)
    assert changes.credited_then.total_hours - changes.credited_now.total_hours == Decimal(12)
    [change] = changes.activities
    assert change.activity_id == extra and change.credited_then == Decimal(12) and change.credited_now == 0
    [event] = change.events
    assert event.happened == "voided" and event.reason == VOID.reason and event.by == "auditor:a"
    assert "from passed to not passed" in changes.summary


def test_replay_after_a_late_certificate_reproduces_and_lists_it(ledger, clock, audit):
    pid = ledger.register(registration(), by="test").professional_id
    for year in (2015, 2016, 2017, 2018):
        ledger.record(pid, public("30", date(year, 5, 1)), by="test")
    issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
    assert not issued.verdict.passed
    clock.now += timedelta(days=10)
    late = ledger.record(pid, specialty("204", date(2017, 6, 1)), by="test")  # a 2017 certificate, entered after the verdict
    ledger.decide(pid, late.activity_id, VERIFIED, by="employer:U-1")

    replay = audit.replay(issued.originator_id)

    assert replay.reproduced
    [change] = replay.changes_since.activities
    assert change.activity_id == late.activity_id and change.credited_now == Decimal(204)
    assert [e.happened for e in change.events] == ["recorded", "verified"]
    assert replay.changes_since.passed_now is True


def test_a_verdict_replays_under_its_own_rule_set_after_a_new_one_is_published(settings, clock):
    ledger = build_ledger(settings, clock=clock)
    pid, _ = qualified(ledger, clock)
    issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
    ledger.close()
    # An upgrade: a stricter rule-set for the same year is published and in force.
    stricter = RuleSet(nx2019.PARAMETERS.model_copy(update={"id": "NX-2019-B", "teaching_multiplier": Decimal(1)}), nx2019)
    upgraded = build_ledger(settings, clock=clock, rule_sets=Registry(stricter, *PUBLISHED))
    try:
        assert upgraded.evaluate(pid, Level.INTERMEDIATE, 2019).rule_set.id == "NX-2019-B"
        replay = Audit(upgraded).replay(issued.originator_id)
        assert replay.reproduced and replay.rule_set.id == PUBLISHED.in_force(2019).id == "NX-2019.2"
        assert replay.recomputed_fingerprint == issued.fingerprint
    finally:
        upgraded.close()
    # The same id with other content is not the rule-set the verdict used: said, not hidden.
    edited = RuleSet(nx2019_2.PARAMETERS.model_copy(update={"teaching_multiplier": Decimal(1)}), nx2019_2)
    changed = build_ledger(settings, clock=clock, rule_sets=Registry(edited))
    try:
        replay = Audit(changed).replay(issued.originator_id)
        assert not replay.reproduced and replay.rule_set_digest_now != replay.rule_set.digest
        assert "has changed since" in replay.explanation
    finally:
        changed.close()


# -- tampering ----------------------------------------------------------------------


def test_changed_content_is_found_at_its_version_and_blocks_replay(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
    tamper = Tamper(ledger)
    state = tamper.state(pid, 2)
    state["hours"] = "300"  # a public course inflated behind the ledger's back
    tamper.set_state(pid, 2, state)

    report = audit.verify()
    assert not report.intact
    assert [(b.stream_id, b.version, b.kind) for b in report.breaks] == [(pid, 2, "content_changed")]
    replay = audit.replay(issued.originator_id)
    assert not replay.reproduced and replay.recomputed_fingerprint is None
    assert [(b.version, b.kind) for b in replay.breaks] == [(2, "content_changed")]
    assert "broken" in replay.explanation


def test_a_rewritten_and_resealed_event_is_found_by_its_successor(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    tamper = Tamper(ledger)
    state = tamper.state(pid, 2)
    state["hours"] = "300"
    state.pop("digest")
    state["digest"] = event_digest("PublicCourseCompleted", state)  # the forger knows the scheme
    tamper.set_state(pid, 2, state)
    assert [(b.version, b.kind) for b in audit.verify().breaks] == [(2, "content_changed")]
    assert "resealed" in audit.verify().breaks[0].detail


def test_a_relabelled_decision_is_content_changed(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    tamper = Tamper(ledger)
    topic = "ce_ledger.domain.events:SpecialtyCreditRejected"  # same fields as Verified
    tamper.set_topic(pid, 4, topic)
    assert [(b.version, b.kind) for b in audit.verify().breaks] == [(4, "content_changed")]


def test_a_deleted_event_is_missing(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    Tamper(ledger).delete(pid, 3)
    [broken] = audit.verify().breaks
    assert (broken.stream_id, broken.version, broken.kind) == (pid, 3, "missing")


def test_swapped_events_are_reordered(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    Tamper(ledger).swap(pid, 5, 6)
    assert [(b.stream_id, b.version, b.kind) for b in audit.verify().breaks] == [
        (pid, 5, "reordered"), (pid, 6, "reordered")
    ]


def test_a_deleted_last_event_is_found_by_the_verdict_pin_and_the_checkpoint(ledger, clock, audit):
    pid, _ = qualified(ledger, clock)
    issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
    audit.checkpoint(by="auditor:a")
    last = ledger.professional(pid).version
    Tamper(ledger).delete(pid, last)  # no gap is left: only what pinned the head can tell
    kinds = {(b.stream_id, b.version, b.kind) for b in audit.verify().breaks}
    assert (pid, last, "missing") in kinds and (CHECKPOINTS, 1, "missing") in kinds
    assert not audit.replay(issued.originator_id).reproduced


# -- checkpoints and proofs ---------------------------------------------------------


def test_inclusion_proofs_verify_and_wrong_ones_fail(ledger, clock, audit):
    pids = [qualified(ledger, clock)[0] for _ in range(3)]
    checkpoint = audit.checkpoint(by="auditor:a")
    clock.now += timedelta(days=1)
    ledger.record(pids[0], public("2", date(2019, 1, 5)), by="test")  # after the checkpoint: proofs still use its heads
    for pid in pids:
        proof = audit.prove(pid)
        assert proof.root == checkpoint.root and proof.size == checkpoint.streams
        assert proof.leaf.startswith(f"{pid}:") and proof.verify()
        assert third_party_verify(proof.to_dict())
    proof = audit.prove(pids[1])
    version = int(proof.leaf.split(":")[1])
    assert not replace(proof, leaf=proof.leaf.replace(f":{version}:", f":{version + 1}:")).verify()
    assert not replace(proof, index=(proof.index + 1) % proof.size).verify()
    flipped = ("0" if proof.path[0][0] != "0" else "1") + proof.path[0][1:]
    assert not replace(proof, path=(flipped, *proof.path[1:])).verify()
    assert not third_party_verify({**proof.to_dict(), "root": "00" * 32})


def third_party_verify(proof: dict) -> bool:
    """The verification as documented in docs/audit.md: hashlib only, no ce-ledger code."""
    namespace: dict = {}
    exec(_documented_verifier(), namespace)  # noqa: S102 - the doc's own code is what is tested
    return namespace["verify"](proof)


def _documented_verifier() -> str:
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "audit.md").read_text()
    return text.split("```python\n", 1)[1].split("```", 1)[0]


# -- history as of ------------------------------------------------------------------


def test_history_as_of_a_version_or_a_time(ledger, clock):
    pid = ledger.register(registration(), by="test").professional_id
    ledger.record(pid, public("2", date(2018, 1, 1)), by="test")
    noon = clock.now
    clock.now += timedelta(hours=5)
    ledger.record(pid, public("3", date(2018, 2, 1)), by="test")
    assert len(ledger.history(pid)) == 3
    assert [e.originator_version for e in ledger.history(pid, as_of_version=2)] == [1, 2]
    assert [e.originator_version for e in ledger.history(pid, as_of_time=noon)] == [1, 2]
    assert ledger.history(pid, as_of_time=datetime(2000, 1, 1, tzinfo=UTC)) == []


# -- encryption at rest -------------------------------------------------------------


def test_encrypted_payloads_still_verify_and_replay(settings, clock):
    import base64
    import os

    key = base64.b64encode(os.urandom(32)).decode()
    ledger = build_ledger(settings.model_copy(update={"encryption_key": SecretStr(key)}), clock=clock)
    try:
        pid, extra = qualified(ledger, clock)
        issued = ledger.issue_verdict(pid, Level.INTERMEDIATE, 2019, by="committee:c")
        ledger.void(pid, extra, VOID, by="auditor:a")
        tamper = Tamper(ledger)
        with pytest.raises(ValueError):  # the stored row is ciphertext, not JSON
            tamper.state(pid, 1)
        audit = Audit(ledger)
        assert audit.verify().intact
        assert audit.replay(issued.originator_id).reproduced
    finally:
        ledger.close()
