"""Every Chinese label a person reads, in one place: the workbench, the assessment form
and the command line's tables take their words from here (terms as in docs/glossary.md)."""

from __future__ import annotations

ACTIVITY_KINDS = {
    "public_course": "公需课", "specialty": "专业课", "study_tour": "考察交流", "teaching": "授课",
    "exam_pass": "以考代学", "degree": "学历教育",
}
LEVELS = {"junior": "初级", "intermediate": "中级", "deputy_senior": "副高级", "senior": "正高级"}
STATUSES = {"recorded": "已登记", "pending": "待审核", "verified": "已审核", "rejected": "未通过", "voided": "已作废"}
HAPPENED = {
    "recorded": "补录", "verified": "审核通过", "rejected": "审核未通过", "voided": "作废",
    "provider_ordered_to_rectify": "培训机构被责令整改", "provider_rectified": "培训机构整改完成",
    "provider_disqualified": "培训机构被取消资格", "provider_reaccredited": "培训机构重新认定",
}
ROLES = {
    "platform": "平台", "employer": "用人单位", "committee": "评审委员会", "auditor": "人社厅审验",
    "professional": "专业技术人员", "provider": "继续教育基地",
}


def actor_in_chinese(actor: str | None) -> str:
    """Who caused an event, as a person reads it: "employer:640100-NXJT:人事处" → "用人单位
    640100-NXJT · 人事处". A professional's binding (their record's id) is left out; the ledger's
    own actors ("legacy-upload:…", tests' plain names) are shown as recorded."""
    if not actor:
        return "—"
    role, _, rest = actor.partition(":")
    if role == "legacy-upload":
        return f"原系统上传，导入人 {actor_in_chinese(rest)}"
    if role == "filing":  # a claim settled by a CE base's filing: the base, and the key if signed
        base, _, kid = rest.partition(":")
        return f"基地备案核验 {base}" + (f"（签名密钥 {kid}）" if kid else "（未签名）")
    if role == "filing-withdrawn":
        return f"基地撤回备案 {rest}"
    if role not in ROLES or not rest:
        return ROLES.get(role, actor)
    parts = rest.split(":")
    if role == "professional":
        return " · ".join([ROLES[role], *parts[1:]]) if len(parts) > 1 else ROLES[role]
    if role == "employer":
        unit, *name = parts
        return f"{ROLES[role]} {unit}" + (f" · {name[-1]}" if name else "")
    return " · ".join([ROLES[role], parts[-1]])


# The credited kinds of a verdict's totals, in the form's order.
CREDITED = (
    ("public_course", "公需课"), ("exam_substitution", "以考代学（计入公需课）"), ("specialty", "专业课"),
    ("study_tour", "国内外考察、专业技术交流"), ("teaching", "担任继续教育师资"), ("degree", "学历教育（认定学时）"),
)
PROGRAMME_KINDS = {
    "advanced_seminar": "高级研修", "urgently_needed": "急需紧缺和岗位骨干", "party_school": "进党校培训",
    "poverty_area": "贫困地区能力提升",
}


def bilingual(english: str, key: str, labels: dict[str, str]) -> str:
    """A command-line label: the English name, then the Chinese one ("public course 公需课")."""
    return f"{english} {labels[key]}"
# Kinds of break in a record's hash chain (audit/verification.py).
BREAKS = {"content_changed": "内容与摘要不符（被改动）", "missing": "记录缺失（被删除）", "reordered": "记录错位（被调换）"}
CHANNELS = {"api": "接口", "workbench": "工作台", "import": "表格导入", "legacy_upload": "2019年前培训单位上传",
            "demo": "演示数据", "cli": "命令行", "direct": "程序调用",
            "filing": "基地备案核验"}
ROUTES = {"industry_exam": "行业考试", "training_class": "培训班", "academic_activity": "学术活动",
          "distance_learning": "远程教育", "practice": "岗位实践", "other": "其他方式"}
DEGREES = {"higher": "高一级学历", "second": "第二学历"}

