"""The totals view: the same hours as a verdict, a few rows per query, exact rebuilds."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ce_ledger import demo
from ce_ledger.domain.commands import Verification, Voiding
from ce_ledger.domain.details import (
    Degree,
    ExamPass,
    PublicCourse,
    SpecialtyCredit,
    StudyTour,
    Teaching,
)
from ce_ledger.domain.errors import NoRuleSet
from ce_ledger.domain.values import Decision, Level
from ce_ledger.rules.published import PUBLISHED
from ce_ledger.rules.verdict import Window
from projections.runner import FOLLOWED_TOPICS
from tests.builders import VERIFIED, degree, id_number, public, registration, specialty

NX = PUBLISHED.get("NX-2019")


def credited_by_rules(ledger, pid, window: Window):
    """What a verdict over this window credits: the rule-set evaluated on the events."""
    record = ledger.professional(pid)
    effects = NX.logic.effects_in(NX.parameters, list(record.activities.values()), record.series, window)
    by_kind: dict[str, Decimal] = {}
    for e in effects.values():
        if e.credited_as:
            by_kind[e.credited_as] = by_kind.get(e.credited_as, Decimal(0)) + e.credited
    return NX.logic.credited(by_kind)


def test_view_answers_what_the_verdicts_credit_for_the_demo(services):
    for item in demo.load(services.ledger):
        for level in (Level.INTERMEDIATE, Level.DEPUTY_SENIOR):
            verdict = services.ledger.evaluate(item.professional_id, level, 2019)
            totals = services.totals.window(item.professional_id, verdict.window.from_year, verdict.window.to_year)
            assert totals.credited == verdict.credited
            assert totals.waived_by_degree == verdict.waived_by_degree


# -- property: any record, any window ------------------------------------------------------

days = st.dates(date(2008, 1, 1), date(2019, 3, 20))
hours = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(120), places=1)
activity = st.one_of(
    st.builds(lambda h, d: ("public", h, d), hours, days),
    st.builds(lambda h, d, dec: ("specialty", h, d, dec), hours, days, st.sampled_from([None, "verified", "rejected"])),
    st.builds(lambda n, d: ("tour", n, d), st.integers(1, 5), days),
    st.builds(lambda h, d: ("teaching", h, d), st.decimals(min_value=Decimal("0.5"), max_value=Decimal(6), places=1), days),
    st.builds(lambda m, d: ("exam", m, d), st.sampled_from(["FL", "WORD", "EXCEL", "WORD"]), days),
    st.builds(lambda a, b, h: ("degree", a, b, h), days, st.integers(200, 1500), st.sampled_from([None, Decimal(90)])),
)
record = st.tuples(
    st.booleans(), st.booleans(), st.booleans(),
    st.lists(st.tuples(activity, st.booleans()), min_size=0, max_size=14),
)


def _details(spec, n: int):
    kind = spec[0]
    if kind == "public":
        return PublicCourse(record_id=f"P{n}", course_code="GX", title="t", hours=spec[1], completed_on=spec[2])
    if kind == "specialty":
        return SpecialtyCredit(provider_code="PV", certificate_no=f"C{n}", route="practice", subject="s",
                               hours=spec[1], completed_on=spec[2])
    if kind == "tour":
        days = spec[1]
        first = min(spec[2], date(2019, 3, 25) - timedelta(days=days - 1))  # not ending in the future
        return StudyTour(first_day=first, last_day=first + timedelta(days=days - 1), days=days,
                         subject="s", document_ref=f"D{n}")
    if kind == "teaching":
        return Teaching(taught_on=spec[2], hours_taught=spec[1], course="c", document_ref=f"T{n}")
    if kind == "exam":
        if spec[1] == "FL":
            return ExamPass(exam="foreign_language", passed_on=spec[2], certificate_no=f"E{n}")
        return ExamPass(exam="computer_module", module=spec[1], passed_on=spec[2], certificate_no=f"E{n}")
    enrolled, length, certified = spec[1], spec[2], spec[3]
    graduated = min(enrolled + timedelta(days=length), date(2019, 3, 20))
    if graduated <= enrolled:
        enrolled = graduated - timedelta(days=400)
    return Degree(degree="second", institution=f"大学{n}", enrolled_on=enrolled, graduated_on=graduated,
                  certified_hours=certified)


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record)
def test_for_every_window_the_view_equals_the_rules_on_the_events(services, generated):
    foreign, computer, own_ce, specs = generated
    example = uuid4().hex[:12]  # keys unique to this example: hypothesis replays examples
    ledger = services.ledger
    pid = ledger.register(registration(id_number(), foreign=foreign, computer=computer, own_ce=own_ce), by="test").professional_id
    for n, (spec, void) in enumerate(specs):
        outcome = ledger.record(pid, _details(spec, f"{example}-{n}"), by="test")
        if spec[0] == "specialty" and spec[3]:
            ledger.decide(pid, outcome.activity_id, Verification(decision=Decision(spec[3]), reason="r"), by="c")
        if void:
            ledger.void(pid, outcome.activity_id, Voiding(reason="r", decision_ref="V"), by="a")
    for start in range(2008, 2020):
        for end in range(start, min(start + 6, 2020)):
            window = Window(from_year=start, to_year=end)
            assert services.totals.window(pid, start, end).credited == credited_by_rules(ledger, pid, window), window
    for level in (Level.INTERMEDIATE, Level.DEPUTY_SENIOR):
        verdict = ledger.evaluate(pid, level, 2019)
        totals = services.totals.window(pid, verdict.window.from_year, verdict.window.to_year)
        assert (totals.credited, totals.waived_by_degree) == (verdict.credited, verdict.waived_by_degree)


# -- upkeep -------------------------------------------------------------------------------------


def test_decisions_and_voids_move_the_totals_and_the_pending_claims(services):
    ledger, totals = services.ledger, services.totals
    pid = ledger.register(registration(), by="test").professional_id
    claim = ledger.record(pid, specialty("40", date(2016, 5, 1)), by="test").activity_id
    t = totals.window(pid, 2015, 2018)
    assert (t.credited.specialty, t.pending_claims, t.pending_hours) == (0, 1, 40)
    ledger.decide(pid, claim, VERIFIED, by="employer:U")
    t = totals.window(pid, 2015, 2018)
    assert (t.credited.specialty, t.pending_claims, t.pending_hours) == (40, 0, 0)
    ledger.void(pid, claim, Voiding(reason="伪造", decision_ref="R-1"), by="auditor:A")
    assert totals.window(pid, 2015, 2018).credited.total_hours == 0


def test_a_window_query_reads_a_row_per_year_not_per_event(services):
    ledger = services.ledger
    pid = ledger.register(registration(), by="test").professional_id
    ledger.record_batch([(pid, public("1", date(2014, 1, 1) + timedelta(days=3 * i))) for i in range(500)], by="test")
    _, data = services.view.read([str(pid)], 2015, 2018)
    assert len(data[str(pid)]["years"]) == 4 and data[str(pid)]["window_kinds"] == []
    assert services.totals.window(pid, 2015, 2018).credited.public_course == sum(
        1 for i in range(500) if 2015 <= (date(2014, 1, 1) + timedelta(days=3 * i)).year <= 2018
    )


def test_unit_standing_lists_who_falls_short_and_by_how_much(services):
    ledger = services.ledger
    short = ledger.register(registration(unit="U-9", name="甲"), by="test").professional_id
    done = ledger.register(registration(unit="U-9", name="乙"), by="test").professional_id
    waived = ledger.register(registration(unit="U-9", name="丙"), by="test").professional_id
    ledger.register(registration(unit="U-OTHER"), by="test")
    ledger.record(short, public("100", date(2016, 1, 1)), by="test")
    ledger.record(done, public("108", date(2016, 1, 1)), by="test")
    ledger.decide(done, ledger.record(done, specialty("216", date(2017, 1, 1)), by="test").activity_id, VERIFIED, by="e")
    ledger.record(waived, degree(date(2015, 9, 1), date(2018, 7, 1)), by="test")
    standings = services.totals.unit("U-9", Level.INTERMEDIATE, 2019)
    assert [s.name for s in standings] == ["甲", "丙", "乙"]
    first = standings[0]
    assert not first.meets and (first.shortfall.public_hours, first.shortfall.total_hours) == (8, 224)
    assert standings[1].meets and standings[1].waived_by_degree
    assert standings[2].meets and standings[2].credited.total_hours == 324
    with pytest.raises(NoRuleSet):
        services.totals.unit("U-9", Level.INTERMEDIATE, 2020)


def test_notifications_already_applied_are_skipped(services):
    ledger = services.ledger
    pid = ledger.register(registration(), by="test").professional_id
    ledger.record(pid, public("10", date(2016, 1, 1)), by="test")
    version = services.projection.current_version()
    everything = ledger.recorder.select_notifications(start=0, limit=100)
    assert services.projection.apply_notifications(version, everything) == 0  # all applied inline already
    assert services.totals.window(pid, 2015, 2018).credited.public_course == 10


# -- rebuild ------------------------------------------------------------------------------------


def test_rebuild_gives_the_rows_incremental_upkeep_gave(services, clock):
    ledger = services.ledger
    demo.load(ledger)
    pid = ledger.register(registration(), by="test").professional_id
    claim = ledger.record(pid, specialty("30", date(2016, 1, 1)), by="test").activity_id
    ledger.decide(pid, claim, VERIFIED, by="e")
    old = services.projection.current_version()
    new, applied = services.projection.rebuild(keep_previous=True)
    assert new == old + 1 and services.view.position(new) == ledger.position()
    assert applied == len(ledger.recorder.select_notifications(start=None, limit=10_000, topics=FOLLOWED_TOPICS))
    assert services.projection.current_version() == new
    assert services.view.dump(new) == services.view.dump(old)
    assert sum(len(rows) for rows in services.view.dump(new).values()) > 50
    if not services.settings.is_sqlite:  # PostgreSQL pages split by stream: build in two processes
        split, _ = services.projection.rebuild(parts=2, keep_previous=True)
        assert services.view.dump(split) == services.view.dump(new)
    # A large log is read in position order, batch by batch, as the worker reads it: the same rows.
    before = services.projection.current_version()
    in_order, applied_in_order = services.projection.rebuild(order="log", keep_previous=True)
    assert applied_in_order == applied and services.view.dump(in_order) == services.view.dump(before)


def test_a_rebuild_in_small_groups_of_streams_gives_the_same_rows(services, monkeypatch):
    """Memory holds one group of whole streams at a time: groups of a few rows change nothing."""
    from projections import runner

    demo.load(services.ledger)
    old = services.projection.current_version()
    monkeypatch.setattr(runner, "REBUILD_GROUP", 3)
    monkeypatch.setattr(runner, "REBUILD_BATCH", 2)
    new, _ = services.projection.rebuild(keep_previous=True)
    assert services.view.dump(new) == services.view.dump(old)


def test_past_the_threshold_a_rebuild_reads_the_log_in_position_order(services, monkeypatch):
    """The default order follows the log's size: past LOG_ORDER_FROM rows no stream-by-stream build."""
    from projections import runner

    demo.load(services.ledger)
    old = services.projection.current_version()
    monkeypatch.setattr(runner, "LOG_ORDER_FROM", 0)
    monkeypatch.setattr(services.projection, "build_part", lambda *a, **k: pytest.fail("read stream by stream"))
    new, _ = services.projection.rebuild(keep_previous=True)
    assert services.projection.current_version() == new and services.view.position(new) == services.ledger.position()
    assert services.view.dump(new) == services.view.dump(old)


