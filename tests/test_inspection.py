"""The Department's inspection (§3(5)): reproducible spot checks, findings, sanctions, risk signals."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from ce_ledger import demo
from ce_ledger.domain.commands import Verification
from ce_ledger.domain.details import PublicCourse, SpecialtyCredit, StudyTour, Teaching
from ce_ledger.domain.values import Decision, Level
from tests.builders import registration
from tests.test_backup import stores  # noqa: F401  (a fixture: empty stores of either kind)

REDRAW = Path(__file__).parent.parent / "docs" / "redraw_spot_check.py"


def with_verdicts(services) -> int:
    """The demo, and a 2019 verdict for every one of its people and trainees: the population
    (six units; the twelve trainees are engineers of 640100-NXJT)."""
    ledger = services.ledger
    if hasattr(ledger.clock, "now"):  # a test's clock: after the 2019 classes
        ledger.clock.now = datetime(2019, 12, 20, 2, tzinfo=UTC)
    loaded = demo.load(ledger)
    demo.load_programmes(ledger)
    for item in loaded:
        ledger.issue_verdict(item.professional_id, item.person.level, 2019, by="committee:职改办")
    for trainee in demo.TRAINEES:
        ledger.issue_verdict(ledger.professional_id_for(trainee.id_number), Level.INTERMEDIATE, 2019, by="committee:职改办")
    return len(loaded) + len(demo.TRAINEES)


def draw(api, **body):
    return api.post("/v1/spot-checks", {"evaluation_year": 2019, **body}, "auditor")


def test_the_same_seed_and_position_draw_the_same_stratified_sample(api):
    people = with_verdicts(api.services)
    first = draw(api, rate="0.3", seed="seed-0001-aaaa")
    assert first.status_code == 201, first.text
    drawn = first.json()
    assert sum(s["population"] for s in drawn["strata"]) == people
    # Every stratum (unit, series) with verdicts has at least one in the sample, and the rest
    # goes where the verdicts are: the 14 engineers of 640100-NXJT get the most.
    assert all(s["drawn"] >= 1 for s in drawn["strata"]) and len(drawn["sample"]) == sum(s["drawn"] for s in drawn["strata"])
    biggest = max(drawn["strata"], key=lambda s: s["population"])
    assert biggest["unit"] == "640100-NXJT" and biggest["drawn"] > 1
    # A verdict issued since changes the population now, not as of the recorded position.
    extra = api.services.ledger.register(registration(unit="640100-NXJT"), by="committee:c").professional_id
    api.services.ledger.issue_verdict(extra, Level.INTERMEDIATE, 2019, by="committee:职改办")
    again = draw(api, rate="0.3", seed="seed-0001-aaaa", as_of_position=drawn["position"]).json()
    assert again["sample"] == drawn["sample"] and again["strata"] == drawn["strata"]
    other = draw(api, rate="0.3", seed="seed-0002-bbbb", as_of_position=drawn["position"]).json()
    assert other["sample"] != drawn["sample"]
    generated = draw(api, size=3).json()  # no seed given: one is generated, and shown
    assert len(generated["seed"]) == 32 and generated["position"] > drawn["position"]
    listed = api.get("/v1/spot-checks", "committee").json()
    assert [s["spot_check_id"] for s in listed][:1] == [generated["spot_check_id"]]


def test_a_sample_is_drawn_again_on_the_other_store_and_by_a_standalone_script(stores, tmp_path):
    from ce_ledger.bootstrap import build_services
    from ce_ledger.domain.inspection import SpotCheckRequest
    from tests.test_backup import export_to_text, restore_text

    source, target = stores("sqlite"), stores("postgres")
    with build_services(source.model_copy(update={"view_upkeep": "inline"})) as services:
        with_verdicts(services)
        request = SpotCheckRequest(evaluation_year=2019, rate=Decimal("0.25"), seed="seed-export-0001")
        recorded = services.ledger.draw_spot_check(request, services.view, by="auditor:a")
        weighted = services.ledger.draw_spot_check(request.model_copy(update={"weighted": True}), services.view,
                                                   by="auditor:a")
    text = export_to_text(source)
    restore_text(target, text)
    with build_services(target.model_copy(update={"view_upkeep": "inline"})) as services:
        again = services.ledger.draw_spot_check(
            request.model_copy(update={"as_of_position": recorded.position}), services.view, by="auditor:a")
    assert again.sample == recorded.sample and again.strata == recorded.strata
    exported = tmp_path / "ledger.jsonl"
    exported.write_text(text, encoding="utf-8")
    # -I: isolated, with no project on the path; the script needs the standard library only.
    for drawn in (recorded, weighted):
        out = subprocess.run([sys.executable, "-I", str(REDRAW), str(exported), str(drawn.originator_id)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "the same sample as recorded" in out.stdout, out.stdout + out.stderr
    assert weighted.weighted and weighted.algorithm.endswith("w = 1 + intrinsic signals")


def test_findings_and_sanctions_are_recorded_with_their_actors_and_shown_in_scope(api):
    with_verdicts(api.services)
    drawn = draw(api, size=4, seed="seed-findings-01").json()
    sampled = UUID(drawn["sample"][0])
    issued = api.services.ledger.verdict(sampled)
    body = {"verdict_id": str(sampled), "finding": "fraud_suspected", "reason": "证书疑似伪造",
            "decision_ref": "宁人社函〔2019〕抽查-3"}
    path = f"/v1/spot-checks/{drawn['spot_check_id']}/findings"
    made = api.post(path, body, "auditor")
    assert made.status_code == 201 and made.json()["found_by"] == "auditor:auditor"
    assert api.post(path, body, "auditor").status_code == 200  # a retry records nothing twice
    assert api.post(path, body, "committee").status_code == 403
    outside = api.post(path, {**body, "verdict_id": "00000000-0000-4000-8000-000000000000"}, "auditor")
    assert outside.status_code == 422 and "verdict_id" in outside.text
    seen = api.get(f"/v1/verdicts/{sampled}/findings", "committee").json()
    assert [(f["finding"], f["found_by"]) for f in seen] == [("fraud_suspected", "auditor:auditor")]
    unit = api.services.ledger.professional(issued.professional_id, copy=False).employer_unit
    sanction = {"target_kind": "unit", "target": unit, "provision": "《宁夏回族自治区专业技术人员继续教育条例》第三十条",
                "decision_ref": "宁人社函〔2019〕处理-1", "effective_on": "2019-06-01", "ends_on": "2020-05-31",
                "reason": "审核把关不严"}
    imposed = api.post("/v1/sanctions", sanction, "auditor")
    assert imposed.status_code == 201 and imposed.json()["imposed_by"] == "auditor:auditor"
    assert api.post("/v1/sanctions", sanction, "auditor").status_code == 200
    assert api.post("/v1/sanctions", sanction, "committee").status_code == 403
    person = {**sanction, "target_kind": "professional", "target": str(issued.professional_id), "ends_on": None}
    assert api.post("/v1/sanctions", person, "auditor").status_code == 201
    shown = api.get(f"/v1/spot-checks/{drawn['spot_check_id']}/verdicts/{sampled}", "auditor").json()
    assert {s["target_kind"] for s in shown["sanctions"]} == {"unit", "professional"}
    assert shown["findings"][0]["finding"] == "fraud_suspected" and shown["replay"]["reproduced"] is True
    assert api.get(f"/v1/sanctions?target_kind=unit&target={unit}", "committee").json()[0]["reason"] == "审核把关不严"
    # An employer sees its own unit's, not another's.
    assert api.get("/v1/sanctions?target_kind=unit&target=U-1", "employer").status_code == 200
    assert api.get(f"/v1/sanctions?target_kind=unit&target={unit}", "employer").status_code == 403
    assert api.get(f"/v1/spot-checks/{drawn['spot_check_id']}", "employer").status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"rate": "0"}, "rate"), ({"rate": "1.5"}, "rate"), ({"rate": "0.1", "size": 3}, "size"), ({}, "size"),
    ({"rate": "0.1", "evaluation_year": 2017}, "evaluation_year"), ({"rate": "0.1", "unit": "NO-SUCH-UNIT"}, "unit"),
    ({"rate": "0.1", "seed": "short"}, "seed"),
])
def test_bad_spot_check_parameters_are_refused_naming_the_field_and_record_nothing(shared_api, body, field):
    before = shared_api.services.ledger.position()
    refused = draw(shared_api, **body)
    assert refused.status_code == 422 and field in refused.text, refused.text
    assert shared_api.services.ledger.position() == before and shared_api.get("/v1/spot-checks", "auditor").json() == []


# -- risk signals: each triggers on the record that has it, not on one that does not ----------


def course(n: int, hours: str, on: date) -> PublicCourse:
    return PublicCourse(record_id=f"NXP-S-{n}", course_code=f"GX-{n}", title="公需课", hours=Decimal(hours), completed_on=on)


def cert(no: str, on: date, hours: str = "40", route: str = "training_class", provider: str = "NXCZ-01") -> SpecialtyCredit:
    return SpecialtyCredit(provider_code=provider, certificate_no=no, route=route, subject="培训", hours=Decimal(hours),
                           completed_on=on)


def tour(first: date, last: date, ref: str) -> StudyTour:
    return StudyTour(first_day=first, last_day=last, days=(last - first).days + 1, subject=f"考察{ref}", document_ref=ref)


_people = iter(range(10**6))


def own(details, n: int):
    """The activity as this test person's own: record, certificate and document numbers of theirs
    (a certificate named ZS-SHARED stays shared)."""
    for name in ("record_id", "certificate_no", "document_ref"):
        value = getattr(details, name, None)
        if value is not None and value != "ZS-SHARED":
            return details.model_copy(update={name: f"{value}-{n}"})
    return details


def signals_of(ledger, clock, activities, *, level=Level.INTERMEDIATE, recorded=datetime(2019, 3, 1, tzinfo=UTC)):
    clock.now = recorded
    pid = ledger.register(registration(), by="committee:c").professional_id
    n = next(_people)
    for details in (own(d, n) for d in activities):
        outcome = ledger.record(pid, details, by="committee:c")
        if isinstance(details, SpecialtyCredit):
            ledger.decide(pid, outcome.activity_id, Verification(decision=Decision.VERIFIED, reason="核实"), by="committee:c")
    clock.now = datetime(2019, 4, 1, tzinfo=UTC)
    issued = ledger.issue_verdict(pid, level, 2019, by="committee:c")
    return {s.code for s in ledger.verdict_signals(issued.originator_id)}


@pytest.fixture
def inspected(memory_ledger, clock):
    from ce_ledger.domain.provider import ProviderLevel, ProviderStatusChange

    clock.now = datetime(2019, 1, 1, tzinfo=UTC)
    memory_ledger.accredit_provider("NXCZ-01", name="基地", level=ProviderLevel.REGIONAL, effective_on=date(2012, 1, 1),
                                    decision_ref="认定", by="auditor:a")
    memory_ledger.accredit_provider("NXJD-01", name="基地", level=ProviderLevel.REGIONAL, effective_on=date(2012, 1, 1),
                                    decision_ref="认定", by="auditor:a")
    memory_ledger.change_provider_status("NXCZ-01", ProviderStatusChange(
        status="ordered_to_rectify", effective_on=date(2018, 6, 1), deadline=date(2018, 12, 31), decision_ref="整改-1",
        reason="考核不合格"), by="auditor:a")
    return memory_ledger


PASSING = [course(i, "27", date(2015 + i, 3, 1)) for i in range(4)] + [cert("ZS-OK", date(2016, 5, 5), "300", provider="NXJD-01")]


@pytest.mark.parametrize(("code", "triggering", "quiet"), [
    ("over_24h_day", [course(9, "20", date(2016, 7, 1)), Teaching(taught_on=date(2016, 7, 1), hours_taught=Decimal(8),
                                                                 course="授课", document_ref="JS-1")],
     [course(9, "40", date(2016, 7, 1))]),
    ("tour_overlap", [tour(date(2016, 4, 1), date(2016, 4, 5), "KC-1"), course(9, "4", date(2016, 4, 3))],
     [tour(date(2016, 4, 1), date(2016, 4, 5), "KC-1"), course(9, "4", date(2016, 4, 9))]),
    ("base_later_sanctioned", [cert("ZS-1", date(2017, 5, 5), provider="NXCZ-01")],
     [cert("ZS-1", date(2018, 7, 5), provider="NXCZ-01")]),
    ("just_over_threshold", [], [course(8, "60", date(2017, 3, 1))]),
])
def test_each_risk_signal_triggers_and_stays_quiet(inspected, clock, code, triggering, quiet):
    assert code in signals_of(inspected, clock, PASSING + triggering)
    assert code not in signals_of(inspected, clock, PASSING + quiet)


def test_late_backdated_entries_a_shared_certificate_and_a_waiving_degree_signal(inspected, clock):
    from ce_ledger.domain.commands import Voiding
    from ce_ledger.domain.details import Degree

    old = PASSING + [course(7, "5", date(2015, 6, 1))]  # five entries dated two years or more back
    late = signals_of(inspected, clock, old, recorded=datetime(2019, 3, 1, tzinfo=UTC))
    assert "late_backdated_entries" in late  # recorded a month before the verdict
    assert "late_backdated_entries" not in signals_of(inspected, clock, old, recorded=datetime(2018, 10, 1, tzinfo=UTC))
    # A certificate voided on one record and claimed again by another: two claimants over time.
    clock.now = datetime(2019, 3, 1, tzinfo=UTC)
    first = inspected.register(registration(), by="committee:c").professional_id
    held = inspected.record(first, cert("ZS-SHARED", date(2017, 5, 5), provider="NXJD-01"), by="committee:c")
    inspected.void(first, held.activity_id, Voiding(reason="错记", decision_ref="更正-1"), by="auditor:a")
    assert "certificate_shared" in signals_of(inspected, clock, PASSING + [cert("ZS-SHARED", date(2017, 5, 5), provider="NXJD-01")])
    assert "certificate_shared" not in signals_of(inspected, clock, PASSING)
    degree = Degree(degree="higher", institution="宁夏大学", enrolled_on=date(2015, 9, 1), graduated_on=date(2018, 7, 1))
    assert "waiving_degree" in signals_of(inspected, clock, [degree])
    assert "waiving_degree" not in signals_of(inspected, clock, PASSING)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # pages over HTTP; the stores are tested above
def test_the_inspection_in_the_workbench_over_http(api):
    """Draw, work through a sampled verdict, record a finding and a sanction, export the report; the
    findings show on the verdict and the sanction on the record and the unit's page."""
    import io
    import re

    from openpyxl import load_workbook

    from tests.test_workbench import csrf, signed_in

    with_verdicts(api.services)
    signed_in(api, "auditor")
    made = api.client.post("/workbench/spot-checks", data={"evaluation_year": "2019", "rate": "20", "seed": "seed-workbench-1",
                                                          "csrf": csrf(api, "/workbench/spot-checks")}, follow_redirects=False)
    assert made.status_code == 303, made.text
    page = api.client.get(made.headers["location"]).text
    assert "尚未核查" in page and "seed-workbench-1" in page
    sampled = re.search(r'href="(/workbench/spot-checks/[\w-]+/verdicts/[\w-]+)"', page).group(1)
    work = api.client.get(sampled).text
    assert "完全重现" in work and "风险提示" in work
    verdict_id = sampled.rsplit("/", 1)[1]
    spot = sampled.split("/")[3]
    found = api.client.post(f"/workbench/spot-checks/{spot}/findings", data={
        "verdict_id": verdict_id, "finding": "verdict_wrong", "reason": "学时折算有误", "decision_ref": "抽查-7",
        "csrf": csrf(api, sampled)}, follow_redirects=True)
    assert "审验结论有误：学时折算有误" in found.text and "人社厅审验 · auditor" in found.text
    pid = str(api.services.ledger.verdict(UUID(verdict_id)).professional_id)
    api.client.post("/workbench/sanctions", data={
        "target_kind": "professional", "target": pid, "provision": "条例第三十条", "decision_ref": "处理-2",
        "effective_on": "2019-06-01", "reason": "提供虚假证书", "back": sampled, "csrf": csrf(api, sampled)})
    assert "提供虚假证书" in api.client.get(f"/workbench/professionals/{pid}").text
    assert "学时折算有误" in api.client.get(f"/workbench/verdicts/{verdict_id}").text
    report = load_workbook(io.BytesIO(api.client.get(f"/workbench/spot-checks/{spot}/report.xlsx").content)).active
    rows = list(report.values)
    assert rows[0][0] == "姓名" and any(r[5] == "审验结论有误" for r in rows[1:])
    signed_in(api, "committee")  # sees the spot check, cannot work it
    assert api.client.get(f"/workbench/spot-checks/{spot}").status_code == 200
    assert api.client.get(sampled).status_code == 403


def test_a_weighted_draw_favours_heavier_verdicts_and_with_equal_weights_is_the_plain_draw():
    from uuid import NAMESPACE_URL, uuid5

    from ce_ledger.audit.sampling import draw

    # Fixed ids: with fresh random ones the weighted draw fell short of the margin now and then.
    rows = [(str(uuid5(NAMESPACE_URL, f"verdict-{i}")), "U", "S", 1) for i in range(1000)]
    plain = draw(rows, {("U", "S"): 100}, "seed-weights-1")
    assert draw(rows, {("U", "S"): 100}, "seed-weights-1", weighted=True) == plain
    heavy = {v for v, *_ in rows[:100]}  # a tenth of the population, weighted 4 (the most a verdict gets)
    weighted_rows = [(v, u, s, 4 if v in heavy else 1) for v, u, s, _ in rows]
    picked = [str(v) for _, v in draw(weighted_rows, {("U", "S"): 100}, "seed-weights-1", weighted=True)]
    # About 10 of 100 heavy ones unweighted; about 30 weighted (a share of 4·100/(900 + 4·100)).
    assert sum(v in heavy for v in picked) > sum(str(v) in heavy for _, v in plain) + 10