# A verdict's reasons, arithmetic, activities and summary, from NX-2019.2 on: the Chinese wording of
# each code the rule-set words in English (rules/nx2019_2.py, WORDING), with the same figures.
WORDING = {
    # the arithmetic
    "hours": "{hours} 学时",
    "tour_days": "{days} 天 × {per_day} 学时/天 = {hours} 学时",
    "taught": "授课 {taught} 学时 × {multiplier} = {hours} 学时",
    "foreign_language_exam": "职称外语考试 = {hours} 学时",
    "computer_module": "计算机模块 {module} = {hours} 学时",
    "degree_certified": "{institution} 认定 {hours} 学时",
    "degree_uncertified": "培养单位未认定学时",
    "degree_inside": "{enrolled} 入学、{graduated} 毕业，均在审验期 {window} 内",
    # why a line counts what it counts
    "public_course": "公需课，由平台推送，自动认定（§3(1)、§3(5)）",
    "outside_window": "{day} 不在审验期 {window} 内（§3(2)，解读 8）",
    "tour_outside_window": "考察交流以结束日 {day} 计，不在审验期 {window} 内（§3(2)，解读 8）",
    "pending": "待用人单位或评审委员会审核（§3(5)）",
    "rejected": "{on} 由 {by} 审核未通过：{why}（§3(5)）",
    "verified": "{on} 由 {by} 审核通过；继续教育基地 {provider} 自 {since} 起具备资格（决定 {decision}）（§3(1)、§3(5)、§1(4)）",
    "verified_rectifying": "{on} 由 {by} 审核通过；继续教育基地 {provider} 于 {since} 被责令在 {deadline} 前整改"
                           "（决定 {decision}），不影响认定（§3(1)、§3(5)、§1(4)）",
    "verified_base_not_yet": "{on} 由 {by} 审核通过；继续教育基地 {provider} 在 {day} 尚未获认定，不因此排除（§3(5)，解读 15）",
    "verified_base_unknown": "{on} 由 {by} 审核通过；本系统没有继续教育基地 {provider} 的记录：已提示审计人员核查，"
                             "不因此排除（§3(5)，解读 15）",
    "base_disqualified": "{on} 由 {by} 审核通过，但证书日期 {day} 时继续教育基地 {provider} 已被取消资格"
                         "（自 {since} 起，决定 {decision}），不计学时（§1(4)）",
    "study_tour": "考察交流以结束日 {day} 计入审验期：按实际天数（不含路途）× {per_day} 学时计为专业科目学时，"
                  "计入总学时（§3(3)，解读 8）",
    "teaching": "担任继续教育师资：授课 1 学时折算 {multiplier} 学时，计入总学时（§3(3)）",
    "teaching_own_regulation": "{series} 系列另有继续教育规定，授课学时按该规定执行，本通知下不计（§3(3)，解读 11）",
    "series_requires_both_exams": "{series} 系列评审须参加职称外语和计算机应用能力考试，考试合格不能替代学时（§3(4)，解读 9）",
    "series_requires_foreign_language_exam": "{series} 系列评审须参加职称外语考试，考试合格不能替代学时（§3(4)，解读 9）",
    "series_requires_computer_exam": "{series} 系列评审须参加计算机应用能力考试，考试合格不能替代学时（§3(4)，解读 9）",
    "exam_after_window": "{day} 考试合格，晚于审验期末日 {last_day}（§3(4)，解读 9）",
    "foreign_language_exam_counted_before": "职称外语考试已计过一次（§3(4)，解读 9）",
    "module_counted_before": "计算机模块 {module} 已计过一次（不论大小写、全半角）（§3(4)，解读 9、16）",
    "exam_substitutes": "{day} 考试合格，不晚于审验期末日：替代公需课学时（§3(4)）",
    "degree_outside": "{day} 毕业，不在审验期 {window} 内（§3(3)，解读 10）",
    "degree_waives": "在审验期内取得学历：视为完成本审验期学时要求（§3(3)，解读 10）",
    "degree_before_uncertified": "{enrolled} 入学，早于审验期：只计培养单位认定的学时，而未认定（§3(3)，解读 10）",
    "degree_before_certified": "{enrolled} 入学，早于审验期：认定学时计为专业科目学时，公需课要求仍须满足（§3(3)，解读 10）",
    "voided": "{on} 由 {by} 作废：{why}（决定 {decision}；§3(5)）",
    # the verdict's summary
    "passed": "合格：{level}，审验期 {window}，公需课 {public}/{public_required} 学时，总学时 {total}/{total_required} 学时（§3(2)）",
    "not_passed": "不合格：{level}，审验期 {window}，公需课 {public}/{public_required} 学时（尚差 {public_short}），"
                  "总学时 {total}/{total_required} 学时（尚差 {total_short}）（§3(2)）",
    "waived": "合格：在审验期 {window} 内取得学历，视为完成学时要求，无尚差（§3(3)，解读 10）；"
              "审验期内已认定公需课 {public} 学时、总学时 {total} 学时",
    "junior": "合格：初级职称没有学时要求，不审验学时（解读 5）",
}
# The activities as a person matches them against their papers (a verdict line's "what").
ACTIVITIES = {
    "public_course": "公需课《{title}》[{course_code}]，平台记录 {record_id}",
    "specialty": "{subject}：证书 {provider}/{certificate}，{route}",
    "study_tour": "{subject}：{first_day} 至 {last_day}，文件 {document}",
    "teaching": "授课《{course}》，文件 {document}",
    "foreign_language_exam": "职称外语考试，证书 {certificate}",
    "computer_module": "计算机应用能力考试模块 {module}，证书 {certificate}",
    "degree": "{degree}，{institution}，{enrolled} 入学",
}
_FIGURES = {"level": LEVELS, "route": ROUTES, "degree": DEGREES}