def test_a_rebuild_drops_the_version_it_replaced_unless_asked_to_keep_it(services):
    demo.load(services.ledger)
    first = services.projection.current_version()
    kept, _ = services.projection.rebuild(keep_previous=True)
    assert services.view.dump(first)  # kept for a rollback
    newest, _ = services.projection.rebuild()
    states = {}
    with services.view.transaction(commit=False) as c:
        c.execute(f"SELECT version, state FROM {services.view.table('totals_versions')}")
        states = {row["version"]: row["state"] for row in c.fetchall()}
    assert states == {first: "dropped", kept: "dropped", newest: "current"}
    with pytest.raises(Exception):
        services.view.dump(first)
    assert services.view.digest(newest)["people"][0] == len(services.view.dump(newest)["people"])


def test_a_view_built_to_another_table_shape_is_rebuilt_at_start(services, clock):
    from ce_ledger.bootstrap import build_services

    ledger = services.ledger
    demo.load(ledger)
    old = services.projection.current_version()
    with services.view.transaction(commit=True) as c:  # as a version built before this release says
        c.execute(services.view.sql(
            f"UPDATE {services.view.table('totals_versions')} SET digest = %s WHERE version = %s"
        ), (services.projection.rule_set.digest, old))
    before = services.view.dump(old)
    with build_services(services.settings, clock=clock) as again:
        new = again.projection.current_version()
        assert new == old + 1 and again.view.dump(new) == before


