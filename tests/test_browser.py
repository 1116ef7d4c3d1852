"""End to end in a real headless Chromium (Debian's, driven by Playwright): sign in, find a
person by ID number, issue a verdict, void one of its activities through the API, replay the
verdict in the workbench and see the change highlighted. Screenshots go to test-output/ when
asked (CE_LEDGER_SCREENSHOTS=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from ce_ledger import demo
from ce_ledger.config import Settings
from tests.serving import client, environment, serving, token

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).parent.parent / "test-output"
# Full-page screenshots of every step, for a person to look through: about a fifth of these tests'
# time (PNG encoding in Chromium), so only when asked (`CE_LEDGER_SCREENSHOTS=1 make test`).
SCREENSHOTS = os.environ.get("CE_LEDGER_SCREENSHOTS") == "1"


def shot(page, name: str) -> None:
    if SCREENSHOTS:
            page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
# As root Chromium needs --no-sandbox; the machine's network is closed, so no background traffic.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--lang=zh-CN"]  # as the users' browsers: dates in inputs read 年/月/日


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (a launch is about a second of CPU); each test its own page."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


def test_sign_in_find_issue_void_and_replay_in_a_browser(browser, tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    env = environment(settings)
    demo_store(settings)
    committee = token(settings, "committee", "浏览器测试")
    auditor = token(settings, "auditor", "抽查")
    ma = demo.PEOPLE[0].registration
    with serving(env, tmp_path / "server.log") as server:
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN")
        page.goto(f"{server.base}/workbench/")
        expect(page).to_have_url(f"{server.base}/workbench/sign-in")
        page.get_by_label("访问令牌").fill(committee)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="查找专业技术人员")).to_be_visible()

        page.get_by_label("公民身份号码").fill(ma.id_number)
        page.get_by_role("button", name="查找", exact=True).click()
        expect(page.get_by_role("heading", name=f"{ma.name} 的继续教育记录")).to_be_visible()
        assert ma.id_number not in page.url and ma.id_number not in page.content()
        shot(page, "1-professional")

        page.get_by_role("button", name="签发审验结果（中级，2019）").click()
        expect(page.get_by_role("heading", name="审验结果：合格")).to_be_visible()
        verdict_url = page.url
        shot(page, "2-verdict")

        # A spot-check finds the 2016 certificate forged: the auditor voids it (through the API).
        pid = verdict_url.rsplit("/", 1)[1]
        with client(server.base, headers={"Authorization": f"Bearer {auditor}"}) as c:
            professional_id = c.get(f"/v1/verdicts/{pid}").json()["professional_id"]
            events = c.get(f"/v1/professionals/{professional_id}/history").json()["events"]
            claim = next(e["data"]["activity_id"] for e in events if e["data"].get("certificate_no") == "NXJD-2016-1188")
            r = c.post(f"/v1/professionals/{professional_id}/activities/{claim}/void",
                       json={"reason": "抽查发现证书系伪造", "decision_ref": "宁人社函〔2019〕抽查-12"})
            assert r.status_code == 201

        page.goto(verdict_url)
        page.get_by_role("button", name="复核（重放审验）").click()
        expect(page.get_by_role("heading", name="复核结果：完全重现")).to_be_visible()
        assert page.locator("#recorded").inner_text() == page.locator("#recomputed").inner_text()
        changed = page.locator("tr.changed")
        expect(changed).to_have_count(1)
        expect(changed).to_contain_text("作废")
        expect(changed).to_contain_text("抽查发现证书系伪造")
        expect(page.locator("#since")).to_contain_text("当时合格，按今日记录不合格")
        assert changed.evaluate("row => getComputedStyle(row.cells[0]).backgroundColor") != "rgba(0, 0, 0, 0)"
        shot(page, "3-replay")

        # Accessibility (axe-core): no serious or critical violation on the pages a person works in.
        axe = Axe()
        for url in (f"{server.base}/workbench/", verdict_url, f"{server.base}/workbench/professionals/{professional_id}",
                    f"{verdict_url}/replay", f"{server.base}/workbench/queue", f"{server.base}/workbench/search?q=马",
                    f"{server.base}/workbench/units", f"{server.base}/workbench/register", f"{server.base}/workbench/import",
                    f"{server.base}/workbench/programmes", f"{server.base}/workbench/professionals/{professional_id}/entries",
                    f"{server.base}/workbench/unit?unit=640100-NXJT"):
            page.goto(url)
            found = axe.run(page).response["violations"]
            serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in found
                       if v["impact"] in ("serious", "critical")]
            assert not serious, (url, serious)

        # On a phone 390 px wide every page keeps its width (wide tables scroll inside themselves).
        page.set_viewport_size({"width": 390, "height": 844})
        for url in (f"{server.base}/workbench/", verdict_url, f"{server.base}/workbench/professionals/{professional_id}"):
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
        shot(page, "4-phone-record")


def demo_store(settings: Settings) -> None:
    """The demo records, loaded in this process (`ce-ledger demo` itself, as a newcomer runs it,
    is tested in test_demo: a Python start per test here would only repeat that)."""
    from ce_ledger.bootstrap import build_services

    with build_services(settings) as services:
        demo.load(services.ledger)
        demo.load_programmes(services.ledger)


def sign_in(page, base: str, token: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/workbench/sign-in")
    page.get_by_label("访问令牌").fill(token)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="查找专业技术人员")).to_be_visible()


def download(page, link_name: str, into: Path) -> Path:
    """Click a download link; the file as saved."""
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).first.click()
    path = into / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_each_roles_daily_work_in_a_browser(browser, tmp_path):
    """Every job of every role, in Chromium, with a screenshot of each page (test-output/roles-*.png):
    the professional files claims and prints the form; the employer rejects and verifies from its queue,
    exports it, enters a tour, registers a person, proposes a move and exports its unit's standing; the
    committee imports a sheet, finds people and units by name, confirms the move, corrects a
    registration and issues a verdict; the auditor keeps the CE bases, plans a programme, reviews key
    collisions and voids."""
    from openpyxl import load_workbook

    from tests.builders import id_number

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    env = environment(settings)
    demo_store(settings)
    ma, li = demo.PEOPLE[0].registration, demo.PEOPLE[1].registration
    unit_name = demo.UNIT_NAMES[ma.employer_unit]
    tokens = {"employer": token(settings, "employer", "人事处", unit=ma.employer_unit),
              "committee": token(settings, "committee", "评委会"), "auditor": token(settings, "auditor", "抽查")}
    with serving(env, tmp_path / "server.log") as server:
        base = server.base
        with client(base, headers={"Authorization": f"Bearer {tokens['committee']}"}) as c:
            pid = c.post("/v1/professionals", json={
                "id_number": ma.id_number, "name": ma.name, "series": ma.series,
                "requires_foreign_language_exam": ma.requires_foreign_language_exam,
                "requires_computer_exam": ma.requires_computer_exam, "own_ce_regulation": ma.own_ce_regulation,
                "employer_unit": ma.employer_unit}).json()["professional_id"]  # registered by the demo: its id
        professional = token(settings, "professional", ma.name, professional=pid)
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN", accept_downloads=True)

        sign_in(page, base, professional)  # the professional: what is missing, and two claims
        page.goto(f"{base}/workbench/professionals/{pid}")
        for number, subject, day in (("NXJD-2018-7777", "隧道施工新技术", "2018-10-20"),
                                     ("NXJD-2018-8888", "无关的培训", "2018-11-02")):
            page.get_by_label("继续教育基地代码").fill("NXJD-01")
            page.get_by_label("证书编号").fill(number)
            page.get_by_label("学习内容").fill(subject)
            page.get_by_label("学时", exact=True).fill("24")
            page.get_by_label("结业日期").fill(day)
            page.get_by_role("button", name="提交申报").click()
        expect(page.locator("#plain")).to_contain_text("3 项申报正等待单位审核")  # the demo left one
        shot(page, "roles-1-professional")

        sign_in(page, base, tokens["employer"])  # the employer: its queue first
        page.get_by_role("link", name="待审核的申报").click()
        expect(page.get_by_role("heading", name=f"待审核的申报（{unit_name}（{ma.employer_unit}））")).to_be_visible()
        page.get_by_label(f"选择 {ma.name} 2018-11-02 的申报").check()
        page.get_by_label("审核意见").fill("培训内容与本专业无关")
        page.get_by_role("button", name="勾选的审核不通过").click()
        expect(page.get_by_role("status")).to_contain_text("1 项审核未通过")
        page.get_by_label(f"选择 {ma.name} 2018-10-20 的申报").check()
        page.get_by_label("审核意见").fill("证书核实无误")
        shot(page, "roles-2-employer-queue")
        page.get_by_role("button", name="勾选的审核通过").click()
        expect(page.get_by_role("status")).to_contain_text("1 项审核通过")
        queue = load_workbook(download(page, "导出 xlsx", tmp_path)).active
        assert next(queue.values)[0] == "姓名"
        page.goto(f"{base}/workbench/professionals/{pid}/entries")  # a study tour entered by hand
        page.locator("#t-subject").fill("宁东能源基地考察")
        page.locator("#t-first").fill("2018-06-04")
        page.locator("#t-last").fill("2018-06-08")
        page.get_by_label("实际天数（不含路途）").fill("5")
        page.locator("#t-doc").fill("NXJT-KC-2018-06")
        shot(page, "roles-3-employer-entries")
        page.get_by_role("button", name="登记考察交流").click()
        expect(page.get_by_text("宁东能源基地考察")).to_be_visible()
        page.goto(f"{base}/workbench/register")  # a new colleague, and one who moves here from Shizuishan
        page.get_by_label("公民身份号码").first.fill(id_number())
        page.get_by_label("姓名").fill("周新")
        page.get_by_label("职称系列").fill("工程技术")
        page.get_by_role("button", name="登记", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("登记已受理")
        page.get_by_label("公民身份号码").nth(1).fill(li.id_number)
        page.get_by_label("调入日期").fill("2019-03-01")
        page.get_by_role("button", name="提出调动").click()
        expect(page.get_by_role("status")).to_contain_text("调动申请已提交")
        shot(page, "roles-4-employer-register")
        page.goto(f"{base}/workbench/")
        page.get_by_role("button", name="查看").click()
        expect(page.get_by_role("heading", name=f"{unit_name}（{ma.employer_unit}） 人员达标情况")).to_be_visible()
        standing = load_workbook(download(page, "导出 xlsx", tmp_path)).active
        assert next(standing.values)[:2] == ("姓名", "公民身份号码")
        shot(page, "roles-5-employer-unit")

        sign_in(page, base, tokens["committee"])  # the committee: an import, people and units by name
        page.get_by_role("link", name="导入表格").click()
        page.get_by_label("文件（.csv 或 .xlsx）").set_input_files(str(Path(__file__).parent / "data" / "public-courses.csv"))
        page.get_by_role("button", name="上传并试运行").click()
        expect(page.locator("#summary")).to_contain_text("试运行")
        page.get_by_role("button", name="确认导入").click()
        expect(page.locator("#summary")).to_contain_text("已记录")
        shot(page, "roles-6-committee-import")
        page.goto(f"{base}/workbench/")
        page.get_by_label("姓名（可输入一部分）").fill("马")
        page.get_by_role("button", name="按姓名查找").click()
        expect(page.get_by_role("link", name=ma.name)).to_be_visible()
        expect(page.get_by_text(f"{unit_name}（{ma.employer_unit}）").first).to_be_visible()
        shot(page, "roles-7-committee-search")
        page.goto(f"{base}/workbench/")
        page.get_by_role("link", name="单位名录").click()
        page.get_by_label("单位名称或代码（可输入一部分）").fill("医院")
        page.get_by_role("button", name="查找").click()
        expect(page.get_by_role("link", name=demo.UNIT_NAMES[li.employer_unit])).to_be_visible()
        shot(page, "roles-8-committee-units")
        page.goto(f"{base}/workbench/")  # the move is confirmed for the old unit
        page.get_by_label("公民身份号码").fill(li.id_number)
        page.get_by_role("button", name="查找", exact=True).click()
        page.get_by_role("button", name="确认调动").click()
        expect(page.get_by_text(f"{unit_name}（{ma.employer_unit}）").first).to_be_visible()
        page.goto(f"{base}/workbench/professionals/{pid}")  # a correction, then the verdict
        page.get_by_text("更正登记信息").click()
        page.locator("#c-series").fill("工程技术（交通）")
        page.locator("#c-reason").fill("系列名称登记不全")
        page.locator("#c-ref").fill("宁人社职改〔2019〕更正-3")
        page.get_by_role("button", name="更正").click()
        expect(page.get_by_text("工程技术（交通）").first).to_be_visible()
        page.get_by_role("button", name="签发审验结果（中级，2019）").click()
        expect(page.get_by_role("heading", name="审验结果：合格")).to_be_visible()
        shot(page, "roles-9-committee-verdict")

        sign_in(page, base, professional)  # the professional prints the form
        page.goto(f"{base}/workbench/professionals/{pid}")
        # The PDF opens inline (in the browser's viewer): fetched with the page's session instead.
        pdf = page.request.get(base + page.get_by_role("link", name="PDF").first.get_attribute("href"))
        assert pdf.ok and pdf.body()[:5] == b"%PDF-"
        page.get_by_role("link", name="继续教育考核表（打印）").click()
        expect(page.get_by_text(unit_name).first).to_be_visible()
        shot(page, "roles-10-professional-form")

        sign_in(page, base, tokens["auditor"])  # the auditor: CE bases, a programme, collisions, a void
        page.get_by_role("link", name="继续教育基地").click()
        expect(page.get_by_text("本系统无记录：待核查").first).to_be_visible()
        page.get_by_label("代码").fill("NXNK-01")  # a base the certificates name, not yet on record
        page.get_by_label("名称").fill("宁夏农科继续教育基地")
        page.get_by_label("生效日期").fill("2012-01-01")
        page.get_by_label("决定文号").fill("宁人社函〔2012〕7号")
        page.get_by_role("button", name="认定").click()
        page.get_by_label("决定", exact=True).select_option("ordered_to_rectify")
        page.get_by_label("生效日期").fill("2019-01-10")
        page.get_by_label("决定文号").fill("宁人社函〔2019〕整改-2")
        page.get_by_label("整改期限（责令整改时）").fill("2019-06-30")
        page.get_by_label("理由（责令整改、取消资格时）").fill("评估不合格")
        page.get_by_role("button", name="录入").click()
        expect(page.get_by_text("评估不合格")).to_be_visible()
        shot(page, "roles-11-auditor-provider")
        page.goto(f"{base}/workbench/programmes?year=2019")
        page.get_by_label("项目代码").fill("GY-2019-09")
        page.get_by_label("项目名称").fill("智慧交通高级研修班")
        page.get_by_label("计划期数（不分期的留空）").fill("2")
        page.get_by_label("计划人数").fill("80")
        page.get_by_label("承办基地代码").fill("NXJD-01")
        page.get_by_role("button", name="新增项目").click()
        expect(page.get_by_role("cell", name="智慧交通高级研修班")).to_be_visible()
        shot(page, "roles-12-auditor-programmes")
        page.goto(f"{base}/workbench/review")
        expect(page.get_by_role("heading").first).to_be_visible()
        shot(page, "roles-13-auditor-review")
        page.goto(f"{base}/workbench/professionals/{pid}")
        page.get_by_role("link", name="作废…").first.click()
        page.get_by_label("理由").fill("抽查发现证书系伪造")
        page.get_by_label("决定文号").fill("宁人社函〔2019〕抽查-13")
        shot(page, "roles-14-auditor-void")
        page.get_by_role("button", name="作废").click()
        expect(page.locator("tr.voided").first).to_be_visible()


def test_the_inspection_in_a_browser(browser, tmp_path):
    """The auditor draws a spot check, works a sampled verdict (replay, signals, a finding, a
    sanction) and exports the report; screenshots test-output/inspection-*.png."""
    from openpyxl import load_workbook

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    env = environment(settings)
    demo_store(settings)
    committee, auditor = token(settings, "committee", "职改办"), token(settings, "auditor", "抽查组")
    with serving(env, tmp_path / "server.log") as server:
        base = server.base
        with client(base, headers={"Authorization": f"Bearer {committee}"}) as c:
            for person in demo.PEOPLE:
                reg = person.registration
                pid = c.post("/v1/professionals", json={
                    "id_number": reg.id_number, "name": reg.name, "series": reg.series,
                    "requires_foreign_language_exam": reg.requires_foreign_language_exam,
                    "requires_computer_exam": reg.requires_computer_exam, "own_ce_regulation": reg.own_ce_regulation,
                    "employer_unit": reg.employer_unit}).json()["professional_id"]
                issued = c.post(f"/v1/professionals/{pid}/verdicts",
                                json={"evaluation_year": 2019, "level": person.level.value})
                assert issued.status_code == 201, issued.text
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="zh-CN", accept_downloads=True)
        sign_in(page, base, auditor)
        page.get_by_role("link", name="抽查审验结果").click()
        page.get_by_label("抽查比例（%）").fill("50")
        page.get_by_label("随机种子（留空自动生成）").fill("seed-browser-2019")
        shot(page, "inspection-1-draw")
        page.get_by_role("button", name="抽取样本").click()
        expect(page.get_by_text("seed-browser-2019")).to_be_visible()
        shot(page, "inspection-2-sample")
        page.locator("table").nth(1).get_by_role("link").first.click()
        expect(page.locator("#replayed")).to_contain_text("完全重现")
        page.get_by_label("核查结论").select_option("fraud_suspected")
        page.locator("#f-reason").fill("证书编号与基地备案不符")
        page.locator("#f-ref").fill("宁人社函〔2019〕抽查-21")
        page.get_by_role("button", name="记录核查结论").click()
        expect(page.locator("#findings")).to_contain_text("涉嫌弄虚作假")
        page.get_by_label("依据条款").fill("《宁夏回族自治区专业技术人员继续教育条例》")
        page.locator("#s-ref").fill("宁人社函〔2019〕处理-5")
        page.get_by_label("生效日期").fill("2019-07-01")
        page.locator("#s-reason").fill("提供虚假学时证明")
        page.get_by_role("button", name="记录处理").click()
        expect(page.get_by_text("提供虚假学时证明").first).to_be_visible()
        shot(page, "inspection-3-sampled-verdict")
        page.get_by_role("link", name="返回样本").click()
        expect(page.get_by_text("涉嫌弄虚作假").first).to_be_visible()
        report = load_workbook(download(page, "导出抽查报告（xlsx）", tmp_path)).active
        assert any(row[5] == "涉嫌弄虚作假" for row in list(report.values)[1:])
        pdf = page.request.get(base + page.get_by_role("link", name="PDF").get_attribute("href"))
        assert pdf.ok and pdf.body()[:5] == b"%PDF-"
        shot(page, "inspection-4-report")
