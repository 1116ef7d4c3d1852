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
    "professional": "专业技术人员",
}
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
            "demo": "演示数据", "cli": "命令行", "direct": "程序调用"}
