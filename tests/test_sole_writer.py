"""A sole writer's batches (``record_batch(sole_writer=True)``: an import share, a migration).

The first try reads nothing it can do without: not a global key's activities (a record that has
one holds the key's claim, so the save fails) and not the head of a record this process wrote
last. Whatever that try got wrong — a retry, a key another person holds, a head another writer
moved on — makes the save fail, and the batch is decided again with everything read: the
outcomes and the stored rows are those of a batch that read everything.
"""

from __future__ import annotations

from datetime import date

import pytest

from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from ce_ledger.domain.commands import Voiding
from ce_ledger.domain.errors import Conflict, InvalidInput
from ce_ledger.services import base
from tests.builders import Clock, id_number, public, registration, teaching
from tests.conftest import TEST_KEY

VOID = Voiding(reason="重复录入", decision_ref="宁人社〔2019〕1号")


def _spy(ledger, monkeypatch) -> list[tuple[dict, dict]]:
    """What the batches ask the store to read: one entry a query, the terms by stream and the
    global keys whose claims by the stream are read (``Store.in_part``)."""
    asked: list[tuple[dict, dict]] = []
    reading = ledger.recorder.in_part
    monkeypatch.setattr(ledger.recorder, "in_part", lambda wanted, registration=True, claimed=None: (
        asked.append((wanted, claimed or {})), reading(wanted, registration, claimed))[1])
    return asked


def test_a_sole_writer_reads_less_and_records_the_same(settings, clock, monkeypatch):
    ledger = build_ledger(settings, clock=clock)
    other = build_ledger(settings, clock=clock)  # another process on the same store
    try:
        p1 = ledger.register(registration(), by="platform").professional_id
        p2 = ledger.register(registration(), by="platform").professional_id
        first = ledger.record_batch([(p1, public("2", date(2018, 1, 2), "PR-S1")),
                                     (p2, public("2", date(2018, 1, 2), "PR-S2")),
                                     (p1, teaching("10", date(2018, 3, 2), "T-S1"))], by="platform", sole_writer=True)
        assert [r.status for r in first] == ["recorded"] * 3

        # Records it wrote, global keys: nothing read at all.
        asked = _spy(ledger, monkeypatch)
        done = ledger.record_batch([(p1, public("1", date(2018, 1, 3), "PR-S3")),
                                    (p2, public("1", date(2018, 1, 3), "PR-S4"))], by="platform", sole_writer=True)
        assert [r.status for r in done] == ["recorded", "recorded"] and asked == []

        # Another writer moves p1 on: the head kept is stale, the first try fails on the version,
        # the batch is decided again on what is stored, and the chain stays whole.
        other.record(p1, public("1", date(2018, 1, 4), "PR-S5"), by="platform")
        forgotten: list = []
        forget = ledger.forget_heads
        monkeypatch.setattr(ledger, "forget_heads", lambda streams: (forgotten.extend(streams), forget(streams)))
        done = ledger.record_batch([(p1, public("1", date(2018, 1, 5), "PR-S6")),
                                    (p2, public("1", date(2018, 1, 5), "PR-S7"))], by="platform", sole_writer=True)
        assert [r.status for r in done] == ["recorded", "recorded"]
        assert forgotten == [p1, p2]  # the first try failed, and its heads are read next time
        assert ledger.chain_breaks({p1: None, p2: None}) == []
        assert [e.originator_version for e in ledger.history(p1)] == list(range(1, 7))

        # The same batch again (a resumed import): duplicates, nothing stored twice …
        before = ledger.position()
        again = ledger.record_batch([(p1, public("1", date(2018, 1, 5), "PR-S6")),
                                     (p2, public("1", date(2018, 1, 5), "PR-S7"))], by="platform", sole_writer=True)
        assert [r.status for r in again] == ["duplicate", "duplicate"] and ledger.position() == before
        # … and the next batch reads its keys, until one records every item as new.
        asked.clear()
        ledger.record_batch([(p1, public("1", date(2018, 1, 6), "PR-S8"))], by="platform", sole_writer=True)
        assert len(asked) == 1 and asked[0][1][p1] != []  # the key, through the claims
        asked.clear()
        ledger.record_batch([(p1, public("1", date(2018, 1, 7), "PR-S9"))], by="platform", sole_writer=True)
        assert asked == []

        # A key another person holds: refused, the others recorded; the day's teaching still counts.
        ledger._fresh_keys = True  # its first try unread, as after a batch of new rows
        done = ledger.record_batch([(p2, public("2", date(2018, 1, 2), "PR-S1")),
                                    (p2, public("1", date(2018, 1, 8), "PR-S10")),
                                    (p1, teaching("15", date(2018, 3, 2), "T-S2"))], by="platform", sole_writer=True)
        assert isinstance(done[0], Conflict) and done[1].status == "recorded"
        assert isinstance(done[2], InvalidInput) and done[2].field == "hours_taught"

        # A void frees the key for someone else, who takes it as the next claim.
        ledger.void(p1, first[0].activity_id, VOID, by="auditor:1")
        ledger._fresh_keys = True
        done = ledger.record_batch([(p2, public("2", date(2018, 1, 2), "PR-S1"))], by="platform", sole_writer=True)
        assert done[0].status == "recorded"
        assert [c.professional_id for c in ledger.key_claims("platform-record:PR-S1")] == [p1, p2]
        assert ledger.chain_breaks({p1: None, p2: None}) == []
    finally:
        other.close()
        ledger.close()


