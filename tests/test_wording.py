"""Verdict lines and summaries that agree with themselves (rule-set NX-2019.2), over HTTP: a waiver
shows no shortfall, a junior verdict no window, each reason names its specific rule, a computer
module spelled two ways counts once; and the workbench words the same codes in Chinese."""

from __future__ import annotations

import re

import pytest

from ce_ledger import demo
from tests.test_workbench import signed_in


@pytest.fixture
def settings(sqlite_settings):
    return sqlite_settings


def issue(api, pid, level: str) -> dict:
    r = api.post(f"/v1/professionals/{pid}/verdicts", {"level": level, "evaluation_year": 2019})
    assert r.status_code == 201, r.text
    return r.json()


def test_each_verdict_says_one_thing_and_names_its_rule(api):
    people = {item.person.registration.name: str(item.professional_id) for item in demo.load(api.services.ledger)}

    waived = issue(api, people["张丽"], "intermediate")  # a master's degree inside the window
    assert waived["passed"] and waived["waived_by_degree"] and waived["rule_set"]["id"] == "NX-2019.2"
    assert waived["shortfall"] == {"total_hours": "0", "public_hours": "0"} and waived["outcome"]["code"] == "waived"
    assert "nothing is short" in waived["summary"] and "short 2" not in waived["summary"]
    assert "无尚差" in waived["in_chinese"]["summary"]  # the API gives the Chinese beside the English
    assert all(line["reason"] for line in waived["in_chinese"]["lines"]) and waived["in_chinese"]["readings"]

    junior = issue(api, people["张丽"], "junior")
    assert junior["window"] is None and junior["items"] == [] and junior["passed"]
    assert "no window is weighed" in junior["summary"]

    health = issue(api, people["李娟"], "deputy_senior")  # requires the title exams; own CE regulation
    reasons = {line["kind"]: line for line in health["items"]}
    assert "requires the foreign-language exam" in reasons["exam_pass"]["reason"]
    teaching = reasons["teaching"]
    assert teaching["because"]["code"] == "teaching_own_regulation"
    assert "credited under it, not under this notice" in teaching["reason"] and "no teaching credit" not in teaching["reason"]

    p = f"/v1/professionals/{api.pid}"
    tour = api.post(f"{p}/study-tours", {"first_day": "2014-12-28", "last_day": "2015-01-02", "days": 5,
                                         "subject": "跨年考察", "document_ref": "KC-1"}, "employer")
    assert tour.status_code == 201, tour.text
    for module, number in (("word2003", "JSJ-1"), ("Word2003", "JSJ-2")):  # spelled two ways
        r = api.post(f"{p}/exam-passes", {"exam": "computer_module", "module": module, "passed_on": "2016-05-01",
                                           "certificate_no": number}, "employer")
        assert r.status_code == 201, r.text
    mine = issue(api, api.pid, "intermediate")
    by_kind = [line for line in mine["items"] if line["kind"] == "exam_pass"]
    assert [line["credited_hours"] for line in by_kind] == ["10", "0"]
    assert "module WORD2003 already counted once" in by_kind[1]["reason"]
    placed = next(line for line in mine["items"] if line["kind"] == "study_tour")
    assert placed["credited_hours"] == "30" and "placed in the window by its last day, 2015-01-02" in placed["reason"]

    # The workbench words the same codes in Chinese, readings included; no English sentence is left.
    signed_in(api, "committee")
    page = api.client.get(f"/workbench/verdicts/{waived['verdict_id']}").text
    assert "视为完成学时要求，无尚差" in page and "nothing is short" not in page
    page = api.client.get(f"/workbench/verdicts/{mine['verdict_id']}").text
    assert "考察交流以结束日 2015-01-02 计入审验期" in page and "计算机模块 WORD2003 已计过一次" in page
    assert "学习活动按其日期所在年度归入审验期" in page
    summary = re.search(r'<p id="summary">(.*?)</p>', page).group(1)
    assert summary.startswith("不合格：中级，审验期 2015–2018") and not re.search(r"[A-Za-z]{4,}", summary)
    page = api.client.get(f"/workbench/verdicts/{junior['verdict_id']}").text
    assert "不审验学时" in page and "初级职称没有学时要求" in page
    form = api.get(f"{p}/assessment-form?evaluation_year=2019&level=intermediate").text
    assert "2015–2018 年" in form and "不合格：中级" in form
