"""Commands: bad input names the field and rule and records nothing; retries record once."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from ce_ledger.domain.commands import Verification, Voiding
from ce_ledger.domain.details import (
    Degree,
    ExamPass,
    PublicCourse,
    SpecialtyCredit,
    StudyTour,
    Teaching,
)
from ce_ledger.domain.errors import Conflict, InvalidInput, NotFound
from ce_ledger.domain.values import Decision, Level
from tests.builders import (
    VERIFIED,
    degree,
    public,
    registration,
    specialty,
    teaching,
    tour,
)


@pytest.fixture
def pid(ledger):
    return ledger.register(registration(), by="test").professional_id


def problems(model, **fields):
    with pytest.raises(ValidationError) as e:
        model(**fields)
    err = InvalidInput.from_validation(e.value)
    return err.problems


COURSE = dict(record_id="R-1", course_code="GX-1", title="公需课", hours="2", completed_on="2016-01-01")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"hours": "0"}, "hours", "greater than 0"),
        ({"hours": "-3"}, "hours", "greater than 0"),
        ({"hours": "1.005"}, "hours", "at most 2 decimal places"),
        ({"hours": "1001"}, "hours", "less than or equal to 1000"),
        ({"hours": "NaN"}, "hours", "finite number"),
        ({"hours": 1.5}, "hours", "not a float"),
        ({"completed_on": "1949-12-31"}, "completed_on", "greater than or equal to 1950-01-01"),
        ({"title": "a\x00b"}, "title", "control characters"),
        ({"title": ""}, "title", "at least 1 character"),
        ({"record_id": "has space"}, "record_id", "letters, digits"),
        ({"extra": "x"}, "extra", "Extra inputs are not permitted"),
    ],
)
def test_bad_public_course_fields_are_named(change, field, rule):
    ((got_field, got_rule), *_) = problems(PublicCourse, **{**COURSE, **change})
    assert got_field == field and rule in got_rule


def test_model_rules_name_their_field():
    ((f, r),) = problems(
        Degree, degree="higher", institution="宁夏大学", enrolled_on="2016-09-01", graduated_on="2015-07-01"
    )
    assert f == "graduated_on" and "after enrolled_on" in r
    ((f, r),) = problems(
        StudyTour, first_day="2016-01-01", last_day="2016-01-02", days=3, subject="x", document_ref="D1"
    )
    assert f == "days" and "do not fit" in r
    ((f, r),) = problems(ExamPass, exam="computer_module", passed_on="2016-01-01", certificate_no="C1")
    assert f == "module"
    ((f, r),) = problems(
        SpecialtyCredit, provider_code="P", certificate_no="C", route="bribery", subject="s", hours="1",
        completed_on="2016-01-01",
    )
    assert f == "route" and "industry_exam" in r
    ((f, r),) = problems(Teaching, taught_on="2016-01-01", hours_taught="25", course="c", document_ref="T")
    assert f == "hours_taught" and "24" in r


def test_a_date_in_the_future_is_refused_and_nothing_recorded(ledger, pid, clock):
    before = len(ledger.history(pid))
    with pytest.raises(InvalidInput) as e:
        ledger.record(pid, public("2", date(2019, 3, 26)), by="test")  # the clock says 2019-03-25 in Ningxia
    assert e.value.field == "completed_on" and "future" in e.value.rule
    assert len(ledger.history(pid)) == before
    ledger.record(pid, public("2", date(2019, 3, 25)), by="test")  # today is fine


def test_more_than_24_hours_taught_in_one_day_is_refused(ledger, pid):
    ledger.record(pid, teaching("20", date(2016, 5, 1)), by="test")
    with pytest.raises(InvalidInput, match="more than 24 hours taught on 2016-05-01") as e:
        ledger.record(pid, teaching("4.5", date(2016, 5, 1)), by="test")
    assert e.value.field == "hours_taught"
    ledger.record(pid, teaching("4", date(2016, 5, 1)), by="test")


def test_unknown_professional(ledger):
    from uuid import uuid4

    with pytest.raises(NotFound, match="no such professional"):
        ledger.record(uuid4(), public("1", date(2016, 1, 1)), by="test")


def test_retry_of_the_same_record_is_a_duplicate_and_other_content_a_conflict(ledger, pid):
    course = public("2", date(2016, 1, 1), record_id="PLAT-9")
    first = ledger.record(pid, course, by="test")
    again = ledger.record(pid, course.model_copy(update={"hours": Decimal("2.00")}), by="test")
    assert (first.status, again.status) == ("recorded", "duplicate")
    assert first.activity_id == again.activity_id
    with pytest.raises(Conflict) as e:
        ledger.record(pid, course.model_copy(update={"hours": Decimal(3)}), by="test")
    assert e.value.field == "hours" and "platform-record:PLAT-9" in e.value.rule
    assert len(ledger.history(pid)) == 2


def test_a_platform_record_or_certificate_is_one_credit_across_everyone(ledger, pid):
    other = ledger.register(registration(), by="test").professional_id
    course = public("2", date(2016, 1, 1), record_id="PLAT-77")
    cert = specialty("30", date(2016, 1, 1), cert="NO-5")
    ledger.record(pid, course, by="test")
    ledger.record(pid, cert, by="test")
    with pytest.raises(Conflict, match="another professional") as e:
        ledger.record(other, course, by="test")
    assert e.value.field == "record_id"
    with pytest.raises(Conflict, match="another professional") as e:
        ledger.record(other, cert, by="test")
    assert e.value.field == "certificate_no"
    assert len(ledger.history(other)) == 1


def test_a_voided_key_may_be_recorded_again_with_corrected_content(ledger, pid):
    wrong = specialty("60", date(2016, 1, 1), cert="NO-8")
    first = ledger.record(pid, wrong, by="test")
    ledger.void(pid, first.activity_id, Voiding(reason="学时录入错误", decision_ref="R-1"), by="committee:X")
    fixed = ledger.record(pid, wrong.model_copy(update={"hours": Decimal(16)}), by="test")
    assert fixed.status == "recorded" and fixed.activity_id != first.activity_id
    assert ledger.record(pid, wrong, by="test").activity_id == first.activity_id  # the old retry still finds the old one
    assert len(ledger.professional(pid).activities) == 2


def test_another_person_may_take_a_certificate_voided_on_the_wrong_record(ledger, pid):
    other = ledger.register(registration(), by="test").professional_id
    cert = specialty("30", date(2016, 1, 1), cert="NO-11")
    wrong = ledger.record(pid, cert, by="test")
    ledger.void(pid, wrong.activity_id, Voiding(reason="录错人员", decision_ref="R-2"), by="committee:X")
    right = ledger.record(other, cert, by="test")
    assert right.status == "recorded" and right.activity_id != wrong.activity_id
    assert ledger.record(other, cert, by="test").activity_id == right.activity_id


def test_verification_is_final_and_retries_are_duplicates(ledger, pid):
    (claim,) = [ledger.record(pid, specialty("30", date(2016, 1, 1)), by="test").activity_id]
    assert ledger.decide(pid, claim, VERIFIED, by="employer:U").status == "recorded"
    assert ledger.decide(pid, claim, VERIFIED, by="employer:U").status == "duplicate"
    with pytest.raises(Conflict, match="a decision is final"):
        ledger.decide(pid, claim, Verification(decision=Decision.REJECTED, reason="不相关"), by="committee:X")


def test_only_specialty_credits_are_verified_and_voids_must_name_a_known_activity(ledger, pid):
    from uuid import uuid4

    course = ledger.record(pid, public("2", date(2016, 1, 1)), by="test").activity_id
    with pytest.raises(InvalidInput, match="only a specialty credit is verified"):
        ledger.decide(pid, course, VERIFIED, by="employer:U")
    with pytest.raises(NotFound, match="no activity"):
        ledger.void(pid, uuid4(), Voiding(reason="x", decision_ref="R"), by="auditor:A")
    voiding = Voiding(reason="重复录入", decision_ref="R-3")
    assert ledger.void(pid, course, voiding, by="auditor:A").status == "recorded"
    assert ledger.void(pid, course, voiding, by="auditor:A").status == "duplicate"
    with pytest.raises(Conflict, match="already voided"):
        ledger.void(pid, course, Voiding(reason="另一理由", decision_ref="R-4"), by="auditor:A")


def test_every_event_carries_valid_time_and_transaction_time(ledger, pid, clock):
    clock.now = datetime(2019, 3, 25, 9, 30, tzinfo=UTC)
    ledger.record(pid, specialty("30", date(2016, 8, 1)), by="test")
    registered, claimed = ledger.history(pid)
    assert claimed.valid_on == date(2016, 8, 1)
    assert claimed.recorded_at == datetime(2019, 3, 25, 9, 30, tzinfo=UTC)
    assert registered.valid_on == date(2019, 3, 25)


def test_a_batch_records_the_good_items_and_reports_the_bad(ledger, pid):
    from uuid import uuid4

    dup = public("1", date(2016, 1, 1), record_id="B-1")
    ledger.record(pid, dup, by="test")
    results = ledger.record_batch(
        [
            (pid, public("2", date(2016, 2, 1), record_id="B-2")),
            (pid, dup),
            (pid, dup.model_copy(update={"hours": Decimal(5)})),
            (uuid4(), public("2", date(2016, 2, 1), record_id="B-3")),
            (pid, public("2", date(2030, 1, 1), record_id="B-4")),
            (pid, public("3", date(2016, 3, 1), record_id="B-5")),
        ]
    , by="test")
    kinds = [r.status if hasattr(r, "status") else type(r).__name__ for r in results]
    assert kinds == ["recorded", "duplicate", "Conflict", "NotFound", "InvalidInput", "recorded"]
    again = ledger.record_batch([(pid, public("2", date(2016, 2, 1), record_id="B-2"))], by="test")
    assert again[0].status == "duplicate"
    assert ledger.evaluate(pid, Level.INTERMEDIATE, 2019).credited.public_course == 6


def test_concurrent_writers_on_one_professional_lose_nothing(ledger, pid):
    """Threads race on one stream: optimistic concurrency plus retry keeps every event."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(8):
                ledger.record(pid, public("1", date(2016, 1, 1), record_id=f"T{n}-{i}"), by="test")
        except BaseException as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    record = ledger.professional(pid)
    assert len(record.activities) == 48 and record.version == 49
    assert ledger.evaluate(pid, Level.INTERMEDIATE, 2019).credited.public_course == 48