def in_chinese(reason, english: str = "", templates: dict[str, str] = WORDING) -> str:
    """A verdict's reason (a code and figures) worded in Chinese; a verdict from before NX-2019.2
    has none, and keeps the English its rule-set wrote."""
    if reason is None or reason.code not in templates:
        return english
    figures = {k: _FIGURES[k].get(v, v) if k in _FIGURES else v for k, v in reason.figures.items()}
    if "by" in figures:
        figures["by"] = actor_in_chinese(figures["by"])
    text = templates[reason.code].format(**figures)
    if reason.code == "specialty" and "programme" in figures:
        text += f"，知识更新工程项目 {figures['programme']}"
    return text
# The readings a verdict relied on (docs/rules.md), by number: a verdict lists them in English.
READINGS = {
    1: "学时按精确小数计，任何合计都不四舍五入。",
    2: "以考代学替代的公需课学时，既计入公需课，也计入总学时。",
    3: "授课和考察交流学时只计入总学时，不计入公需课。",
    4: "待审核或审核未通过的专业课不计学时。",
    5: "初级职称没有学时要求。",
    7: "正高级按“副高级及以上”一行的要求。",
    8: "学习活动按其日期所在年度归入审验期；考察交流按结束日；授课按 1 学时折 3 学时逐年计算。",
    9: "以考代学须所在系列不要求参加相应考试；职称外语计 40 学时一次，计算机每个不同模块 10 学时；"
       "在审验期末日前合格即可。",
    10: "在审验期内毕业的学历才计：审验期内入学的视为完成学时要求；此前入学的只计培养单位认定的学时。",
    11: "另有继续教育规定的系列（如继续医学教育），授课学时按其规定执行，本通知下不计。",
    14: "每一项都列出申报数字的折算过程，便于核对。",
    15: "证书日期时继续教育基地已被取消资格的，不计学时；基地无记录或尚未认定，不是排除的理由。",
    16: "编号按统一写法比对（Unicode NFKC、去首尾空格、不分大小写和全半角）。",
}


def reading_in_chinese(text: str) -> str:
    """A reading as a verdict lists it ("9. Exam substitution …"), in Chinese by its number."""
    number, _, _ = text.partition(".")
    chinese = READINGS.get(int(number)) if number.isdigit() else None
    return f"{number}. {chinese}" if chinese else text
