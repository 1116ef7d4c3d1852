"""The record index: a command reads what it needs of a record, not the whole record.

Each activity's events are filed under its terms (the activity, its retry key, a day of
teaching) in the same transaction as the events; a command loads the head, the events under its own terms
and, unless it records an activity, the registration. On both stores: what a command reads does not grow with
the record, every rule the whole record enforced still holds, and a store written before the
index existed (or restored from a backup) has its index built from its events at start-up.
"""

from __future__ import annotations

from datetime import date

import pytest

from ce_ledger.bootstrap import build_ledger
from ce_ledger.domain.commands import Voiding
from ce_ledger.domain.errors import Conflict, InvalidInput, NotFound
from ce_ledger.domain.professional import terms_to_decide, terms_to_record
from tests.builders import VERIFIED, public, registration, specialty, teaching

DEEP = 150  # twice a five-year window's depth


def _deep_record(ledger):
    pid = ledger.register(registration(), by="platform").professional_id
    for start in range(0, DEEP, 50):
        ledger.record_batch([(pid, public("1", date(2018, 1, 1 + n % 28), f"PR-deep-{start + n}"))
                             for n in range(50)], by="platform")
    return pid


def test_a_command_reads_the_same_few_events_at_any_depth(ledger):
    pid = _deep_record(ledger)
    claim = specialty("8", date(2018, 3, 1), cert="C-DEEP")
    claimed = ledger.record(pid, claim, by="employer:UNIT-001")
    ledger.record(pid, teaching("6", date(2018, 3, 2)), by="employer:UNIT-001")

    part = ledger.in_part({pid: terms_to_record(claim)})[pid]
    assert part is not None and not part.whole
    assert part.version == DEEP + 3  # sealed after the real head
    assert list(part.activities) == [claimed.activity_id]  # of 152 activities, the one under its key

    deciding = ledger.in_part({pid: terms_to_decide(claimed.activity_id)})[pid]
    assert list(deciding.activities) == [claimed.activity_id]

    # Through the commands: a retry, a conflict, a decision, its retry, a void, the same key again.
    assert ledger.record(pid, claim, by="employer:UNIT-001").status == "duplicate"
    with pytest.raises(Conflict):
        ledger.record(pid, claim.model_copy(update={"hours": claim.hours + 1}), by="employer:UNIT-001")
    assert ledger.decide(pid, claimed.activity_id, VERIFIED, by="committee:1").status == "recorded"
    assert ledger.decide(pid, claimed.activity_id, VERIFIED, by="committee:1").status == "duplicate"
    ledger.void(pid, claimed.activity_id, Voiding(reason="证书编号错误", decision_ref="宁人社〔2019〕1号"),
                by="auditor:1")
    again = ledger.record(pid, claim.model_copy(update={"hours": claim.hours + 1}), by="employer:UNIT-001")
    assert again.status == "recorded" and again.activity_id != claimed.activity_id

    # 24 hours a day still counts the day's other teaching, however deep the record.
    with pytest.raises(InvalidInput) as refused:
        ledger.record(pid, teaching("19", date(2018, 3, 2)), by="employer:UNIT-001")
    assert refused.value.field == "hours_taught"

    # The whole record agrees with what the commands saw.
    whole = ledger.professional(pid, copy=False)
    assert whole.version == DEEP + 6 and len(whole.activities) == DEEP + 3