def test_the_same_batch_from_several_threads_records_each_item_once(ledger, pid):
    batch = [(pid, public("1", date(2016, 1, 1), record_id=f"S-{i}")) for i in range(20)]
    outcomes: list = []
    barrier = threading.Barrier(4)

    def send() -> None:
        barrier.wait()
        outcomes.append(ledger.record_batch(batch, by="test"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.professional(pid).activities) == 20
    for results in outcomes:
        assert all(r.status in ("recorded", "duplicate") for r in results)
    assert sum(r.status == "recorded" for results in outcomes for r in results) == 20


def test_history_at_a_version_is_the_record_as_it_was(ledger, pid):
    ledger.record(pid, public("50", date(2016, 1, 1)), by="test")
    ledger.record(pid, public("60", date(2016, 1, 1)), by="test")
    then = ledger.evaluate(pid, Level.INTERMEDIATE, 2019, version=2)
    now = ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
    assert (then.credited.public_course, then.record_version) == (50, 2)
    assert now.credited.public_course == 110


def test_the_same_record_gives_the_same_verdict_bytes(ledger, pid, settings, clock):
    from ce_ledger.bootstrap import build_ledger

    ledger.record(pid, public("12.5", date(2016, 1, 1)), by="test")
    ledger.record(pid, tour(2, date(2016, 1, 1), date(2016, 1, 2)), by="test")
    ledger.record(pid, degree(date(2016, 9, 1), date(2018, 7, 1)), by="test")
    first = ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)  # later, in another process
    other = build_ledger(settings, clock=clock)
    try:
        second = other.evaluate(pid, Level.INTERMEDIATE, 2019)
    finally:
        other.close()
    assert first.canonical_json() == second.canonical_json()
    assert first.fingerprint == second.fingerprint