# Request fields, as the pages name them in errors.
FIELD_NAMES = {
    "id_number": "公民身份号码", "professional_id": "专业技术人员", "activity_id": "学习活动", "verdict_id": "审验结果",
    "evaluation_year": "评审年度", "level": "申报级别", "rule_set": "规则集", "name": "姓名", "series": "职称系列",
    "employer_unit": "工作单位", "employer_unit_name": "单位名称", "unit_code": "单位代码", "unit_name": "单位名称",
    "provider_code": "继续教育基地代码", "certificate_no": "证书编号", "route": "学习方式",
    "subject": "学习内容", "hours": "学时", "completed_on": "结业日期", "record_id": "平台记录号", "reason": "理由",
    "decision_ref": "决定文号", "decision": "审核结论", "part": "部分", "as_of": "时点", "first_day": "开始日期",
    "last_day": "结束日期", "days": "天数", "document_ref": "文件编号", "hours_taught": "授课学时", "module": "模块",
    "passed_on": "合格日期", "institution": "培养单位", "enrolled_on": "入学日期", "graduated_on": "毕业日期",
    "effective_on": "生效日期", "to_unit": "调入单位", "history": "历史记录", "checkpoint": "检查点",
    "requires_foreign_language_exam": "职称外语考试要求", "requires_computer_exam": "计算机考试要求",
    "own_ce_regulation": "本系列继续教育规定", "taught_on": "授课日期", "course": "课程", "exam": "考试",
    "degree": "学历", "certified_hours": "认定学时", "programme_code": "知识更新工程项目",
    "code": "代码", "title": "项目名称", "kind": "类别", "year": "年度", "planned_classes": "计划期数",
    "planned_trainees": "计划人数", "finding": "核查结论", "target": "处理对象", "target_kind": "处理对象类别",
    "provision": "依据条款", "ends_on": "截止日期", "size": "抽查数量", "seed": "随机种子", "unit": "单位",
    "as_of_position": "日志位置", "rate": "抽查比例",
}
# What went wrong, by kind of domain error (api/problems.py maps the same kinds to HTTP statuses).
ERROR_WORDS = {"NotFound": "未找到", "Conflict": "与已有记录冲突", "InvalidInput": "填写有误",
               "NoRuleSet": "没有适用的审验规则集", "BrokenHistory": "历史记录校验未通过，不能据此作出结论"}
HTTP_WORDS = {400: "请求格式有误", 401: "请先登录", 403: "您的角色无权进行此操作或查看此记录", 404: "未找到",
              409: "与已有记录冲突", 413: "提交的内容过大", 422: "填写有误", 429: "请求过于频繁，请稍后再试",
              503: "服务繁忙，请稍后再试"}


def error_in_chinese(error) -> str:
    """A refusal as the workbench shows it: in Chinese, naming the field (the API's problem
    documents keep the English rule)."""
    detail = str(getattr(error, "detail", ""))
    if hasattr(error, "status_code"):  # an HTTP refusal: the pages' own are Chinese already
        return detail if any("\u4e00" <= ch <= "\u9fff" for ch in detail) else HTTP_WORDS.get(error.status_code, "未能完成")
    kind = next((ERROR_WORDS[c.__name__] for c in type(error).__mro__ if c.__name__ in ERROR_WORDS), "未能完成")
    field = getattr(error, "field", None)
    return f"{kind}：{FIELD_NAMES.get(field, field)}" if field else kind
# A spreadsheet row's problem (the importer words it in English, for the command line), in Chinese.
IMPORT_PROBLEMS = (
    ("no professional of unit", "本单位没有以此公民身份号码登记的人员"),
    ("names its own unit", "用人单位只能填写本单位的单位代码"),
    ("no professional is registered", "此公民身份号码尚未登记：请先登记此人"),
    ("conflict", "与已有记录冲突（同一编号已有不同内容，或已计入他人名下）"),
    ("in the future", "日期不能晚于今天"),
    ("decimal", "学时最多两位小数"),
    ("check digit", "公民身份号码校验未通过"),
    ("one of", "须为规定的选项之一"),
    ("required", "此格必填"),
)
FILE_KINDS = {"public-courses": "公需课学习记录（平台导出）", "certificates": "专业科目证书", "legacy": "2019年前培训单位上传学时"}


