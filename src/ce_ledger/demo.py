"""Demo data: a handful of realistic professionals that cover every kind of credit.

Built on the notice's worked examples (``docs/rules.md``, A to C) and a few more.
Every command is a retry-safe one, so loading the demo twice records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from ce_ledger.application import Ledger
from ce_ledger.domain.commands import Registration, Verification, Voiding
from ce_ledger.domain.details import (
    ActivityDetails,
    Degree,
    ExamPass,
    PublicCourse,
    SpecialtyCredit,
    StudyTour,
    Teaching,
)
from ce_ledger.domain.errors import LedgerError
from ce_ledger.domain.identity import check_digit
from ce_ledger.domain.programme import Programme, ProgrammeKind
from ce_ledger.domain.provider import ProviderLevel, ProviderStatusChange
from ce_ledger.domain.values import Channel, Decision, Level

EMPLOYER = "employer:640100-NXJT"  # the employer of the programmes' trainees
COMMITTEE = "committee:NX-ENG-2019"
AUDITOR = "auditor:NXRS-DEPT"
DEMO = Channel.DEMO


def _id_number(region_and_birth: str, seq: str) -> str:
    first17 = region_and_birth + seq
    return first17 + check_digit(first17)


@dataclass(frozen=True)
class DemoPerson:
    registration: Registration
    level: Level
    story: str
    activities: tuple[ActivityDetails, ...]
    verify: tuple[str, ...] = ()  # certificate numbers the employer verifies
    reject: tuple[str, ...] = ()
    void: tuple[str, ...] = ()  # natural keys the auditor voids


def _public(record_id: str, hours: str, on: date, title: str) -> PublicCourse:
    return PublicCourse(record_id=record_id, course_code=f"GX-{on.year}", title=title, hours=Decimal(hours), completed_on=on)


def _cert(no: str, hours: str, on: date, subject: str, route: str = "training_class", provider: str = "NXJD-01") -> SpecialtyCredit:
    return SpecialtyCredit(
        provider_code=provider, certificate_no=no, route=route, subject=subject, hours=Decimal(hours), completed_on=on
    )


# The unit register's names of the demo's units (fictional, as are the people).
UNIT_NAMES = {
    "640100-NXJT": "宁夏交通建设股份有限公司", "640200-SZSRMYY": "石嘴山市人民医院",
    "640300-WZSL": "吴忠市水利局", "640400-GYSYZ": "固原市第一中学", "640500-ZWSCZ": "中卫市财政局",
    "640100-NXNKY": "宁夏农林科学院",
}


def _reg(number: str, name: str, series: str, unit: str, *, exams: bool = False, own_ce: bool = False) -> Registration:
    return Registration(
        id_number=number,
        name=name,
        series=series,
        requires_foreign_language_exam=exams,
        requires_computer_exam=exams,
        own_ce_regulation=own_ce,
        employer_unit=unit,
        employer_unit_name=UNIT_NAMES.get(unit),
    )


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        _reg(_id_number("64010419850612", "031"), "马晓明", "工程技术", "640100-NXJT"),
        Level.INTERMEDIATE,
        "Worked example A: public 90 + 3 computer modules, verified specialty, teaching, a study tour.",
        (
            _public("NXP-2014-0001", "15", date(2014, 6, 3), "社会主义核心价值观"),
            _public("NXP-2015-0107", "40", date(2015, 5, 12), "专业技术人员职业道德"),
            _public("NXP-2017-0311", "30", date(2017, 4, 20), "知识产权与创新"),
            _public("NXP-2018-0502", "20", date(2018, 9, 8), "弘扬爱国奋斗精神"),
            ExamPass(exam="computer_module", module="WORD2003", passed_on=date(2013, 4, 14), certificate_no="JSJ-13-0441"),
            ExamPass(exam="computer_module", module="EXCEL2003", passed_on=date(2013, 5, 19), certificate_no="JSJ-13-0587"),
            ExamPass(exam="computer_module", module="WINXP", passed_on=date(2013, 6, 23), certificate_no="JSJ-13-0702"),
            _cert("NXJD-2016-1188", "170", date(2016, 10, 28), "公路桥梁检测新技术研修班"),
            _cert("NXJD-2018-2290", "60", date(2018, 11, 16), "BIM技术应用培训"),
            Teaching(taught_on=date(2017, 9, 15), hours_taught=Decimal(8), course="桥梁养护继续教育讲座", document_ref="NXJT-JS-2017-09"),
            StudyTour(first_day=date(2016, 4, 10), last_day=date(2016, 4, 16), days=5, subject="浙江智慧交通考察", document_ref="NXJT-KC-2016-04"),
        ),
        verify=("NXJD-2016-1188",),
    ),
    DemoPerson(
        _reg(_id_number("64020219780305", "042"), "李娟", "卫生", "640200-SZSRMYY", exams=True, own_ce=True),
        Level.DEPUTY_SENIOR,
        "Worked example B: a health-series physician; her 2009 foreign-language pass substitutes nothing.",
        (
            *(_public(f"NXP-{y}-2{y % 100:02d}0", "20", date(y, 3, 15), "公需课年度学习") for y in range(2014, 2019)),
            ExamPass(exam="foreign_language", passed_on=date(2009, 6, 6), certificate_no="ZCWY-09-1123"),
            _cert("NXWJ-2017-0031", "320", date(2017, 11, 30), "临床诊疗新进展", route="academic_activity", provider="NXWJ-02"),
            Teaching(taught_on=date(2016, 6, 2), hours_taught=Decimal(6), course="基层医师培训授课", document_ref="SZS-WJ-2016-06"),
        ),
        verify=("NXWJ-2017-0031",),
    ),
    DemoPerson(
        _reg(_id_number("64030219880921", "053"), "王磊", "工程技术", "640300-WZSL"),
        Level.INTERMEDIATE,
        "Worked example C: a second degree straddling the window's start; 180 certified hours.",
        (
            *(_public(f"NXP-{y}-3{y % 100:02d}0", "27", date(y, 4, 1), "公需课年度学习") for y in range(2015, 2019)),
            Degree(degree="second", institution="宁夏大学", enrolled_on=date(2014, 9, 1), graduated_on=date(2017, 7, 1), certified_hours=Decimal(180)),
        ),
    ),
    DemoPerson(
        _reg(_id_number("64040219900114", "064"), "张丽", "教育", "640400-GYSYZ"),
        Level.INTERMEDIATE,
        "Example C's variant: a master's degree enrolled and graduated inside the window waives it.",
        (
            _public("NXP-2016-4001", "12", date(2016, 3, 9), "专业技术人员心理健康"),
            Degree(degree="higher", institution="宁夏师范学院", enrolled_on=date(2015, 9, 1), graduated_on=date(2018, 6, 30)),
        ),
    ),
    DemoPerson(
        _reg(_id_number("64050219750830", "075"), "赵强", "经济", "640500-ZWSCZ"),
        Level.DEPUTY_SENIOR,
        "A foreign-language pass, a study tour, one rejected and one voided (forged) certificate; passes at "
        "exactly 396 under NX-2019, but NX-2019.1 excludes his 2017 certificate, issued while NXCZ-01 was "
        "disqualified (§1(4)): 90 short.",
        (
            *(_public(f"NXP-{y}-5{y % 100:02d}0", "18.5", date(y, 10, 20), "公需课年度学习") for y in range(2014, 2019)),
            ExamPass(exam="foreign_language", passed_on=date(2004, 11, 27), certificate_no="ZCWY-04-8810"),
            _cert("NXCZ-2015-0107", "137.5", date(2015, 12, 4), "政府会计准则培训", provider="NXCZ-01"),
            _cert("NXCZ-2017-0415", "90", date(2017, 8, 25), "预算绩效管理研修", provider="NXCZ-01"),
            _cert("NXCZ-2016-9999", "80", date(2016, 5, 6), "（存疑）财务软件培训", provider="NXCZ-01"),
            _cert("NXCZ-2018-0203", "40", date(2018, 3, 2), "摄影技巧", route="other", provider="NXCZ-01"),
            StudyTour(first_day=date(2018, 5, 13), last_day=date(2018, 5, 20), days=6, subject="深圳财政改革交流", document_ref="ZWCZ-KC-2018-05"),
        ),
        verify=("NXCZ-2015-0107", "NXCZ-2017-0415", "NXCZ-2016-9999"),
        reject=("NXCZ-2018-0203",),
        void=("certificate:NXCZ-01:NXCZ-2016-9999",),
    ),
    DemoPerson(
        _reg(_id_number("64010619700502", "086"), "刘芳", "农业", "640100-NXNKY"),
        Level.SENIOR,
        "A senior (正高级) applicant: follows the deputy-senior row and passes exactly at 396 / 132.",
        (
            *(_public(f"NXP-{y}-6{y % 100:02d}0", "26.4", date(y, 7, 1), "公需课年度学习") for y in range(2014, 2019)),
            _cert("NXNK-2016-0320", "204", date(2016, 9, 9), "设施农业新技术", route="practice", provider="NXNK-01"),
            Teaching(taught_on=date(2017, 11, 3), hours_taught=Decimal(12), course="枸杞栽培技术培训", document_ref="NXNKY-JS-2017-11"),
            StudyTour(first_day=date(2018, 8, 6), last_day=date(2018, 8, 10), days=4, subject="以色列节水农业考察", document_ref="NXNKY-KC-2018-08"),
        ),
        verify=("NXNK-2016-0320",),
    ),
)


@dataclass(frozen=True)
class DemoProvider:
    code: str
    name: str
    level: ProviderLevel
    accredited_on: date
    decisions: tuple[ProviderStatusChange, ...] = ()


# NXNK-01 is left out on purpose: its certificates show how a provider unknown to the
# ledger is read (reading 15). NXCZ-01 was disqualified for half a year.
PROVIDERS = (
    DemoProvider("NXJD-01", "宁夏交通继续教育基地", ProviderLevel.REGIONAL, date(2012, 5, 1)),
    DemoProvider("NXWJ-02", "国家级专业技术人员继续教育基地（宁夏医科大学）", ProviderLevel.NATIONAL, date(2010, 1, 1)),
    DemoProvider(
        "NXCZ-01", "宁夏财经继续教育基地", ProviderLevel.REGIONAL, date(2013, 3, 1),
        (
            ProviderStatusChange(
                status="ordered_to_rectify", effective_on=date(2017, 3, 10), deadline=date(2017, 6, 30),
                decision_ref="宁人社函〔2017〕考核-12", reason="2016年度考核不合格：教学管理达不到要求",
            ),
            ProviderStatusChange(
                status="disqualified", effective_on=date(2017, 7, 5), decision_ref="宁人社函〔2017〕考核-31",
                reason="限期整改后仍达不到要求",
            ),
            ProviderStatusChange(status="reaccredited", effective_on=date(2018, 2, 1), decision_ref="宁人社函〔2018〕认定-04"),
        ),
    ),
)


@dataclass(frozen=True)
class Loaded:
    person: DemoPerson
    professional_id: UUID


def own_employer(person: DemoPerson) -> str:
    """Who verifies a person's certificates: their own unit's employer (the role rules)."""
    return f"employer:{person.registration.employer_unit}"


def load(
    ledger: Ledger,
    progress: Callable[[str], None] = lambda _: None,
    verifier: Callable[[DemoPerson], str] = own_employer,
) -> list[Loaded]:
    """Record the demo people; safe to run again (everything is a retry)."""
    for provider in PROVIDERS:
        ledger.accredit_provider(
            provider.code, name=provider.name, level=provider.level, effective_on=provider.accredited_on,
            decision_ref=f"宁人社函〔{provider.accredited_on.year}〕认定", by=AUDITOR, channel=DEMO,
        )
        for change in provider.decisions:
            ledger.change_provider_status(provider.code, change, by=AUDITOR, channel=DEMO)
    loaded = []
    for person in PEOPLE:
        entered_by = verifier(person)  # the person's employer registers them and enters their activities
        pid = ledger.register(person.registration, by=entered_by, channel=DEMO).professional_id
        # One batch a person: one transaction, as the platform sends them (one by one was most of
        # the demo's time, and of the tests that start from it).
        recorded = ledger.record_batch([(pid, d) for d in person.activities], by=entered_by, channel=DEMO)
        refused = [r for r in recorded if isinstance(r, LedgerError)]
        if refused:
            raise refused[0]
        outcomes = {d.natural_key(): o for d, o in zip(person.activities, recorded, strict=True)}
        by_cert = {k.rsplit(":", 1)[-1]: o.activity_id for k, o in outcomes.items() if k.startswith("certificate:")}
        for no in person.verify:
            ledger.decide(pid, by_cert[no], Verification(decision=Decision.VERIFIED, reason="证书真实，内容与本职工作一致"), by=verifier(person), channel=DEMO)
        for no in person.reject:
            ledger.decide(pid, by_cert[no], Verification(decision=Decision.REJECTED, reason="学习内容与本职工作无关"), by=COMMITTEE, channel=DEMO)
        for key in person.void:
            ledger.void(pid, outcomes[key].activity_id, Voiding(reason="抽查发现证书系伪造", decision_ref="宁人社函〔2019〕抽查-07"), by=AUDITOR, channel=DEMO)
        progress(person.registration.name)
        loaded.append(Loaded(person, pid))
    return loaded


# -- the knowledge-update project of 2019 (§2) -------------------------------------------
# Kept apart from PEOPLE (whose verdicts the golden file pins): trainees of four
# programmes, for the programme report. Each class ends on the day its certificates carry.

PROGRAMMES = (
    Programme(code="GY-2019-01", title="智能制造高级研修班", kind=ProgrammeKind.ADVANCED_SEMINAR, year=2019,
              planned_classes=2, planned_trainees=8, provider_code="NXJD-01"),
    Programme(code="JQ-2019-03", title="现代物流急需紧缺人才培养", kind=ProgrammeKind.URGENTLY_NEEDED, year=2019,
              planned_classes=3, planned_trainees=10, provider_code="NXCZ-01"),
    Programme(code="DX-2019-01", title="专业技术人才进党校培训班", kind=ProgrammeKind.PARTY_SCHOOL, year=2019,
              planned_trainees=5, provider_code="NXJD-01"),
    Programme(code="PK-2019-02", title="健康脱贫能力素质提升培训", kind=ProgrammeKind.POVERTY_AREA, year=2019,
              planned_trainees=6, provider_code="NXWJ-02"),
)
# (programme, class end date, trainee numbers among TRAINEES)
CLASSES = (
    ("GY-2019-01", date(2019, 5, 17), (0, 1, 2, 3)),
    ("GY-2019-01", date(2019, 9, 20), (4, 5, 6)),
    ("JQ-2019-03", date(2019, 6, 28), (1, 7, 8, 9)),
    ("DX-2019-01", date(2019, 7, 12), (2, 3, 10)),
    ("PK-2019-02", date(2019, 8, 30), (10, 11)),
)
TRAINEES = tuple(
    _reg(_id_number(f"6401{20 + n:02d}19{80 + n:02d}0101", f"{100 + n:03d}"), name, "工程技术", "640100-NXJT")
    for n, name in enumerate(("孙伟", "周敏", "吴刚", "郑洁", "冯涛", "陈静", "褚亮", "卫华", "蒋琳", "沈勇", "韩梅", "杨帆"))
)


def load_programmes(ledger: Ledger) -> None:
    """Plan the 2019 programmes and record their trainees' certificates (a retry when run again)."""
    for programme in PROGRAMMES:
        ledger.plan_programme(programme, by=AUDITOR, channel=DEMO)
    pids = [ledger.register(r, by=EMPLOYER, channel=DEMO).professional_id for r in TRAINEES]
    for code, ended, trainees in CLASSES:
        provider = next(p.provider_code for p in PROGRAMMES if p.code == code)
        for n in trainees:
            certificate = SpecialtyCredit(
                provider_code=provider, certificate_no=f"{code}-{ended:%m%d}-{n:02d}", route="training_class",
                subject=next(p.title for p in PROGRAMMES if p.code == code), hours=Decimal(40),
                completed_on=ended, programme_code=code,
            )
            outcome = ledger.record(pids[n], certificate, by=EMPLOYER, channel=DEMO)
            ledger.decide(pids[n], outcome.activity_id, Verification(decision=Decision.VERIFIED, reason="结业证书真实"), by=EMPLOYER, channel=DEMO)