def test_recording_reads_no_registration_and_refuses_a_stream_that_is_not_a_record(ledger, monkeypatch):
    """Recording an activity decides nothing from the person, so its record is read without the
    registration (one index descent, one heap page and one decode less a completion); that the
    stream is a record's is told by the kind of its last event. A verdict's or a unit's stream is
    not a record: refused as before, one command or in a batch, nothing recorded."""
    pid = ledger.register(registration(), by="platform").professional_id
    course = public("2", date(2018, 1, 2), "PR-no-registration")
    part = ledger.in_part({pid: terms_to_record(course)}, registration=False)[pid]
    assert part is not None and part.registration is None and not part.knows_person and part.version == 1
    with pytest.raises(RuntimeError):  # a command about the person refuses a record read this way
        part.differs_from("某人", part.series, "UNIT-001")
    assert ledger.in_part({pid: terms_to_record(course)})[pid].registration is not None  # asked for: read
    asked: list[bool] = []  # what the recording commands ask of the store
    reading = ledger.recorder.in_part
    monkeypatch.setattr(ledger.recorder, "in_part", lambda wanted, registration=True, claimed=None: (
        asked.append(registration), reading(wanted, registration, claimed))[1])
    ledger.record(pid, public("1", date(2018, 1, 5), "PR-asked-1"), by="platform")
    ledger.record_batch([(pid, public("1", date(2018, 1, 6), "PR-asked-2"))], by="platform")
    assert asked == [False, False]
    monkeypatch.undo()

    verdict = ledger.issue_verdict(pid, "intermediate", 2019, by="committee:1")
    unit, _ = ledger.name_unit("UNIT-NR", "某单位", by="platform")
    before = ledger.position()
    for other in (verdict.originator_id, unit.originator_id):
        assert ledger.in_part({other: terms_to_record(course)}, registration=False) == {other: None}
        with pytest.raises(NotFound):
            ledger.record(other, course, by="platform")
        assert [type(r) for r in ledger.record_batch([(other, course)], by="platform")] == [NotFound]
    assert ledger.position() == before
    assert ledger.record(pid, course, by="platform").status == "recorded"

    # Whatever of its kinds a record ends with, it is a record: a decision, a void.
    claimed = ledger.record(pid, specialty("8", date(2018, 3, 1), cert="C-NR"), by="employer:UNIT-001")
    ledger.decide(pid, claimed.activity_id, VERIFIED, by="committee:1")
    assert ledger.record(pid, public("1", date(2018, 1, 3), "PR-after-decision"), by="platform").status == "recorded"
    ledger.void(pid, claimed.activity_id, Voiding(reason="证书编号错误", decision_ref="宁人社〔2019〕1号"), by="auditor:1")
    done = ledger.record_batch([(pid, public("1", date(2018, 1, 4), "PR-after-void"))], by="platform")
    assert [r.status for r in done] == ["recorded"]


def test_a_store_without_its_index_builds_it_at_start(settings, clock):
    ledger = build_ledger(settings, clock=clock)
    pid = ledger.register(registration(), by="platform").professional_id
    claim = specialty("8", date(2018, 3, 1), cert="C-OLD")
    ledger.record(pid, claim, by="employer:UNIT-001")
    ledger.record(pid, teaching("20", date(2018, 3, 2)), by="employer:UNIT-001")
    recorder = ledger.recorder
    # As a store written before the index existed: no rows, not ready.
    _forget_index(recorder)
    ledger.close()

    reopened = build_ledger(settings, clock=clock)
    try:
        assert reopened.recorder.index_ready()
        assert reopened.record(pid, claim, by="employer:UNIT-001").status == "duplicate"
        with pytest.raises(InvalidInput):
            reopened.record(pid, teaching("5", date(2018, 3, 2)), by="employer:UNIT-001")
    finally:
        reopened.close()


