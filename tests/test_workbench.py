"""The workbench over HTTP: sign-in cookie, roles as in the API, lookup by POST, escaping,
verdicts and replays; and the assessment form as HTML and as a PDF with its Chinese text."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from tests.apiclient import SPECIALTY
from tests.builders import id_number


@pytest.fixture
def settings(sqlite_settings):
    """HTTP behaviour on SQLite; the stores' own behaviour is tested on both elsewhere."""
    return sqlite_settings


OUTPUT = Path(__file__).parent.parent / "test-output"


def signed_in(api, who: str):
    client = api.client
    client.cookies.clear()
    r = client.post("/workbench/sign-in", data={"token": api.tokens[who]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def csrf(api, path: str = "/workbench/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', api.client.get(path).text).group(1)


def test_signing_in_sets_a_strict_http_only_cookie_and_pages_need_it(api):
    api.client.cookies.clear()
    r = api.client.get("/workbench/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/workbench/sign-in"
    bad = api.client.post("/workbench/sign-in", data={"token": "cel_wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "令牌无效" in bad.text and "set-cookie" not in bad.headers
    cookie = signed_in(api, "committee").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/workbench" in cookie
    assert api.tokens["committee"] not in cookie  # the cookie holds the token's hash, signed
    page = api.client.get("/workbench/")
    assert page.status_code == 200 and "查找专业技术人员" in page.text and "评审委员会" in page.text
    out = api.client.post("/workbench/sign-out", data={"csrf": csrf(api)}, follow_redirects=False)
    assert out.status_code == 303
    assert api.client.get("/workbench/", follow_redirects=False).status_code == 303


def test_looking_a_person_up_is_a_post_and_the_number_stays_out_of_urls(api):
    signed_in(api, "committee")
    r = api.client.post("/workbench/lookup", data={"id_number": api.number, "csrf": csrf(api)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/workbench/professionals/{api.pid}"
    assert api.number not in r.headers["location"]
    page = api.client.get(r.headers["location"])
    assert page.status_code == 200 and "马晓明 的继续教育记录" in page.text and api.number not in page.text
    forged = api.client.post("/workbench/lookup", data={"id_number": api.number, "csrf": "forged"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    unknown = api.client.post("/workbench/lookup", data={"id_number": id_number(), "csrf": csrf(api)})
    assert unknown.status_code == 404
    wrong_digit = api.number[:-1] + ("1" if api.number[-1] != "1" else "2")
    typo = api.client.post("/workbench/lookup", data={"id_number": wrong_digit, "csrf": csrf(api)})
    assert typo.status_code == 422 and "公民身份号码有误" in typo.text and wrong_digit not in typo.text


def test_pages_enforce_the_same_roles_as_the_api(api):
    signed_in(api, "other_professional")
    assert api.client.get(f"/workbench/professionals/{api.pid}").status_code == 403
    signed_in(api, "self")
    assert api.client.get(f"/workbench/professionals/{api.pid}").status_code == 200
    signed_in(api, "other_employer")
    assert api.client.get(f"/workbench/professionals/{api.pid}").status_code == 403
    assert api.client.get("/workbench/unit", params={"unit": "U-1"}).status_code == 403
    signed_in(api, "employer")
    page = api.client.get("/workbench/unit", params={"unit": "U-1", "level": "intermediate", "year": 2019, "sort": "name"})
    assert page.status_code == 200 and "尚未达标人员" in page.text and "马晓明" in page.text and "未达标" in page.text
    everyone = api.client.get("/workbench/unit", params={"unit": "U-1", "everyone": "true", "sort": "total_short"})
    assert everyone.status_code == 200 and "以下为全部人员" in everyone.text
    issue = api.client.post(f"/workbench/professionals/{api.pid}/verdicts",
                            data={"level": "intermediate", "year": 2019, "csrf": csrf(api)})
    assert issue.status_code == 403  # employers do not issue verdicts


def test_text_from_the_record_is_escaped(api):
    hostile = "<script>alert('x')</script>&<b>"
    api.post(f"/v1/professionals/{api.pid}/specialty-credits", {**SPECIALTY, "certificate_no": "E-1", "subject": hostile})
    signed_in(api, "committee")
    page = api.client.get(f"/workbench/professionals/{api.pid}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&lt;b&gt;" in page


def test_issue_a_verdict_then_replay_it_after_a_void(api):
    claim = api.post(f"/v1/professionals/{api.pid}/specialty-credits", SPECIALTY).json()["activity_id"]
    api.post(f"/v1/professionals/{api.pid}/specialty-credits/{claim}/verification", {"decision": "verified", "reason": "真实"})
    signed_in(api, "committee")
    r = api.client.post(f"/workbench/professionals/{api.pid}/verdicts",
                        data={"level": "intermediate", "year": 2019, "csrf": csrf(api)}, follow_redirects=False)
    assert r.status_code == 303
    verdict_page = api.client.get(r.headers["location"]).text
    assert "不合格" in verdict_page and "专业课" in verdict_page and "逐项认定" in verdict_page
    api.post(f"/v1/professionals/{api.pid}/activities/{claim}/void", {"reason": "伪造", "decision_ref": "抽查-1"}, "auditor")
    replay = api.client.post(r.headers["location"] + "/replay", data={"csrf": csrf(api, r.headers["location"])})
    assert replay.status_code == 200 and "完全重现" in replay.text and "逐字节相同" in replay.text
    assert "reproduced:" not in replay.text and "按今日记录" in replay.text
    fingerprints = re.findall(r'id="(?:recorded|recomputed)">([0-9a-f]{64})<', replay.text)
    assert len(fingerprints) == 2 and fingerprints[0] == fingerprints[1]
    assert 'class="changed"' in replay.text and "作废" in replay.text and "伪造" in replay.text
    again = api.client.get(r.headers["location"] + "/replay")  # the result has an address of its own
    assert again.status_code == 200 and "完全重现" in again.text and str(replay.url).endswith("/replay")
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/workbench/"
    person = api.client.get(f"/workbench/professionals/{api.pid}").text
    assert 'class="voided"' in person and "作废：伪造" in person


@pytest.fixture
def with_verdict(api):
    for i, year in enumerate((2015, 2016, 2017, 2018)):
        api.post("/v1/platform/completions", {"completions": [{"record_id": f"F-{i}", "id_number": api.number,
                 "course_code": "GX", "title": "公需课", "hours": "27.5", "completed_on": f"{year}-05-01"}]}, "platform")
    verdict = api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    return api, verdict


def test_the_assessment_form_as_html(api):
    url = f"/v1/professionals/{api.pid}/assessment-form?evaluation_year=2019&level=intermediate"
    missing = api.get(url)
    assert missing.status_code == 404 and "no verdict is recorded" in missing.json()["detail"]
    verdict = api.post(f"/v1/professionals/{api.pid}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    html = api.get(url)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    text = html.text
    assert "继续教育考核表" in text and verdict["verdict_id"] in text
    assert re.search(r"[0-9a-f]{64}", text) and api.number not in text and api.number[:6] in text
    assert api.get(url.replace(api.pid, "00000000-0000-0000-0000-000000000000")).status_code == 404
    assert api.get(url, who="other_professional").status_code == 403


def test_the_assessment_form_as_a_pdf_with_chinese_text(with_verdict, tmp_path):
    api, verdict = with_verdict
    r = api.client.get(f"/v1/professionals/{api.pid}/assessment-form?evaluation_year=2019&level=intermediate",
                       headers={**api.headers("self"), "Accept": "application/pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    fingerprint = api.get(f"/v1/verdicts/{verdict['verdict_id']}").json()["fingerprint"]
    assert "继续教育考核表" in text and "马晓明" in text and "不合格" in text
    assert re.search(r"公需课（含以考代学）\s+108\s+110\s+0", text), text
    assert fingerprint in text.replace("\n", "").replace(" ", "")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts and "yes" in fonts  # a CJK font, embedded
    OUTPUT.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(OUTPUT / "assessment-form")], check=True)
    assert any(OUTPUT.glob("assessment-form*.png"))


def test_every_workbench_response_carries_the_security_headers(api):
    api.client.cookies.clear()
    for response in (api.client.get("/workbench/sign-in"), api.client.get("/workbench/", follow_redirects=False),
                     signed_in(api, "committee"), api.client.get(f"/workbench/professionals/{api.pid}")):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "x-frame-options" not in api.get(f"/v1/professionals/{api.pid}/totals?from_year=2015&to_year=2018").headers


def test_the_session_cookie_is_secure_unless_plain_http_on_loopback_is_set(api):
    services = api.services
    plain = services.settings
    try:
        services.settings = plain.model_copy(update={"plain_http": False})
        r = api.client.post("/workbench/sign-in", data={"token": api.tokens["committee"]}, follow_redirects=False)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    finally:
        services.settings = plain
    assert "Secure" not in signed_in(api, "committee").headers["set-cookie"]


def test_sign_in_from_another_site_is_refused(api):
    api.client.cookies.clear()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = api.client.post("/workbench/sign-in", data={"token": api.tokens["committee"]}, headers=headers,
                            follow_redirects=False)
        assert r.status_code == 403 and "set-cookie" not in r.headers and "其他网站" in r.text
    ok = api.client.post("/workbench/sign-in", data={"token": api.tokens["committee"]},
                         headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert ok.status_code == 303


def test_plain_http_is_for_loopback_only(monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("CE_LEDGER_PLAIN_HTTP", "true")
    refused = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "loopback only" in refused.output


def test_a_lookup_answers_alike_for_nobody_and_another_units_person_and_is_recorded(api):
    signed_in(api, "other_employer")  # api.number is staff of U-1, not of this employer's U-2
    theirs = api.client.post("/workbench/lookup", data={"id_number": api.number, "csrf": csrf(api)})
    nobody = api.client.post("/workbench/lookup", data={"id_number": id_number(), "csrf": csrf(api)})
    assert theirs.status_code == nobody.status_code == 404

    def main(r):
        return re.sub(r'name="csrf" value="[^"]+"', "", r.text)

    assert main(theirs) == main(nobody)  # not a byte tells them apart
    lookups = api.services.access.lookups()
    assert [(e.found, e.caused_by.split(":")[0], e.channel) for e in lookups[:2]] == [
        (False, "employer", "workbench"), (False, "employer", "workbench")]
    assert str(lookups[1].professional_id) == api.pid and api.number not in repr(lookups)


def test_the_form_is_fit_to_file_and_anyone_holding_it_can_check_it(with_verdict, tmp_path):
    api, _ = with_verdict
    p = f"/v1/professionals/{api.pid}"
    api.post(f"{p}/specialty-credits", SPECIALTY, "employer")  # pending: counts nothing, and the form says why
    verdict = api.post(f"{p}/verdicts", {"level": "intermediate", "evaluation_year": 2019}).json()
    url = f"{p}/assessment-form?evaluation_year=2019&level=intermediate"
    html = api.get(url).text
    assert "未计入的学习活动" in html and "待用人单位或评审委员会审核" in html
    assert "评审委员会 · committee" in html and "POST /v1" not in html and "ce-ledger" not in html
    assert "所在单位意见（盖章）" in html and "评审委员会意见（盖章）" in html and "<svg" in html
    code = re.search(r'<b id="code">([0-9A-F-]+)</b>', html).group(1)
    check = re.search(r"(/workbench/check/[0-9a-f-]+\?code=[0-9A-F-]+)", html).group(1)
    assert verdict["verdict_id"] in check and code in check

    api.client.cookies.clear()  # no sign-in: whoever holds the paper
    page = api.client.get(check)
    assert page.status_code == 200 and "不合格" in page.text and "一致" in page.text and "马**" in page.text
    assert "马晓明" not in page.text and api.number not in page.text and verdict["fingerprint"] in page.text
    assert "x-frame-options" in page.headers
    assert api.client.get(check.replace(code, "0000-0000-0000")).status_code == 404

    r = api.client.get(url + "&format=pdf", headers=api.headers("committee"))
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "第 1 页，共 1 页" in text and "打印日期 20" in text and code in text and "未计入的学习活动" in text
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info), "the form with its signature boxes fits on one page"
    OUTPUT.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(OUTPUT / "assessment-form-filed")],
                   check=True)


def test_employers_and_committees_work_through_the_claims_queue(api):
    p = f"/v1/professionals/{api.pid}"
    ids = [api.post(f"{p}/specialty-credits", {**SPECIALTY, "certificate_no": f"Q-{i}"}, "employer").json()["activity_id"]
           for i in range(3)]
    signed_in(api, "other_employer")
    assert "没有待审核的申报" in api.client.get("/workbench/queue").text  # another unit's claims are not theirs
    signed_in(api, "employer")
    page = api.client.get("/workbench/queue").text
    assert "共 3 项待审核" in page and all(i in page for i in ids) and "研修：证书 NXJD-01/Q-0，培训班" in page
    token = csrf(api, "/workbench/queue")
    forged = api.client.post("/workbench/queue", data={"decision": "verified", "reason": "核实", "claims": [f"{api.pid}:{ids[0]}"],
                                                       "csrf": "forged"})
    assert forged.status_code == 403
    done = api.client.post("/workbench/queue", follow_redirects=False, data={
        "decision": "verified", "reason": "证书核实无误", "claims": [f"{api.pid}:{ids[0]}", f"{api.pid}:{ids[1]}"], "csrf": token})
    assert done.status_code == 303 and "2" in done.headers["location"]
    signed_in(api, "committee")
    page = api.client.get("/workbench/queue").text
    assert "共 1 项待审核" in page and ids[2] in page and ids[0] not in page
    api.client.post("/workbench/queue", data={"decision": "rejected", "reason": "证书不清", "claims": [f"{api.pid}:{ids[2]}"],
                                              "csrf": csrf(api, "/workbench/queue")})
    history = api.get(f"{p}/history").json()["events"]
    decided = [(e["by"], e["channel"]) for e in history if e["channel"] == "workbench"]
    assert decided == [("employer:U-1:employer", "workbench")] * 2 + [("committee:committee", "workbench")]
    signed_in(api, "auditor")
    assert api.client.get("/workbench/queue").status_code == 403


def test_a_record_page_speaks_chinese_converts_every_kind_and_pages_a_long_timeline(api):
    p = f"/v1/professionals/{api.pid}"
    api.post(f"{p}/study-tours", {"first_day": "2016-04-10", "last_day": "2016-04-16", "days": 5,
                                  "subject": "考察", "document_ref": "KC-9"}, "employer")
    api.post(f"{p}/teaching", {"taught_on": "2017-09-15", "hours_taught": "8", "course": "讲座", "document_ref": "JS-9"},
             "employer")
    api.post("/v1/platform/completions", {"completions": [
        {"record_id": f"T-{i}", "id_number": api.number, "course_code": "GX", "title": "公需课", "hours": "1",
         "completed_on": "2016-03-01"} for i in range(120)]}, "platform")
    signed_in(api, "committee")
    first = api.client.get(f"/workbench/professionals/{api.pid}").text
    assert "第 1 / 2 页" in first and "122 项" in first and "记录版本" not in first
    assert "公需课《公需课》[GX]，平台记录 T-0" in first and "platform record" not in first
    second = api.client.get(f"/workbench/professionals/{api.pid}?page=2").text  # by date: the tour and teaching last
    assert "第 2 / 2 页" in second and second.count("平台记录 T-") == 20
    assert 'title="5 天 × 6 学时/天 = 30 学时">30<' in second and 'title="授课 8 学时 × 3 = 24 学时">24<' in second
    assert api.client.get(f"/workbench/professionals/{api.pid}?year=2031").status_code == 200


def test_finding_people_by_part_of_a_name_within_the_roles_scope_in_pinyin_order(api):
    from tests.apiclient import OTHER_UNIT, person_body
    from tests.builders import id_number

    for name, unit in (("张伟", "U-1"), ("王伟", "U-1"), ("安伟", "U-1"), ("伟%_", "U-1"), ("李伟", OTHER_UNIT)):
        assert api.post("/v1/professionals", person_body(id_number(), unit, name=name), "platform").status_code == 201
    signed_in(api, "employer")
    page = api.client.get("/workbench/search", params={"q": "伟"}).text
    names = re.findall(r'/workbench/professionals/[0-9a-f-]+">([^<]+)</a>', page)
    assert names == ["安伟", "王伟", "伟%_", "张伟"]  # pinyin order: an, wang, wei, zhang; and only the own unit
    signed_in(api, "committee")
    page = api.client.get("/workbench/search", params={"q": "%"}).text  # a wildcard is a character here
    assert re.findall(r'/workbench/professionals/[0-9a-f-]+">([^<]+)</a>', page) == ["伟%_"]
    assert "李伟" in api.client.get("/workbench/search", params={"q": "李"}).text
    signed_in(api, "self")
    assert api.client.get("/workbench/search", params={"q": "伟"}).status_code == 403


def test_a_units_staff_list_is_paged(api):
    from tests.builders import registration

    for _ in range(101):
        api.services.ledger.register(registration(unit="U-1"), by="platform:t")
    signed_in(api, "employer")
    url = "/workbench/unit?unit=U-1&level=intermediate&year=2019&everyone=true"
    first, second = api.client.get(url).text, api.client.get(url + "&page=2").text
    assert "本单位 102 人" in first and "第 1 / 2 页" in first and first.count("/workbench/professionals/") == 100
    assert "第 2 / 2 页" in second and second.count("/workbench/professionals/") == 2


def test_a_professional_sees_what_is_missing_in_plain_words_and_files_a_claim(api):
    signed_in(api, "self")
    page = api.client.get(f"/workbench/professionals/{api.pid}").text
    assert "您还差公需课 108 学时、总学时 324 学时" in page and "提交申报" in page
    bad = api.client.post(f"/workbench/professionals/{api.pid}/claims", data={
        "provider_code": "NXJD-01", "certificate_no": "C-1", "route": "training_class", "subject": "研修",
        "hours": "-3", "completed_on": "2016-05-01", "csrf": csrf(api, f"/workbench/professionals/{api.pid}")})
    assert bad.status_code == 422 and "学时填写有误" in bad.text
    done = api.client.post(f"/workbench/professionals/{api.pid}/claims", follow_redirects=False, data={
        "provider_code": "NXJD-01", "certificate_no": "C-1", "route": "training_class", "subject": "研修",
        "hours": "40", "completed_on": "2016-05-01", "csrf": csrf(api, f"/workbench/professionals/{api.pid}")})
    assert done.status_code == 303
    assert "另有 1 项申报正等待单位审核" in api.client.get(f"/workbench/professionals/{api.pid}").text
    signed_in(api, "employer")
    assert "共 1 项待审核" in api.client.get("/workbench/queue").text  # it landed in the employer's queue
    signed_in(api, "other_professional")
    other = api.client.post(f"/workbench/professionals/{api.pid}/claims", data={
        "provider_code": "NXJD-01", "certificate_no": "C-2", "route": "training_class", "subject": "研修",
        "hours": "40", "completed_on": "2016-05-01", "csrf": csrf(api)})
    assert other.status_code == 403


def test_the_api_docs_need_no_network(api):
    for path in ("/docs", "/redoc"):
        page = api.client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', page)
        assert assets and all(a.startswith("/docs-assets/") for a in assets), assets  # no CDN
        assert "fonts.googleapis" not in page
        for asset in assets:
            assert api.client.get(asset).status_code == 200


def test_refusals_in_the_workbench_are_in_chinese_and_name_the_field(api):
    signed_in(api, "committee")
    missing = api.client.get("/workbench/professionals/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "无法完成：未找到：专业技术人员" in missing.text
    assert "no such" not in missing.text
    signed_in(api, "other_employer")
    refused = api.client.get(f"/workbench/professionals/{api.pid}")
    assert refused.status_code == 403 and "您的角色无权进行此操作或查看此记录" in refused.text and "may not" not in refused.text


def test_an_auditor_voids_an_activity_in_the_workbench(api):
    p = f"/v1/professionals/{api.pid}"
    claim = api.post(f"{p}/specialty-credits", SPECIALTY, "employer").json()["activity_id"]
    signed_in(api, "auditor")
    record = api.client.get(f"/workbench/professionals/{api.pid}").text
    link = f"/workbench/professionals/{api.pid}/activities/{claim}/void"
    assert link in record
    form = api.client.get(link).text
    assert "作废学习活动" in form and "研修：证书 NXJD-01/C-100" in form
    empty = api.client.post(link, data={"reason": "", "decision_ref": "稽-1", "csrf": csrf(api, link)})
    assert empty.status_code == 422 and "理由填写有误" in empty.text
    done = api.client.post(link, follow_redirects=False,
                           data={"reason": "证书系伪造", "decision_ref": "稽〔2019〕5号", "csrf": csrf(api, link)})
    assert done.status_code == 303
    voided = [e for e in api.get(f"{p}/history").json()["events"] if e["kind"] == "ActivityVoided"]
    assert voided and voided[0]["by"] == "auditor:auditor" and voided[0]["channel"] == "workbench"
    assert link not in api.client.get(f"/workbench/professionals/{api.pid}").text  # once only
    signed_in(api, "committee")
    assert api.client.get(link).status_code == 403


def test_a_units_standing_and_a_claims_queue_export_to_xlsx(api):
    import io

    from openpyxl import load_workbook

    p = f"/v1/professionals/{api.pid}"
    api.post(f"{p}/specialty-credits", SPECIALTY, "employer")
    signed_in(api, "employer")
    r = api.client.get("/workbench/unit.xlsx?unit=U-1&level=intermediate&year=2019&everyone=true")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(r.content)).active.values)
    assert rows[0][:2] == ("姓名", "公民身份号码") and rows[1][0] == "马晓明" and api.number not in str(rows)
    assert api.client.get("/workbench/unit.xlsx?unit=U-2&level=intermediate&year=2019").status_code == 403
    queue = list(load_workbook(io.BytesIO(api.client.get("/workbench/queue.xlsx").content)).active.values)
    assert queue[0][0] == "姓名" and len(queue) == 2 and queue[1][5] == "40"


def test_registering_a_person_in_the_workbench(api):
    from tests.builders import id_number

    signed_in(api, "employer")
    token = csrf(api, "/workbench/register")
    fresh = id_number()
    r = api.client.post("/workbench/register", data={"id_number": fresh, "name": "周敏", "series": "工程技术",
                                                     "foreign": "true", "csrf": token})
    assert r.status_code == 202 and "登记已受理" in r.text and fresh not in r.text
    assert "<title>登记专业技术人员</title>" in r.text and r.text.count("提出调动（调入本单位）") == 1
    pid = api.services.ledger.professional_id_for(fresh)
    person = api.services.ledger.professional(pid, copy=False)
    assert person.employer_unit == "U-1" and person.series.requires_foreign_language_exam
    signed_in(api, "other_employer")  # another unit's person: the same answer, nothing recorded but a lookup
    before = api.services.ledger.position()
    r = api.client.post("/workbench/register", data={"id_number": fresh, "name": "周敏", "series": "工程技术",
                                                     "csrf": csrf(api, "/workbench/register")})
    assert r.status_code == 202 and "登记已受理" in r.text and api.services.ledger.position() == before
    signed_in(api, "employer")
    r = api.client.post("/workbench/register", data={"id_number": fresh, "name": "周敏敏", "series": "工程技术",
                                                     "foreign": "true", "csrf": csrf(api, "/workbench/register")})
    assert r.status_code == 409 and "姓名" in r.text
    bad = api.client.post("/workbench/register", data={"id_number": fresh[:-1] + "0" if fresh[-1] != "0" else fresh[:-1] + "1",
                                                       "name": "周敏", "series": "工程技术", "csrf": csrf(api, "/workbench/register")})
    assert bad.status_code == 422 and "公民身份号码填写有误" in bad.text


def test_employers_enter_every_kind_of_activity_in_the_workbench(api):
    signed_in(api, "employer")
    page = f"/workbench/professionals/{api.pid}/entries"
    assert "登记专业科目" in api.client.get(page).text
    base = f"/workbench/professionals/{api.pid}/entries/"
    for kind, fields in (
        ("specialty", {"provider_code": "NXJD-01", "certificate_no": "W-1", "subject": "研修", "route": "training_class",
                       "hours": "40", "completed_on": "2016-05-01"}),
        ("study_tour", {"subject": "考察", "first_day": "2017-04-10", "last_day": "2017-04-12", "days": "3",
                        "document_ref": "KC-W"}),
        ("teaching", {"course": "讲座", "taught_on": "2017-09-15", "hours_taught": "4", "document_ref": "JS-W"}),
        ("exam_pass", {"exam": "computer_module", "module": "WORD2003", "passed_on": "2016-01-01", "certificate_no": "J-W"}),
        ("degree", {"degree": "second", "institution": "宁夏大学", "enrolled_on": "2014-09-01", "graduated_on": "2017-07-01",
                    "certified_hours": ""}),
    ):
        r = api.client.post(base + kind, data={**fields, "csrf": csrf(api, page)}, follow_redirects=False)
        assert r.status_code == 303, (kind, r.text[-300:])
    history = api.get(f"/v1/professionals/{api.pid}/history").json()["events"]
    assert [e["channel"] for e in history[1:]] == ["workbench"] * 5 and {e["by"] for e in history[1:]} == {"employer:U-1:employer"}
    again = api.client.post(base + "teaching", data={"course": "讲座", "taught_on": "2031-09-15", "hours_taught": "4",
                                                     "document_ref": "JS-X", "csrf": csrf(api, page)})
    assert again.status_code == 422 and "授课日期" in again.text
    signed_in(api, "other_employer")
    assert api.client.get(page).status_code == 403


def test_a_committee_imports_a_spreadsheet_in_the_workbench(api):
    import io

    from openpyxl import load_workbook

    from ce_ledger import demo

    demo.load(api.services.ledger)
    data = (Path(__file__).parent / "data" / "certificates-gb18030.csv").read_bytes()
    signed_in(api, "committee")
    before = api.services.ledger.position()
    checked = api.client.post("/workbench/import", data={"csrf": csrf(api, "/workbench/import")},
                              files={"file": ("certificates.csv", data, "text/csv")})
    assert checked.status_code == 200 and "试运行，未记录" in checked.text and "未通过校验" in checked.text
    assert api.services.ledger.position() == before  # a dry run records nothing
    assert "此公民身份号码尚未登记" in checked.text or "此格" in checked.text or "冲突" in checked.text
    upload = re.search(r"/workbench/import/([\w-]+)/confirm", checked.text).group(1)
    refused = load_workbook(io.BytesIO(api.client.get(f"/workbench/import/{upload}/refused.xlsx").content)).active
    assert next(refused.values) == ("行号", "列", "原因") and refused.max_row > 1
    done = api.client.post(f"/workbench/import/{upload}/confirm", data={"csrf": csrf(api, "/workbench/import")})
    assert done.status_code == 200 and "已记录" in done.text and api.services.ledger.position() > before
    signed_in(api, "employer")  # another's upload is not found for anybody else
    assert api.client.post(f"/workbench/import/{upload}/confirm", data={"csrf": csrf(api)}).status_code == 404


def test_an_employer_imports_for_its_own_staff_only_and_names_its_unit(api):
    from tests.apiclient import OTHER_UNIT, person_body

    other = id_number()
    api.post("/v1/professionals", person_body(other, OTHER_UNIT), "committee")
    header = "身份证号,姓名,单位代码,单位名称,证书编号,机构代码,学习方式,学习内容,学时,结业日期\n"
    rows = "".join(f"{n},某某,U-1,宁夏交通建设股份有限公司,ZS-{i},NXJD-01,培训班,桥梁,12,2018-05-0{i}\n"
                   for i, n in enumerate((api.number, other, id_number()), start=1))
    signed_in(api, "employer")
    before = api.services.ledger.position()
    checked = api.client.post("/workbench/import", data={"csrf": csrf(api, "/workbench/import")},
                              files={"file": ("certificates.csv", (header + rows).encode(), "text/csv")})
    assert checked.status_code == 200 and "可记录 1 行" in checked.text and "2 行未通过校验" in checked.text
    # Another unit's person and a person never registered: refused in the same words.
    assert checked.text.count("本单位没有以此公民身份号码登记的人员") == 2
    upload = re.search(r"/workbench/import/([\w-]+)/confirm", checked.text).group(1)
    done = api.client.post(f"/workbench/import/{upload}/confirm", data={"csrf": csrf(api, "/workbench/import")})
    assert "已记录 1 行" in done.text and api.services.ledger.position() > before
    # The file's unit columns named the unit: the pages show the name beside the code.
    assert "宁夏交通建设股份有限公司（U-1）" in api.client.get("/workbench/queue").text
    legacy = "登记编号,身份证号,培训单位代码,培训内容,学时,培训日期\n" + f"L-1,{api.number},NXJD-01,旧,8,2016-01-01\n"
    refused = api.client.post("/workbench/import", data={"csrf": csrf(api, "/workbench/import")},
                              files={"file": ("legacy.csv", legacy.encode(), "text/csv")})
    assert refused.status_code == 403 and "评审委员会导入" in refused.text


def test_units_have_names_in_a_register_searchable_by_committees(api):
    signed_in(api, "committee")
    named = api.client.post("/workbench/units/U-2/name", data={"name": "银川市第一人民医院", "csrf": csrf(api)},
                            follow_redirects=False)
    assert named.status_code == 303
    listed = api.client.get("/workbench/units?q=医院").text
    assert "银川市第一人民医院" in listed and "U-2" in listed and "U-1" not in listed
    assert "（未登记名称）" in api.client.get("/workbench/units").text  # U-1 has no name yet
    signed_in(api, "employer")
    assert api.client.get("/workbench/units", follow_redirects=False).headers["location"] == "/workbench/unit?unit=U-1"
    refused = api.client.post("/workbench/units/U-2/name", data={"name": "别家", "csrf": csrf(api)})
    assert refused.status_code == 403 and "本单位" in refused.text
    empty = api.client.post("/workbench/units/U-1/name", data={"name": " ", "csrf": csrf(api)})
    assert empty.status_code == 422 and "单位名称" in empty.text


def test_an_auditor_keeps_the_ce_bases_in_the_workbench(api):
    from ce_ledger import demo

    demo.load(api.services.ledger)
    signed_in(api, "auditor")
    page = api.client.get("/workbench/providers").text
    assert "NXCZ-01" in page and "本系统无记录：待核查" in page and "NXNK-01" in page  # reading 15
    made = api.client.post("/workbench/providers", follow_redirects=False, data={
        "code": "NXNK-01", "name": "宁夏农科继续教育基地", "level": "regional", "effective_on": "2012-01-01",
        "decision_ref": "宁人社函〔2012〕9号", "csrf": csrf(api, "/workbench/providers")})
    assert made.status_code == 303 and made.headers["location"] == "/workbench/providers/NXNK-01"
    ordered = api.client.post("/workbench/providers/NXNK-01/decisions", data={
        "status": "ordered_to_rectify", "effective_on": "2017-01-10", "deadline": "2017-06-30", "reason": "评估不合格",
        "decision_ref": "整改-1", "csrf": csrf(api, "/workbench/providers/NXNK-01")})
    assert ordered.status_code == 200 and "责令限期整改" in ordered.text and "评估不合格" in ordered.text
    assert "人社厅审验 · auditor" in ordered.text  # who decided, in words
    signed_in(api, "committee")
    assert api.client.get("/workbench/providers").status_code == 403


def test_corrections_and_moves_in_the_workbench(api):
    record = f"/workbench/professionals/{api.pid}"
    signed_in(api, "committee")
    corrected = api.client.post(f"{record}/corrections", data={
        "name": "马晓明", "series": "卫生", "own_ce": "true", "reason": "系列登记有误", "decision_ref": "更正-1",
        "csrf": csrf(api, record)})
    assert corrected.status_code == 200 and "卫生" in corrected.text
    person = api.services.ledger.professional(UUID(api.pid), copy=False)
    assert person.series.name == "卫生" and person.series.own_ce_regulation
    signed_in(api, "other_employer")  # the new unit proposes, by ID number: answered alike whoever it is
    proposed = api.client.post("/workbench/transfers", data={"id_number": api.number, "effective_on": "2019-01-01",
                                                             "csrf": csrf(api, "/workbench/register")})
    assert proposed.status_code == 202 and "调动申请已提交" in proposed.text and api.number not in proposed.text
    nobody = api.client.post("/workbench/transfers", data={"id_number": id_number(), "effective_on": "2019-01-01",
                                                           "csrf": csrf(api, "/workbench/register")})
    assert nobody.status_code == 202 and "调动申请已提交" in nobody.text  # the same answer
    signed_in(api, "employer")  # the present unit sees the move waiting and confirms it
    page = api.client.get(record).text
    assert "待确认的调动：调入 U-2" in page and "确认调动" in page
    done = api.client.post(f"{record}/transfers/confirmation", data={"csrf": csrf(api, record)}, follow_redirects=False)
    assert done.status_code == 303
    assert api.services.ledger.professional(UUID(api.pid), copy=False).employer_unit == "U-2"
    assert api.client.get(record).status_code == 403  # no longer theirs


def test_the_programme_report_in_the_workbench(api):
    from ce_ledger import demo

    demo.load(api.services.ledger)
    signed_in(api, "auditor")
    page = api.client.get("/workbench/programmes?year=2019").text
    assert "专业技术人才知识更新工程（2019 年）" in page and "高级研修" in page and "按类别" in page
    signed_in(api, "employer")
    assert api.client.get("/workbench/programmes").status_code == 403