def test_readers_see_the_old_version_until_the_new_one_is_complete(services):
    ledger = services.ledger
    pid = ledger.register(registration(), by="test").professional_id
    ledger.record_batch([(pid, public("1", date(2016, 1, 1) + timedelta(days=i))) for i in range(30)], by="test")
    projection = services.projection
    old = projection.current_version()
    building = services.view.create_version(NX.id, NX.digest)
    projection.batch_size = 5
    projection._apply_next(building)  # a first batch only: the new version is half built
    assert projection.current_version() == old
    assert services.totals.window(pid, 2016, 2016).credited.public_course == 30
    projection.catch_up(building)
    services.view.switch_to(building)
    assert projection.current_version() == building
    assert services.totals.window(pid, 2016, 2016).credited.public_course == 30


# -- the worker -----------------------------------------------------------------------------------


def test_a_worker_follows_the_log_and_a_reader_can_wait_for_its_write(settings, clock):
    from ce_ledger.bootstrap import build_services

    with build_services(settings.model_copy(update={"view_upkeep": "worker"}), clock=clock) as services:
        pid = services.ledger.register(registration(), by="test").professional_id
        first = services.ledger.record(pid, public("12", date(2016, 1, 1)), by="test")
        with pytest.raises(TimeoutError):
            services.view.wait_for(first.position, timeout=0.3)  # nobody is projecting yet
        stop = threading.Event()
        worker = threading.Thread(target=services.projection.follow, args=(stop, 0.05))
        worker.start()
        try:
            services.view.wait_for(first.position, timeout=10)
            assert services.totals.window(pid, 2016, 2016).credited.public_course == 12
            second = services.ledger.record(pid, public("3", date(2016, 2, 1)), by="test")
            services.view.wait_for(second.position, timeout=10)
            assert services.totals.window(pid, 2016, 2016).credited.public_course == 15
        finally:
            stop.set()
            worker.join(timeout=10)
        assert not worker.is_alive()