def test_a_store_whose_key_claims_were_events_builds_the_rows_at_start(settings, clock):
    """Until December 2026 a claim on a global key was an ``ActivityKeyReserved`` event on the
    key's own stream. Such a store has those events and no claim rows: at start the rows are
    built from the activities (a claim taken again after a void under its next number), and one
    credit across everyone holds as before."""
    from ce_ledger.domain.events import ActivityKeyReserved
    from ce_ledger.services.base import Events, key_stream

    ledger = build_ledger(settings, clock=clock)
    first, second, third = (ledger.register(registration(), by="platform").professional_id for _ in range(3))
    cert = specialty("8", date(2018, 3, 1), cert="C-KEY")
    held = ledger.record(first, cert, by="employer:UNIT-001")
    ledger.void(first, held.activity_id, Voiding(reason="录错", decision_ref="更正-1"), by="auditor:a")
    taken = ledger.record(second, cert, by="employer:UNIT-001")  # the void freed it: the second claim
    course = ledger.record(first, public("2", date(2018, 4, 1), "PR-KEY-1"), by="platform")
    claims = {k: ledger.key_claims(k) for k in (cert.canonical_key(), public("2", date(2018, 4, 1), "PR-KEY-1")
                                                  .canonical_key())}
    assert [(c.version, c.professional_id) for c in claims[cert.canonical_key()]] == [(1, first), (2, second)]
    # The events the old code wrote beside them, on each key's own stream.
    now, _ = ledger.now()
    old, link = [], {}
    for key, found in claims.items():
        for c in found:
            event = ActivityKeyReserved.next_in_chain(key_stream(key), link.get(key), recorded_at=now,
                                                      professional_id=c.professional_id, activity_id=c.activity_id,
                                                      caused_by="platform", channel="direct")
            link[key] = event.link
            old.append(event)
    ledger.save(Events(old))
    _forget_claims(ledger.recorder)
    ledger.close()

    reopened = build_ledger(settings, clock=clock)
    try:
        assert reopened.recorder.index_ready()
        assert {k: reopened.key_claims(k) for k in claims} == claims
        with pytest.raises(Conflict, match="reading 12"):
            reopened.record(third, cert, by="employer:UNIT-001")
        assert reopened.record(second, cert, by="employer:UNIT-001").status == "duplicate"
        again = reopened.record(first, public("2", date(2018, 4, 1), "PR-KEY-1"), by="platform")
        assert (again.activity_id, again.status, taken.status) == (course.activity_id, "duplicate", "recorded")
    finally:
        reopened.close()


def test_a_claim_row_deleted_behind_the_ledgers_back_is_found_by_verify(settings, clock):
    """The claims are derived rows, not evidence (docs/audit.md): a forger who deletes one lets a
    second person take the certificate, and `verify` lists the two live activities under one key."""
    from ce_ledger.audit.service import Audit

    ledger = build_ledger(settings, clock=clock)
    try:
        first, second = (ledger.register(registration(), by="platform").professional_id for _ in range(2))
        cert = specialty("8", date(2018, 3, 1), cert="C-FORGED")
        ledger.record(first, cert, by="employer:UNIT-001")
        assert Audit(ledger).verify().collisions == ()
        _forget_claims(ledger.recorder, ready=True)
        assert ledger.record(second, cert, by="employer:UNIT-001").status == "recorded"
        report = Audit(ledger).verify()
        assert [(c.key, {a.professional_id for a in c.activities}) for c in report.collisions] == [
            (cert.canonical_key(), {first, second})]
        # The claim also leads a read of its key to the holder's activity: deleted, the holder's
        # retry records the activity again, and `verify` lists the activity twice under its key.
        course = public("1", date(2018, 4, 1), "PR-FORGED")
        held = ledger.record(first, course, by="platform")
        _forget_claims(ledger.recorder, ready=True)
        assert ledger.record(first, course, by="platform").status == "recorded"
        report = Audit(ledger).verify()
        assert [(c.key, [a.activity_id for a in c.activities]) for c in report.collisions][-1] == (
            course.canonical_key(), [held.activity_id, held.activity_id])
    finally:
        ledger.close()