def import_problem_in_chinese(problem: str) -> str:
    return next((zh for key, zh in IMPORT_PROBLEMS if key in problem), "此格不符合规则")
PROVIDER_STANDINGS = {"accredited": "具备资格", "ordered_to_rectify": "责令限期整改", "disqualified": "已取消资格"}
PROVIDER_LEVELS = {"national": "国家级", "regional": "自治区级"}
PROVIDER_CHANGES = {"ordered_to_rectify": "责令限期整改", "rectified": "整改完成", "disqualified": "取消资格",
                    "reaccredited": "重新认定"}


def verdict_in_chinese(verdict) -> dict:
    """A verdict's sentences in Chinese, for the API beside its English (the same as the workbench's)."""
    return {
        "summary": in_chinese(verdict.outcome, verdict.summary),
        "readings": [reading_in_chinese(r) for r in verdict.readings],
        "lines": [{"activity_id": line.activity_id, "description": in_chinese(line.what, line.description, ACTIVITIES),
                   "arithmetic": in_chinese(line.working, line.arithmetic),
                   "reason": in_chinese(line.because, line.reason)} for line in verdict.items],
    }


# -- CE bases' filings (备案) ------------------------------------------------------------------
FILING_FIELDS = {"holder": "持证人", "hours": "学时", "completed_on": "结业日期"}


def filing_words(ledger, activity, claimant) -> str:
    """A claim's filing, as the queue and the record show it: not filed, filed (signed or not) and
    matching, the differences from it, or withdrawn and why."""
    from ce_ledger.domain.details import SpecialtyCredit

    if not isinstance(activity.recorded, SpecialtyCredit):
        return ""
    found = ledger.filing_status(activity.recorded, claimant)
    if not found["filed"]:
        return "基地未备案：须人工核对证书"
    signed = f"已签名（密钥 {found['signed_with']}）" if found["signed_with"] else "未签名"
    if found["withdrawn"]:
        return f"基地已撤回备案：{found['withdrawn']}"
    if found["differences"]:
        return f"与备案不符（{'、'.join(FILING_FIELDS[d] for d in found['differences'])}），{signed}"
    return f"与备案一致，{signed}"


# -- the inspection (§3(5)) ----------------------------------------------------------------
FINDINGS = {"upheld": "维持审验结论", "verdict_wrong": "审验结论有误", "fraud_suspected": "涉嫌弄虚作假"}
SANCTION_TARGETS = {"professional": "专业技术人员", "unit": "单位", "provider": "继续教育基地"}
SIGNAL_WORDS = {
    "over_24h_day": "同一天登记学时超过 24 学时：{day} 共 {hours} 学时（{entries} 项）",
    "tour_overlap": "考察交流“{tour}”期间另有学习活动或考察：{with}",
    "base_later_sanctioned": "证书 {certificate} 的继续教育基地其后于 {on} 被{standing}（决定 {decision}）",
    "certificate_shared": "证书 {certificate} 曾由 {people} 人先后申报",
    "late_backdated_entries": "审验前 90 天内补录了 {count} 项两年以前的学习活动",
    "just_over_threshold": "{what}学时刚过要求：已认定 {credited}，应完成 {required}",
    "waiving_degree": "以取得学历视为完成学时要求",
}
_SIGNAL_FIGURES = {"standing": {"ordered_to_rectify": "责令限期整改", "disqualified": "取消资格"},
                   "what": {"total": "总", "public": "公需课"}}


def signal_in_chinese(signal) -> str:
    figures = {k: _SIGNAL_FIGURES.get(k, {}).get(v, v) for k, v in signal.figures.items()}
    figures.setdefault("with", "")
    figures.setdefault("day", "")
    return SIGNAL_WORDS[signal.code].format(**figures)