@pytest.mark.parametrize(
    ("details", "other_content"),
    [
        (public("2", date(2016, 1, 1), record_id="K-1"), {"title": "另一课程"}),
        (specialty("30", date(2016, 1, 1), cert="K-2"), {"subject": "另一主题"}),
        (tour(2, date(2016, 1, 1), date(2016, 1, 3), ref="宁交考〔2016〕4号"), {"days": 3}),
        (teaching("3", date(2016, 1, 1), ref="宁教函〔2016〕9号"), {"hours_taught": Decimal(2)}),
        (ExamPass(exam="computer_module", module="WORD", passed_on=date(2012, 1, 1), certificate_no="K-5"),
         {"passed_on": date(2012, 2, 1)}),
        (degree(date(2012, 9, 1), date(2016, 7, 1), hours="90"), {"certified_hours": Decimal(100)}),
    ],
    ids=["public-course", "specialty", "study-tour", "teaching", "exam-pass", "degree"],
)
def test_retry_keys_of_every_kind(ledger, pid, details, other_content):
    """Reading 13: same key and content → the same activity; same key, other content → conflict."""
    first = ledger.record(pid, details, by="test")
    assert ledger.record(pid, details, by="test") == type(first)(first.activity_id, "duplicate")
    with pytest.raises(Conflict) as e:
        ledger.record(pid, details.model_copy(update=other_content), by="test")
    assert e.value.field == next(iter(other_content))
    assert len(ledger.professional(pid).activities) == 1


LONG, WRITES = 150, 50