def test_a_global_keys_recording_is_found_through_its_claim(settings, clock):
    """A completion or a certificate holds a claim on its key, and the claim names the term the
    activity's events are filed under. The recording is filed under that term only: one index row
    fewer for each. A read of the key finds the activity through the claim. Decisions and voids
    stay filed under the key too. A claim written before claims named their term still finds its
    activity by the key's own rows, and a build of the index gives it its term."""
    from ce_ledger.domain.professional import KEY_TERM, activity_term
    from ce_ledger.services.base import term_key

    ledger = build_ledger(settings, clock=clock)
    pid, other = (ledger.register(registration(), by="platform").professional_id for _ in range(2))
    course = public("2", date(2018, 4, 1), "PR-CLAIMED")
    done = ledger.record(pid, course, by="platform")
    key, own = term_key(KEY_TERM + course.canonical_key()), term_key(activity_term(done.activity_id))
    (held,) = ledger.key_claims(course.canonical_key())
    assert held.activity_term == own
    assert _terms(ledger.recorder, pid) == {(own, 2)}  # the recording: under its own term only
    assert ledger.record(pid, course, by="platform").status == "duplicate"
    with pytest.raises(Conflict):
        ledger.record(pid, course.model_copy(update={"hours": course.hours + 1}), by="platform")
    with pytest.raises(Conflict, match="reading 12"):
        ledger.record(other, course, by="platform")
    ledger.void(pid, done.activity_id, Voiding(reason="录错", decision_ref="更正-1"), by="auditor:a")
    assert _terms(ledger.recorder, pid) == {(own, 2), (own, 3), (key, 3)}  # the void: under the key too
    again = ledger.record(pid, course.model_copy(update={"hours": course.hours + 1}), by="platform")
    assert (again.status, ledger.record(pid, course, by="platform").status) == ("recorded", "duplicate")

    # A new store knows every claim names its term: a read of a global key takes no key term.
    assert ledger.recorder.claims_complete()
    asked: list[dict] = []
    reading = ledger.recorder.in_part
    ledger.recorder.in_part = lambda wanted, registration=True, claimed=None: (
        asked.append(wanted), reading(wanted, registration, claimed))[1]
    ledger.record(pid, public("1", date(2018, 4, 2), "PR-ONE-PROBE"), by="platform")
    ledger.record(pid, teaching("2", date(2018, 4, 3)), by="employer:UNIT-001")
    assert [len(w[pid]) for w in asked] == [0, 2]  # the teaching's key and day; the course's claims only
    del ledger.recorder.in_part

    # A claim as written before December 2026: no term, and its recording filed under the key. In
    # a store written then (not known complete), a read takes the key's term as well.
    late = public("1", date(2018, 5, 1), "PR-OLD-CLAIM")
    old = ledger.record(pid, late, by="platform")
    version = ledger.professional(pid, copy=False).version
    _as_before_terms(ledger.recorder, pid, key=term_key(KEY_TERM + late.canonical_key()), version=version)
    assert ledger.key_claims(late.canonical_key())[0].activity_term is None
    ledger.close()
    written_before = build_ledger(settings, clock=clock)
    try:
        retried = written_before.record(pid, late, by="platform")
        assert (retried.activity_id, retried.status) == (old.activity_id, "duplicate")
        with pytest.raises(Conflict):
            written_before.record(pid, late.model_copy(update={"hours": late.hours + 1}), by="platform")
        _forget(written_before.recorder, "keys", False, delete=False)  # as a store whose claims are to be built
    finally:
        written_before.close()

    reopened = build_ledger(settings, clock=clock)
    try:
        assert reopened.recorder.index_ready() and reopened.recorder.claims_complete()
        assert reopened.key_claims(late.canonical_key())[0].activity_term == term_key(activity_term(old.activity_id))
        assert reopened.record(pid, late, by="platform").status == "duplicate"
    finally:
        reopened.close()