def _script(ledger, sole_writer: bool) -> tuple[list, list]:
    """Batches that meet every case of the first try, on a fresh store: what they answered
    and every stored row."""
    pids = [ledger.register(registration(id_number(born="19700101", seq=n)), by="platform").professional_id
            for n in (1, 2)]
    p1, p2 = pids
    batches = [
        [(p1, public("2", date(2018, 1, 2), "PR-A")), (p2, public("2", date(2018, 1, 2), "PR-B")),
         (p1, teaching("10", date(2018, 3, 2), "T-A"))],
        [(p1, public("1", date(2018, 1, 3), "PR-C")), (p2, public("1", date(2018, 1, 3), "PR-D"))],
        [(p1, public("1", date(2018, 1, 3), "PR-C")), (p2, public("1", date(2018, 1, 9), "PR-E"))],  # a retry
        [(p2, public("2", date(2018, 1, 2), "PR-A")), (p1, teaching("15", date(2018, 3, 2), "T-B"))],
        [(p1, public("1", date(2018, 1, 3), "PR-C")), (p1, public("3", date(2018, 1, 3), "PR-C"))],  # a conflict
        [(p1, public("9", date(2030, 1, 1), "PR-F")), (p2, public("1", date(2018, 2, 1), "PR-G"))],  # the future
    ]
    answers = []

    def record(batch):
        # Every batch's first try unread: after a retry the ledger would read keys until a batch is all new.
        ledger._fresh_keys = True
        return [(type(r).__name__, r.field) if isinstance(r, Exception) else r
                for r in ledger.record_batch(batch, by="platform", sole_writer=sole_writer)]

    for k, batch in enumerate(batches):
        answers.append(record(batch))
        if k == 3:
            ledger.void(p1, answers[0][0].activity_id, VOID, by="auditor:1")
            answers.append(record([(p2, public("2", date(2018, 1, 2), "PR-A"))]))
    rows = [(r.originator_id, r.originator_version, r.topic, bytes(r.state)) for p in pids
            for r in ledger.recorder.select_events(p)]
    return answers, rows


def test_a_sole_writer_answers_and_stores_what_a_batch_that_reads_everything_does():
    runs = []
    for sole_writer in (False, True):
        ledger = build_ledger(Settings(database_url="memory:", secret_key=TEST_KEY), clock=Clock())
        try:
            runs.append(_script(ledger, sole_writer))
        finally:
            ledger.close()
    assert runs[0] == runs[1]
    answers = runs[1][0]
    assert [getattr(r, "status", r) for r in answers[2]] == ["duplicate", "recorded"]
    assert answers[4][0].status == "recorded"  # the key a void freed, taken by another person
    assert answers[5][0].status == "duplicate" and answers[5][1][0] == "Conflict"  # other content, same key
    assert answers[6][0][0] == "InvalidInput" and answers[6][1].status == "recorded"