def test_the_claims_queue_pages_pending_claims_by_unit(services):
    """The view's queue of claims awaiting a decision (the workbench's), on both stores."""
    ledger = services.ledger
    mine = ledger.register(registration(unit="U-Q"), by="platform:t").professional_id
    theirs = ledger.register(registration(unit="U-R"), by="platform:t").professional_id
    claims = [ledger.record(mine, specialty("10", date(2016, 5, i + 1)), by="employer:U-Q:t").activity_id
              for i in range(3)]
    ledger.record(theirs, specialty("10", date(2016, 6, 1)), by="employer:U-R:t")
    ledger.decide(mine, claims[0], Verification(decision=Decision.VERIFIED, reason="核实"), by="employer:U-Q:t")
    page, total = services.view.pending_claims("U-Q", 1, 0)
    assert total == 2 and [r["activity_id"] for r in page] == [str(claims[1])]
    page, _ = services.view.pending_claims("U-Q", 1, 1)
    assert [r["activity_id"] for r in page] == [str(claims[2])] and page[0]["employer_unit"] == "U-Q"
    assert services.view.pending_claims(None, 10, 0)[1] == 3


def test_people_are_found_by_part_of_their_name_on_both_stores(services):
    ledger = services.ledger
    for name, unit in (("张伟", "U-S"), ("伟%_", "U-S"), ("李伟", "U-T")):
        ledger.register(registration(name=name, unit=unit), by="platform:t")
    assert [r["name"] for r in services.view.search_people("伟", "U-S", 10)] == ["伟%_", "张伟"]
    assert [r["name"] for r in services.view.search_people("%_", None, 10)] == ["伟%_"]
    assert len(services.view.search_people("伟", None, 2)) == 2


def test_a_server_starting_on_a_view_of_another_build_serves_it_while_it_is_rebuilt(services, clock):
    """A rule-set change at start-up does not make the server wait: the old version keeps answering,
    `prepare_stores` says a rebuild is due (``ce-ledger serve`` starts it beside the server)."""
    from ce_ledger.bootstrap import build_services, prepare_stores

    demo.load(services.ledger)
    old = services.projection.current_version()
    with services.view.transaction(commit=True) as c:
        c.execute(services.view.sql(
            f"UPDATE {services.view.table('totals_versions')} SET digest = %s WHERE version = %s"
        ), ("built-by-another-release", old))
    assert prepare_stores(services.settings)
    with build_services(services.settings, clock=clock, rebuild_now=False) as serving:
        assert serving.projection.current_version() == old and serving.projection.needs_rebuild()
    with build_services(services.settings, clock=clock) as cli:  # `ce-ledger rebuild`'s way
        assert cli.projection.current_version() == old + 1 and not cli.projection.needs_rebuild()