def test_an_activity_without_a_claim_keeps_its_keys_term_read(settings, clock):
    """An activity under a global key whose id this ledger does not make (an imported history's)
    holds no claim, and the audit reports its record. A build of the index that meets one leaves
    the store not known complete, so reads of global keys take the keys' own terms again: a retry
    of that activity is still found, a duplicate, not recorded a second time."""
    import uuid

    from ce_ledger.domain.events import EVENT_FOR_DETAILS
    from ce_ledger.services.base import Events

    ledger = build_ledger(settings, clock=clock)
    pid = ledger.register(registration(), by="platform").professional_id
    course = public("2", date(2018, 4, 1), "PR-FOREIGN")
    record = ledger.professional(pid, copy=False)
    now, _ = ledger.now()
    foreign = EVENT_FOR_DETAILS[type(course)].next_in_chain(
        pid, (record.version, record.head_digest), activity_id=uuid.uuid4(), recorded_at=now, caused_by="migration",
        channel="import", **{n: getattr(course, n) for n in type(course).model_fields})
    ledger.save(Events([foreign]))
    _forget_index(ledger.recorder)  # as a store restored from another system's history: built at start
    ledger.close()

    reopened = build_ledger(settings, clock=clock)
    try:
        assert reopened.recorder.index_ready() and not reopened.recorder.claims_complete()
        assert reopened.key_claims(course.canonical_key()) == []
        again = reopened.record(pid, course, by="platform")
        assert (again.activity_id, again.status) == (foreign.activity_id, "duplicate")
    finally:
        reopened.close()


@pytest.mark.parametrize("two_people", [False, True], ids=["one record", "two records"])
def test_a_rebuilt_index_still_finds_activities_whose_keys_collide_once_canonical(settings, clock, monkeypatch,
                                                                                    two_people):
    """A store written before keys were compared in one spelling (reading 16) may hold one
    certificate under two spellings, and the audit lists them. Both activities make the same claim,
    and only one row can hold it. A rebuilt index therefore files every recording under its key
    too, and the store is not known complete (a claim is missing), so a read takes the key's term:
    retries stay duplicates, before and after a void of one of them (found in review)."""
    from ce_ledger.domain.details import SpecialtyCredit

    ledger = build_ledger(settings, clock=clock)
    a = ledger.register(registration(), by="platform").professional_id
    b = ledger.register(registration(), by="platform").professional_id if two_people else a
    first = specialty("2", date(2018, 4, 1), "C-7a", provider="NXJD-01")
    second = specialty("2", date(2018, 4, 1), "c-7A", provider="nxjd-01")
    with monkeypatch.context() as before:  # compared as typed, as then
        before.setattr(SpecialtyCredit, "canonical_key", lambda self: self.natural_key())
        ledger.record(a, first, by="platform")
        x2 = ledger.record(b, second, by="platform")
    _forget(ledger.recorder, "index", False)  # as a store restored from a backup: both built again
    _forget(ledger.recorder, "keys", False)
    ledger.close()

    ledger = build_ledger(settings, clock=clock)
    try:
        assert len(ledger.key_claims(first.canonical_key())) == 1 and not ledger.recorder.claims_complete()
        assert [ledger.record(a, first, by="platform").status, ledger.record(b, second, by="platform").status] == [
            "duplicate", "duplicate"]
        ledger.void(b, x2.activity_id, Voiding(reason="重复登记", decision_ref="稽-1"), by="auditor:a")
        assert [ledger.record(a, first, by="platform").status, ledger.record(b, second, by="platform").status] == [
            "duplicate", "duplicate"]
    finally:
        ledger.close()


def test_the_memory_store_finds_a_global_keys_activity_through_its_claim(memory_ledger):
    pid = memory_ledger.register(registration(), by="platform").professional_id
    course = public("2", date(2018, 4, 1), "PR-CLAIMED")
    done = memory_ledger.record(pid, course, by="platform")
    part = memory_ledger.in_part({pid: terms_to_record(course)}, registration=False)[pid]
    assert list(part.activities) == [done.activity_id]
    assert memory_ledger.record(pid, course, by="platform").status == "duplicate"


