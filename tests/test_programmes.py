"""Programmes of the knowledge-update project (§2): plans, checks on certificates, the year's report."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from ce_ledger.access import Principal, Role
from api.app import use_services
from ce_ledger.domain.commands import Voiding
from ce_ledger.domain.details import SpecialtyCredit
from ce_ledger.domain.errors import Conflict, InvalidInput
from ce_ledger.domain.programme import Programme, ProgrammeKind
from ce_ledger.domain.provider import ProviderLevel
from projections.programmes import programme_report
from tests import launcher
from tests.builders import VERIFIED, registration

SEMINAR = Programme(code="GY-01", title="智能制造高级研修班", kind=ProgrammeKind.ADVANCED_SEMINAR, year=2019,
                    planned_classes=2, planned_trainees=6, provider_code="NXJD-01")
SEMINAR_2 = SEMINAR.model_copy(update={"code": "GY-02", "title": "新材料高级研修班", "planned_classes": 1, "planned_trainees": 3})
PARTY = Programme(code="DX-01", title="进党校培训班", kind=ProgrammeKind.PARTY_SCHOOL, year=2019,
                  planned_trainees=4, provider_code="NXJD-01")
LAST_YEAR = SEMINAR.model_copy(update={"code": "GY-18", "year": 2018})


def certificate(programme: str, ended: date, n: int, provider: str = "NXJD-01") -> SpecialtyCredit:
    return SpecialtyCredit(provider_code=provider, certificate_no=f"{programme}-{ended:%m%d}-{n}", route="training_class",
                           subject="研修", hours=Decimal(40), completed_on=ended, programme_code=programme)


@pytest.fixture
def planned(services, clock):
    clock.now = datetime(2019, 12, 31, 8, tzinfo=UTC)
    ledger = services.ledger
    ledger.accredit_provider("NXJD-01", name="基地", level=ProviderLevel.REGIONAL, effective_on=date(2012, 1, 1),
                             decision_ref="认定", by="auditor:a")
    for programme in (SEMINAR, SEMINAR_2, PARTY, LAST_YEAR):
        ledger.plan_programme(programme, by="auditor:a")
    return services


def test_the_report_matches_the_hand_count(planned):
    ledger = planned.ledger
    a, b, c, d, e = (ledger.register(registration(), by="test").professional_id for _ in range(5))
    # GY-01: two classes (May and September); b attends both; d's certificate is voided (forged).
    for pid, ended in ((a, date(2019, 5, 17)), (b, date(2019, 5, 17)), (b, date(2019, 9, 20)), (c, date(2019, 9, 20))):
        aid = ledger.record(pid, certificate("GY-01", ended, hash(pid) % 1000), by="test").activity_id
        ledger.decide(pid, aid, VERIFIED, by="employer:u")
    forged = ledger.record(d, certificate("GY-01", date(2019, 10, 11), 99), by="test").activity_id
    ledger.void(d, forged, Voiding(reason="伪造", decision_ref="抽查-1"), by="auditor:a")
    # GY-02: one class; a again (so the kind counts a once), and e pending verification (attended all the same).
    ledger.record(a, certificate("GY-02", date(2019, 6, 6), 1), by="test")
    ledger.record(e, certificate("GY-02", date(2019, 6, 6), 2), by="test")
    # DX-01: nobody yet. GY-18 (2018) is another year's.
    ledger.record(c, certificate("GY-18", date(2018, 6, 1), 3), by="test")

    report = programme_report(planned.view, 2019)
    assert [(p.code, p.classes_held, p.planned_classes, p.trainees, p.planned_trainees) for p in report.programmes] == [
        ("GY-01", 2, 2, 3, 6),
        ("GY-02", 1, 1, 2, 3),
        ("DX-01", 0, None, 0, 4),
    ]
    kinds = {k.kind: k for k in report.kinds}
    seminar = kinds[ProgrammeKind.ADVANCED_SEMINAR]
    # a, b, c in GY-01 and a, e in GY-02: four distinct people; the notice's targets are 40 classes, 3,000 trainees.
    assert (seminar.programmes, seminar.classes_held, seminar.planned_classes, seminar.trainees, seminar.planned_trainees) == (2, 3, 3, 4, 9)
    assert (seminar.target_classes, seminar.target_trainees) == (40, 3000)
    assert (kinds[ProgrammeKind.PARTY_SCHOOL].planned_classes, kinds[ProgrammeKind.PARTY_SCHOOL].target_trainees) == (None, 500)
    assert kinds[ProgrammeKind.URGENTLY_NEEDED].programmes == 0 and kinds[ProgrammeKind.POVERTY_AREA].target_trainees == 1500
    assert programme_report(planned.view, 2018).programmes[0].trainees == 1
    assert all(k.target_trainees is None for k in programme_report(planned.view, 2018).kinds)


def test_a_certificate_must_name_a_planned_programme_of_its_own_provider(planned):
    ledger = planned.ledger
    pid = ledger.register(registration(), by="test").professional_id
    with pytest.raises(InvalidInput) as e:
        ledger.record(pid, certificate("NOPE-1", date(2019, 5, 1), 1), by="test")
    assert e.value.field == "programme_code" and "no programme NOPE-1" in e.value.rule
    with pytest.raises(InvalidInput) as e:
        ledger.record(pid, certificate("GY-01", date(2019, 5, 1), 1, provider="OTHER-1"), by="test")
    assert e.value.field == "programme_code" and "run by provider NXJD-01, not OTHER-1" in e.value.rule
    assert len(ledger.history(pid)) == 1  # only the registration


def test_planning_again_is_a_retry_and_other_details_a_conflict(planned):
    ledger = planned.ledger
    _, created = ledger.plan_programme(SEMINAR, by="auditor:b")
    assert created is False
    with pytest.raises(Conflict) as e:
        ledger.plan_programme(SEMINAR.model_copy(update={"planned_trainees": 7}), by="auditor:a")
    assert e.value.field == "code"
    with pytest.raises(InvalidInput) as e:
        ledger.plan_programme(SEMINAR.model_copy(update={"code": "X-1", "provider_code": "NONE-1"}), by="auditor:a")
    assert e.value.field == "provider_code"


def test_the_report_over_http_and_on_the_command_line(planned, http_app):
    ledger = planned.ledger
    pid = ledger.register(registration(), by="test").professional_id
    ledger.record(pid, certificate("GY-01", date(2019, 5, 17), 1), by="test")
    use_services(http_app, planned)
    with TestClient(http_app) as client:
        token = client.app.state.access.issue(Principal(role=Role.AUDITOR, name="a"))
        headers = {"Authorization": f"Bearer {token}"}
        body = client.get("/v1/programmes/report", params={"year": 2019}, headers=headers).json()
        assert body["programmes"][0] == {
            "code": "GY-01", "title": "智能制造高级研修班", "kind": "advanced_seminar", "provider_code": "NXJD-01",
            "planned_classes": 2, "classes_held": 1, "planned_trainees": 6, "trainees": 1,
        }
        r = client.post("/v1/programmes", json=SEMINAR.model_dump(mode="json"), headers=headers)
        assert r.status_code == 200 and r.json()["planned_by"] == "auditor:a"
        client.post("/workbench/sign-in", data={"token": token})  # the same report on the auditor's page
        page = client.get("/workbench/programmes", params={"year": 2019}).text
        assert "智能制造高级研修班" in page and "高级研修" in page and "1 / 2" in page
        r = client.get("/v1/programmes/report", params={"year": "x"}, headers=headers)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    # A wide terminal (piped output honours COLUMNS): at 80 columns the table wraps its names.
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": planned.settings.database_url, "COLUMNS": "160"}
    if planned.settings.secret_key is not None:
        env["CE_LEDGER_SECRET_KEY"] = planned.settings.secret_key.get_secret_value()
    out = launcher.run(["report", "programmes", "--year", "2019"], env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "智能制造高级研修班" in out.stdout and "1 / 2" in out.stdout and "1 / 9 / 3000" in out.stdout