def test_readers_and_writers_of_one_cached_record_in_many_threads(settings, clock):
    """Cached records are shared by threads: a reader must never see one being brought up to date
    (the library copied a cached record outside its lock: "dictionary changed size")."""
    from ce_ledger.bootstrap import build_ledger

    ledger = build_ledger(settings.model_copy(update={"cache_size": 100}), clock=clock)
    try:
        pid = ledger.register(registration(), by="test").professional_id
        # A long record first, without the readers (each copy of it takes a while: the window the race
        # needs); then the writes they race with. 150 writes raced were 8–10 s of CPU under load.
        ledger.record_batch([(pid, public("0.5", date(2015, 1, 1) + timedelta(days=i))) for i in range(LONG)], by="test")
        errors: list[BaseException] = []
        done = threading.Event()

        def write() -> None:
            try:
                for i in range(WRITES):
                    ledger.record(pid, public("0.5", date(2016, 1, 1) + timedelta(days=i)), by="test")
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                done.set()

        def read(for_update: bool) -> None:
            try:
                while not done.is_set():
                    record = ledger.professional(pid, copy=for_update)
                    assert len(record.activities) == record.version - 1
                    ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=write), *(threading.Thread(target=read, args=(i % 2 == 0,)) for i in range(4))]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up at once
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(interval)
        assert errors == []
        assert len(ledger.professional(pid).activities) == LONG + WRITES
    finally:
        ledger.close()


def test_a_write_does_not_wait_for_vacuum_or_analyze_of_the_log(ledger, pid, settings):
    """(Auto)vacuum and analyze hold SHARE UPDATE EXCLUSIVE on the events table; the library's
    EXCLUSIVE table lock waited for them (a second or more: the stalls of the scale runs). Writers
    are kept in order by a lock of their own instead, so a write goes through while one runs."""
    if not settings.database_url.startswith("postgres"):
        pytest.skip("PostgreSQL's table locks")
    import time

    import psycopg

    recorder = ledger.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    url = settings.database_url.split("?")[0]
    with psycopg.connect(url) as maintenance:
        maintenance.execute(f"LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE")  # what VACUUM takes
        started = time.monotonic()
        ledger.record(pid, public("1", date(2016, 1, 1)), by="test")
        assert time.monotonic() - started < 2  # the lock timeout is 5 s
        maintenance.rollback()


def test_a_batch_that_lost_a_race_is_decided_again_whole_before_item_by_item(memory_ledger, monkeypatch):
    """Another writer saved first: the batch is decided again on fresh records and saved in one
    transaction, not sent item by item (ten times the cost when two batches touch the same people)."""
    from ce_ledger.services.base import IntegrityError, Store

    ledger = memory_ledger
    pids = [ledger.register(registration(), by="test").professional_id for _ in range(3)]
    items = [(pid, public("1", date(2016, 1, 1))) for pid in pids]
    save, lost = Store.save, []

    def save_losing_once(self, *objs, **kwargs):
        if not lost:
            lost.append(True)
            raise IntegrityError("another writer saved this version first")
        return save(self, *objs, **kwargs)

    monkeypatch.setattr(Store, "save", save_losing_once)
    monkeypatch.setattr(type(ledger), "_record_or_error", lambda *a, **k: pytest.fail("fell back item by item"))
    done = ledger.record_batch(items, by="test")
    assert lost and [d.status for d in done] == ["recorded"] * 3
    assert all(len(ledger.professional(pid).activities) == 1 for pid in pids)


def test_a_batch_of_registrations_gives_what_registering_one_by_one_gives(ledger):
    """``register_batch`` (a migration's people): the new ones opened in one save, the rest as
    ``register`` answers them — a retry, a conflict naming the field, a person twice in the batch,
    a registration that names its unit."""
    here = registration()
    ledger.register(here, by="test")
    fresh, twice = registration(), registration()
    named = registration().model_copy(update={"employer_unit_name": "宁夏交通厅"})
    renamed = here.model_copy(update={"name": "马小明"})
    before = ledger.position()
    saves = []
    save = ledger.save
    ledger.save = lambda *objs, **kw: saves.append(objs) or save(*objs, **kw)
    done = ledger.register_batch([fresh, here, twice, renamed, twice, named], by="migration")
    del ledger.save
    assert len(saves) == 2 and len(saves[0]) == 2  # the two new ones in one save; the unit's namer on its own
    assert [getattr(r, "created", None) for r in done] == [True, False, True, None, False, True]
    assert isinstance(done[3], Conflict) and done[3].field == "name"
    assert done[0].professional_id == ledger.professional_id_for(fresh.id_number)
    assert done[2].professional_id == done[4].professional_id
    assert ledger.unit("UNIT-001").name == "宁夏交通厅"
    for r in (fresh, twice, named):
        record = ledger.professional(ledger.professional_id_for(r.id_number))
        assert record.name == r.name and ledger.history(record.id)[0].caused_by == "migration"
    assert ledger.position() > before
    again = ledger.position()
    assert [r.created for r in ledger.register_batch([fresh, twice], by="migration")] == [False, False]
    assert ledger.position() == again  # a retried batch records nothing