def _sql(recorder, statement: str, params: tuple = ()) -> list[tuple]:
    """``statement`` with ``{index}`` and ``{keys}`` named as this store names them (SQLite's
    placeholders, UUIDs as hex; PostgreSQL's)."""
    schema = getattr(recorder.datastore, "schema", None)
    names = {t: f'"{schema}"."{recorder.events_table_name}_{t}"' if schema else f"{recorder.events_table_name}_{t}"
             for t in ("index", "keys", "keys_complete")}
    if not schema:
        statement, params = statement.replace("%s", "?"), tuple(p.hex if hasattr(p, "hex") and not isinstance(
            p, (int, float)) else p for p in params)
    with recorder.datastore.transaction(commit=True) as c:
        c.execute(statement.format(**names), params)
        return [tuple(r.values() if isinstance(r, dict) else r) for r in c.fetchall()] if statement.startswith("SELECT") else []


def _terms(recorder, stream) -> set[tuple[int, int]]:
    return set(_sql(recorder, "SELECT term, version FROM {index} WHERE stream_id = %s", (stream,)))


def _as_before_terms(recorder, stream, *, key: int, version: int) -> None:
    """The newest recording on ``stream`` as the code before December 2026 left it: filed under
    its key, its claim without the term; and the store not known to have every claim's term."""
    _sql(recorder, "INSERT INTO {index} VALUES (%s, %s, %s)", (stream, key, version))
    _sql(recorder, "UPDATE {keys} SET activity_term = NULL WHERE professional_id = %s AND activity_term IN "
                   "(SELECT term FROM {index} WHERE stream_id = %s AND version = %s)", (stream, stream, version))
    _sql(recorder, "UPDATE {keys_complete} SET complete = %s", (False,))


def _forget_claims(recorder, ready: bool = False) -> None:
    _forget(recorder, "keys", ready)


def _forget_index(recorder) -> None:
    _forget(recorder, "index", False)


def _forget(recorder, table: str, ready: bool, *, delete: bool = True) -> None:
    """Empty a table derived from the events (unless not ``delete``) and set its readiness, as a store without it."""
    table = f"{recorder.events_table_name}_{table}"
    schema = getattr(recorder.datastore, "schema", None)
    name = f'"{schema}"."{table}"' if schema else table
    state = f'"{schema}"."{table}_state"' if schema else f"{table}_state"
    flag = str(ready).lower() if schema else int(ready)  # PostgreSQL's boolean, SQLite's integer
    with recorder.datastore.transaction(commit=True) as c:
        if delete:
            c.execute(f"DELETE FROM {name}")
        c.execute(f"UPDATE {state} SET ready = {flag}")


