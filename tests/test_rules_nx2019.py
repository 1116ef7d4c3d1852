"""Rule-set NX-2019, row by row and reading by reading, through the real ledger on the
library's in-memory store (pure rules; storage is tested on both stores elsewhere)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ce_ledger.domain.commands import Voiding
from ce_ledger.domain.errors import NoRuleSet
from ce_ledger.domain.values import Level
from ce_ledger.rules.verdict import CountsToward
from tests.builders import (
    REJECTED,
    VERIFIED,
    computer_pass,
    degree,
    foreign_pass,
    public,
    registration,
    specialty,
    teaching,
    tour,
)

D = Decimal


@pytest.fixture
def ledger(memory_ledger):
    return memory_ledger
INTERMEDIATE, DEPUTY, SENIOR, JUNIOR = Level.INTERMEDIATE, Level.DEPUTY_SENIOR, Level.SENIOR, Level.JUNIOR


@pytest.fixture
def person(ledger):
    """Register someone (engineering: no exam required) and return a recorder for them."""

    class Person:
        def __init__(self, **kw):
            self.id = ledger.register(registration(**kw), by="test").professional_id

        def add(self, *details):
            return [ledger.record(self.id, d, by="test").activity_id for d in details]

        def verified(self, *claims):
            ids = self.add(*claims)
            for a in ids:
                ledger.decide(self.id, a, VERIFIED, by="employer:UNIT-001")
            return ids

        def verdict(self, level=INTERMEDIATE, year=2019):
            return ledger.evaluate(self.id, level, year)

        def line(self, verdict, activity_id):
            (line,) = [i for i in verdict.items if i.activity_id == activity_id]
            return line

    return Person


def test_worked_example_a_intermediate_engineering_passes(person):
    p = person()
    early, *_ = p.add(
        public("15", date(2014, 6, 1)),
        public("40", date(2015, 5, 1)),
        public("30", date(2017, 5, 1)),
        public("20", date(2018, 5, 1)),
        computer_pass("WORD", date(2013, 4, 1)),
        computer_pass("EXCEL", date(2013, 5, 1)),
        computer_pass("PPT", date(2013, 6, 1)),
        teaching("8", date(2017, 9, 1)),
        tour(5, date(2016, 4, 1), date(2016, 4, 7)),
    )
    p.verified(specialty("170", date(2016, 10, 1)))
    (pending,) = p.add(specialty("60", date(2018, 11, 1)))
    v = p.verdict()
    assert (v.window.from_year, v.window.to_year) == (2015, 2018)
    assert v.credited.public_course == 90
    assert v.credited.exam_substitution == 30
    assert v.credited.public_hours == 120
    assert v.credited.specialty == 170
    assert v.credited.teaching == 24
    assert v.credited.study_tour == 30
    assert v.credited.total_hours == 344
    assert v.passed and not v.waived_by_degree
    assert p.line(v, early).credited_hours == 0 and "outside the window 2015–2018" in p.line(v, early).reason
    assert p.line(v, pending).credited_hours == 0 and "pending verification" in p.line(v, pending).reason


def test_worked_example_b_series_requiring_exams_fails_on_public(person):
    p = person(foreign=True, computer=True, series="卫生")
    p.add(*(public("20", date(y, 3, 1)) for y in range(2014, 2019)))
    (fl,) = p.add(foreign_pass(date(2009, 6, 1)))
    p.verified(specialty("400", date(2016, 1, 1)))
    v = p.verdict(DEPUTY)
    assert (v.window.from_year, v.window.to_year) == (2014, 2018)
    assert v.credited.public_hours == 100 and v.credited.total_hours == 500
    assert not v.passed
    assert v.shortfall.public_hours == 32 and v.shortfall.total_hours == 0
    assert p.line(v, fl).credited_hours == 0
    assert "requires the foreign-language exam and the computer exam" in p.line(v, fl).reason


def test_worked_example_c_straddling_degree_counts_certified_hours_and_fails(person):
    p = person()
    p.add(*(public("27", date(y, 3, 1)) for y in range(2015, 2019)))
    (deg,) = p.add(degree(date(2014, 9, 1), date(2017, 7, 1), hours="180"))
    v = p.verdict()
    assert v.credited.degree == 180 and v.credited.public_hours == 108
    assert v.credited.total_hours == 288 and not v.passed and not v.waived_by_degree
    line = p.line(v, deg)
    assert line.counts_toward is CountsToward.TOTAL and "before the window" in line.reason


def test_worked_example_c_variant_degree_inside_window_waives(person):
    p = person()
    p.add(public("10", date(2016, 3, 1)))
    (deg,) = p.add(degree(date(2015, 9, 1), date(2017, 7, 1), hours="180"))
    v = p.verdict()
    assert v.passed and v.waived_by_degree
    # credited hours stay the real ones (reading 10): the waiver adds nothing
    assert v.credited.total_hours == 10 and v.credited.degree == 0
    assert p.line(v, deg).counts_toward is CountsToward.WAIVER
    assert "deemed met" in p.line(v, deg).reason and "reading 10" in v.summary


@pytest.mark.parametrize(
    ("level", "total", "public_hours"),
    [(INTERMEDIATE, "324", "108"), (DEPUTY, "396", "132"), (SENIOR, "396", "132")],
)
def test_exactly_the_minimum_passes_and_a_tenth_less_fails(person, level, total, public_hours):
    exact = person()
    exact.add(public(public_hours, date(2017, 1, 1)))
    exact.verified(specialty(str(D(total) - D(public_hours)), date(2017, 2, 1)))
    v = exact.verdict(level)
    assert v.passed and v.credited.total_hours == D(total) and v.credited.public_hours == D(public_hours)

    short_total = person()
    short_total.add(public(public_hours, date(2017, 1, 1)))
    short_total.verified(specialty(str(D(total) - D(public_hours) - D("0.1")), date(2017, 2, 1)))
    v = short_total.verdict(level)
    assert not v.passed and v.shortfall.total_hours == D("0.1") and v.shortfall.public_hours == 0

    short_public = person()
    short_public.add(public(str(D(public_hours) - D("0.1")), date(2017, 1, 1)))
    short_public.verified(specialty(str(D(total)), date(2017, 2, 1)))
    v = short_public.verdict(level)
    assert not v.passed and v.shortfall.public_hours == D("0.1") and v.credited.total_hours > D(total)


def test_senior_follows_the_deputy_senior_row(person):
    p = person()
    p.add(public("132", date(2014, 1, 1)))
    v = p.verdict(SENIOR)
    assert (v.window.from_year, v.required.total_hours, v.required.public_hours) == (2014, 396, 132)
    assert any(r.startswith("7.") for r in v.readings)


def test_junior_has_no_hour_requirement(person):
    v = person().verdict(JUNIOR)
    assert v.passed and v.required.total_hours == 0 and "reading 5" in v.summary


@pytest.mark.parametrize(
    ("on", "intermediate", "deputy"),
    [
        (date(2013, 12, 31), False, False),
        (date(2014, 1, 1), False, True),
        (date(2014, 12, 31), False, True),
        (date(2015, 1, 1), True, True),
        (date(2018, 12, 31), True, True),
        (date(2019, 1, 1), False, False),
    ],
)
def test_window_edges_by_calendar_year(person, clock, on, intermediate, deputy):
    p = person()
    (a,) = p.add(public("10", on))
    assert (p.line(p.verdict(INTERMEDIATE), a).credited_hours == 10) is intermediate
    assert (p.line(p.verdict(DEPUTY), a).credited_hours == 10) is deputy


def test_valid_time_a_2016_certificate_recorded_in_2019_counts_for_2015_2018(person, clock):
    from datetime import UTC, datetime

    clock.now = datetime(2019, 3, 20, tzinfo=UTC)
    p = person()
    (cert,) = p.verified(specialty("50", date(2016, 8, 1)))
    v = p.verdict()
    assert v.credited.specialty == 50
    line = p.line(v, cert)
    assert line.occurred_on == date(2016, 8, 1) and line.credited_as == "specialty"


def test_study_tour_belongs_to_the_year_of_its_last_day_at_six_hours_a_day(person):
    p = person()
    inside, outside = p.add(
        tour(3, date(2014, 12, 30), date(2015, 1, 2)),  # last day in 2015: counts
        tour(2, date(2018, 12, 31), date(2019, 1, 1)),  # last day in 2019: does not
    )
    v = p.verdict()
    assert v.credited.study_tour == 18 and v.credited.public_hours == 0
    line = p.line(v, inside)
    assert line.claimed_hours == 18 and line.arithmetic == "3 d × 6 h/d = 18 h"
    assert line.counts_toward is CountsToward.TOTAL
    assert p.line(v, outside).credited_hours == 0


def test_teaching_is_tripled_into_the_total_never_the_public_minimum(person):
    p = person()
    (t,) = p.add(teaching("2.5", date(2016, 5, 1)))
    v = p.verdict()
    assert v.credited.teaching == D("7.5") and v.credited.total_hours == D("7.5")
    assert v.credited.public_hours == 0
    assert p.line(v, t).arithmetic == "2.5 h taught × 3 = 7.5 h"


def test_teaching_in_a_series_with_its_own_ce_regulation_counts_nothing(person):
    p = person(series="卫生", own_ce=True)
    (t,) = p.add(teaching("4", date(2016, 5, 1)))
    p.add(public("10", date(2016, 5, 2)))
    v = p.verdict()
    assert v.credited.teaching == 0 and v.credited.public_course == 10  # everything else applies
    line = p.line(v, t)
    assert line.claimed_hours == 12 and line.credited_hours == 0 and "own CE regulation" in line.reason


def test_foreign_language_exam_substitutes_40_public_hours_once(person):
    p = person()
    first, second = p.add(foreign_pass(date(2001, 5, 1)), foreign_pass(date(2012, 5, 1)))
    v = p.verdict()
    assert v.credited.exam_substitution == 40 and v.credited.public_hours == 40 and v.credited.total_hours == 40
    assert p.line(v, first).credited_hours == 40
    assert "already counted" in p.line(v, second).reason


def test_computer_modules_count_ten_each_and_a_module_only_once(person):
    p = person()
    a, b, again = p.add(
        computer_pass("WORD", date(2010, 1, 1)),
        computer_pass("EXCEL", date(2016, 1, 1)),
        computer_pass("WORD", date(2016, 2, 1)),
    )
    v = p.verdict()
    assert v.credited.exam_substitution == 20
    assert "module WORD already counted" in p.line(v, again).reason


@pytest.mark.parametrize(("foreign", "computer"), [(True, False), (False, True), (True, True)])
def test_no_substitution_when_the_series_requires_either_exam(person, foreign, computer):
    p = person(foreign=foreign, computer=computer)
    p.add(foreign_pass(date(2010, 1, 1)), computer_pass("WORD", date(2010, 1, 1)))
    assert p.verdict().credited.exam_substitution == 0


def test_exam_passed_after_the_window_does_not_substitute(person, clock):
    p = person()
    late, edge = p.add(computer_pass("WORD", date(2019, 1, 2)), computer_pass("EXCEL", date(2018, 12, 31)))
    v = p.verdict()
    assert p.line(v, late).credited_hours == 0 and "after the window" in p.line(v, late).reason
    assert p.line(v, edge).credited_hours == 10


def test_specialty_counts_only_once_verified(person, ledger):
    p = person()
    pending, verified, rejected = p.add(
        specialty("30", date(2016, 1, 1)), specialty("40", date(2016, 2, 1)), specialty("50", date(2016, 3, 1))
    )
    ledger.decide(p.id, verified, VERIFIED, by="committee:NX-ENG")
    ledger.decide(p.id, rejected, REJECTED, by="committee:NX-ENG")
    v = p.verdict()
    assert v.credited.specialty == 40 and v.credited.total_hours == 40
    assert "pending verification" in p.line(v, pending).reason
    assert "rejected" in p.line(v, rejected).reason and REJECTED.reason in p.line(v, rejected).reason
    assert any(r.startswith("4.") for r in v.readings)


def test_a_voided_activity_stays_listed_and_counts_nothing(person, ledger):
    p = person()
    course, claim = p.add(public("30", date(2016, 1, 1)), specialty("60", date(2016, 2, 1)))
    ledger.decide(p.id, claim, VERIFIED, by="employer:UNIT-001")
    for a in (course, claim):
        ledger.void(p.id, a, Voiding(reason="伪造证书", decision_ref="NXRS-2019-12"), by="auditor:DEPT")
    v = p.verdict()
    assert v.credited.total_hours == 0
    for a in (course, claim):
        line = p.line(v, a)
        assert line.status == "voided" and line.credited_hours == 0
        assert "伪造证书" in line.reason and "NXRS-2019-12" in line.reason


@pytest.mark.parametrize(
    ("enrolled", "graduated", "expect"),
    [
        (date(2015, 1, 1), date(2018, 12, 31), "waiver"),  # both on the window's edges
        (date(2014, 12, 31), date(2016, 7, 1), "hours"),  # enrolled the day before the window
        (date(2014, 9, 1), date(2019, 1, 10), "nothing"),  # graduated after the window
        (date(2010, 9, 1), date(2014, 7, 1), "nothing"),  # graduated before it
    ],
)
def test_degree_by_enrolment_and_graduation(person, clock, enrolled, graduated, expect):
    from datetime import UTC, datetime

    clock.now = datetime(2019, 3, 25, tzinfo=UTC)
    p = person()
    (d,) = p.add(degree(enrolled, graduated, hours="120"))
    v = p.verdict()
    line = p.line(v, d)
    assert v.waived_by_degree is (expect == "waiver")
    assert v.credited.degree == (120 if expect == "hours" else 0)
    if expect == "nothing":
        assert "outside the window" in line.reason


def test_straddling_degree_without_certified_hours_counts_nothing(person):
    p = person()
    (d,) = p.add(degree(date(2013, 9, 1), date(2016, 7, 1)))
    v = p.verdict()
    assert v.credited.degree == 0 and "none were certified" in p.line(v, d).reason


def test_half_hours_add_exactly(person):
    p = person()
    p.add(*(public("0.1", date(2016, 1, i)) for i in range(1, 4)))
    v = p.verdict()
    assert v.credited.public_course == D("0.3")  # 0.1 + 0.1 + 0.1 in floats is 0.30000000000000004
    assert '"public_course":"0.3"' in v.canonical_json().decode()


def test_no_rule_set_in_force_for_another_year(person, ledger):
    p = person()
    with pytest.raises(NoRuleSet, match="no rule-set is in force for evaluation year 2020"):
        p.verdict(year=2020)
    with pytest.raises(NoRuleSet, match="serves evaluation year 2019, not 2018"):
        ledger.evaluate(p.id, INTERMEDIATE, 2018, rule_set="NX-2019")
    with pytest.raises(NoRuleSet, match="no rule-set 'NX-2031'"):
        ledger.evaluate(p.id, INTERMEDIATE, 2019, rule_set="NX-2031")


def test_every_activity_has_a_line_and_the_lines_add_up_to_the_totals(person):
    p = person()
    p.add(public("12.5", date(2015, 3, 1)), public("9", date(2013, 3, 1)), teaching("3", date(2018, 1, 1)))
    p.add(computer_pass("WORD", date(2011, 1, 1)), tour(2, date(2017, 1, 1), date(2017, 1, 3)))
    p.verified(specialty("80", date(2016, 1, 1)))
    v = p.verdict()
    assert len(v.items) == 6
    by_kind: dict[str, Decimal] = {}
    for line in v.items:
        if line.credited_as:
            by_kind[line.credited_as] = by_kind.get(line.credited_as, D(0)) + line.credited_hours
    assert by_kind == {
        "public_course": D("12.5"), "teaching": 9, "exam_substitution": 10, "study_tour": 12, "specialty": 80
    }
    assert v.credited.total_hours == sum(by_kind.values())
    assert [line.occurred_on for line in v.items] == sorted(line.occurred_on for line in v.items)