def test_the_heads_kept_are_bounded(memory_ledger, monkeypatch):
    monkeypatch.setattr(base, "HEADS_KEPT", 3)
    pids = [memory_ledger.register(registration(), by="platform").professional_id for _ in range(5)]
    memory_ledger.record_batch([(p, public("1", date(2018, 1, 2))) for p in pids], by="platform", sole_writer=True)
    assert list(memory_ledger.written_heads()) == pids[2:]  # the last three written


def test_only_a_global_key_is_left_to_its_claim():
    from ce_ledger.domain.professional import terms_to_record

    assert terms_to_record(public("1", date(2018, 1, 2)), key=False) == ()
    with pytest.raises(ValueError):
        terms_to_record(teaching("2", date(2018, 3, 2)), key=False)


def test_saves_refused_at_their_claim_leave_the_connection_usable(settings, clock):
    """On PostgreSQL the index rows and claims go before the writers' lock and the events' insert,
    so a claim another record holds aborts the transaction before them, and the statements after
    it are skipped. The connection must stay usable (none of them is prepared, so none can be left
    counted as prepared by psycopg): a process whose first save is refused, then refusals and
    saves in turn, more of them than psycopg's prepare threshold, on the one connection of its pool."""
    first = build_ledger(settings, clock=clock)
    second = None
    try:
        holder = first.register(registration(), by="platform").professional_id
        other = first.register(registration(), by="platform").professional_id
        courses = [public("1", date(2018, 1, 2 + n), f"PR-U{n}") for n in range(8)]
        assert [r.status for r in first.record_batch([(holder, c) for c in courses], by="platform")] == ["recorded"] * 8
        second = build_ledger(settings, clock=clock)  # its connection has written nothing yet
        for n, course in enumerate(courses):
            refused = second.record_batch([(other, course)], by="platform", sole_writer=n % 2 == 0)
            assert isinstance(refused[0], Conflict)
            assert second.record(other, public("1", date(2018, 2, 1 + n), f"PR-V{n}"), by="platform").status == "recorded"
        assert len(second.history(other)) == 9 and len(second.history(holder)) == 9
        assert second.chain_breaks({holder: None, other: None}) == []
    finally:
        for ledger in (first, second):
            if ledger is not None:
                ledger.close()


def test_a_clash_before_the_lock_goes_up_as_a_clash_wherever_it_surfaces(monkeypatch):
    """PostgreSQL answers the claims' insert (before the writers' lock) while the next statements
    are being sent, and psycopg raises its error at whichever statement reads results next. Made
    to surface at the lock (the answer has arrived by then), the clash must still go up as the
    library's IntegrityError — one try a save, no "pipeline aborted" retried by the library."""
    import time

    from tests.conftest import postgres_schema

    with postgres_schema("s") as url:
        ledger = build_ledger(Settings(database_url=url, secret_key=TEST_KEY, postgres_pool_size=1), clock=Clock())
        try:
            holder = ledger.register(registration(), by="platform").professional_id
            other = ledger.register(registration(), by="platform").professional_id
            course = public("1", date(2018, 1, 2), "PR-LATE")
            ledger.record(holder, course, by="platform")
            locking = ledger.recorder._lock_table
            tries: list[float] = []

            def late(curs, **kwargs):
                tries.append(time.monotonic())
                time.sleep(0.05)  # the claims' error has arrived: the lock's statement reads it
                locking(curs, **kwargs)

            monkeypatch.setattr(ledger.recorder, "_lock_table", late)
            started = time.monotonic()
            refused = ledger.record_batch([(other, course)], by="platform")
            assert isinstance(refused[0], Conflict)
            assert len(tries) == 3  # the batch twice, then the command alone: one try each
            assert time.monotonic() - started < 1.5
            monkeypatch.undo()
            assert ledger.record(other, public("1", date(2018, 1, 3), "PR-LATE-2"), by="platform").status == "recorded"
        finally:
            ledger.close()