def test_decisions_and_voids_in_batches_answer_item_by_item(ledger):
    pid = ledger.register(registration(), by="platform").professional_id
    claims = [ledger.record(pid, specialty("8", date(2018, 3, n)), by="employer:UNIT-001").activity_id
              for n in (1, 2)]
    course = ledger.record(pid, public("2", date(2018, 3, 3)), by="platform").activity_id
    done = ledger.decide_batch([(pid, claims[0], VERIFIED), (pid, claims[1], VERIFIED), (pid, course, VERIFIED),
                                (pid, claims[0], VERIFIED)], by="committee:1")
    assert [getattr(r, "status", None) for r in done] == ["recorded", "recorded", None, "duplicate"]
    assert isinstance(done[2], InvalidInput) and done[2].field == "activity_id"
    void = Voiding(reason="重复录入", decision_ref="宁人社〔2019〕2号")
    voided = ledger.void_batch([(pid, claims[1], void), (pid, claims[1], void)], by="auditor:1")
    assert [r.status for r in voided] == ["recorded", "duplicate"]
    whole = ledger.professional(pid, copy=False)
    assert [whole.activities[c].status.value for c in claims] == ["verified", "voided"]


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_a_clash_psycopg_reports_early_is_still_a_clash(settings, clock, monkeypatch):
    """Two writers of one record: the second's insert clashes. PostgreSQL may answer that before
    the index rows are sent; psycopg then raises the clash from that later statement, before the
    library's sync, and the transaction's end met a broken pipeline ("pipeline aborted", a 500 in
    the two-server test under load) instead of the clash a command retries."""
    import time

    from eventsourcing.persistence import IntegrityError

    from ce_ledger.storage.postgres import LedgerRecorder

    ledger = build_ledger(settings, clock=clock)
    try:
        pid = ledger.register(registration(), by="test").professional_id
        ledger.record(pid, public("1", date(2018, 1, 1), "PR-early"), by="test")
        taken = ledger.recorder.select_events(pid)[-1]
        columns = LedgerRecorder._columns

        def answered_first(rows):
            time.sleep(0.2)  # the clash's answer is in before the index rows go out
            return columns(rows)

        monkeypatch.setattr(LedgerRecorder, "_columns", staticmethod(answered_first))
        with pytest.raises(IntegrityError):
            ledger.recorder.insert_events([taken], index=[(pid, 1, taken.originator_version)])
        monkeypatch.undo()
        # And the connection serves the next command.
        ledger.record(pid, public("1", date(2018, 1, 2), "PR-after"), by="test")
    finally:
        ledger.close()


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_a_start_beside_a_writer_waits_for_none_of_its_tables(settings, clock):
    """A server worker or an import process starts while others write. Making what is already
    there waits for no lock a writer holds on its index rows and claims, which it inserts before
    the events. An ALTER TABLE that added nothing still took the claims table's strongest lock:
    it queued behind a writer's open transaction, while the start already held the library's lock
    on the events table (its ``CREATE INDEX IF NOT EXISTS``), which that writer's events insert
    then waited for — a deadlock, found as a hung two-process import in the bench."""
    import threading

    first = build_ledger(settings, clock=clock)
    try:
        recorder = first.recorder
        with recorder.datastore.transaction(commit=False) as curs:  # a writer's, its index rows and claims in
            for table in ("index", "keys"):
                curs.execute(f'LOCK TABLE "{recorder.datastore.schema}"."{recorder.events_table_name}_{table}" '
                             "IN ROW EXCLUSIVE MODE")
            started: list = []
            starting = threading.Thread(target=lambda: started.append(build_ledger(settings, clock=clock)), daemon=True)
            starting.start()
            # Within the 5 s after which PostgreSQL ends an idle transaction (ours): a start that
            # waited for it was let through only then.
            starting.join(timeout=4)
            assert started, "the start waited for a writer's transaction"
            started[0].close()
    finally:
        first.close()


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_a_start_on_postgres_takes_one_connection_to_create_its_tables(settings, monkeypatch):
    """Every server, worker and command starts this way. The stores' creation lock is taken once
    for all of them (it was a connection per store and recorder), and each pool is opened then,
    waiting for its one connection (opened by the library on its first request, it grew by one for
    that request): 4 connections, not 10. PostgreSQL down, a start still fails at once
    (``test_cli_output``)."""
    import psycopg

    from ce_ledger.bootstrap import build_services

    made: list[str] = []
    pooled, plain = psycopg.Connection.connect, psycopg.connect
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(
        lambda cls, *a, **k: made.append("pool") or pooled.__func__(cls, *a, **k)))
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: made.append("lock") or plain(*a, **k))
    with build_services(settings):
        pass
    assert sorted(made) == ["lock", "pool", "pool", "pool"]  # the ledger, the token registry, the view


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_the_views_async_reads_open_one_connection(services, monkeypatch):
    """The server reads totals on its event loop through a pool of its own, opened by the first
    read and waiting for its connection (opened without waiting, it grew by one for that read)."""
    import asyncio

    import psycopg

    made: list[str] = []
    connect = psycopg.AsyncConnection.connect
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", classmethod(
        lambda cls, *a, **k: made.append("async") or connect.__func__(cls, *a, **k)))
    pid = str(services.ledger.register(registration(), by="test").professional_id)

    async def reads() -> None:
        for _ in range(3):
            await services.view.read_async([pid], 2015, 2019)
        await services.view.aclose()

    asyncio.run(reads())
    assert made == ["async"]
