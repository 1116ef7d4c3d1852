"""The three file kinds and their documented column sets (Chinese or English headers).

Each column maps to a field of the ledger's own models, so a row is checked by the
same rules as an API request; an error names the column as the file spells it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FileKind(StrEnum):
    PUBLIC_COURSES = "public-courses"  # exports of the online platform (公需课学习记录)
    CERTIFICATES = "certificates"  # specialty certificates held by employers (专业课证书)
    LEGACY = "legacy"  # specialty hours uploaded by training units before 2019 (2019年前上传学时)


@dataclass(frozen=True)
class Column:
    field: str
    headers: tuple[str, ...]  # accepted spellings; the first Chinese one is the documented one
    required: bool = True


ID = Column("id_number", ("身份证号", "身份证号码", "公民身份号码", "id_number"))
NAME = Column("name", ("姓名", "name"), required=False)  # for the reader's eye; the ID number decides
# The unit register (optional, every kind): a row with both names the unit with that code.
UNIT_CODE = Column("unit_code", ("单位代码", "工作单位代码", "unit_code"), required=False)
UNIT_NAME = Column("unit_name", ("单位名称", "工作单位", "unit_name"), required=False)

COLUMNS: dict[FileKind, tuple[Column, ...]] = {
    FileKind.PUBLIC_COURSES: (
        ID, NAME, UNIT_CODE, UNIT_NAME,
        Column("record_id", ("学习记录编号", "记录编号", "record_id")),
        Column("course_code", ("课程编号", "课程代码", "course_code")),
        Column("title", ("课程名称", "title")),
        Column("hours", ("学时", "hours")),
        Column("completed_on", ("完成日期", "完成时间", "completed_on")),
    ),
    FileKind.CERTIFICATES: (
        ID, NAME, UNIT_CODE, UNIT_NAME,
        Column("provider_code", ("发证机构代码", "机构代码", "培训机构代码", "provider_code")),
        Column("certificate_no", ("证书编号", "certificate_no")),
        Column("route", ("学习方式", "学习形式", "route")),
        Column("subject", ("学习内容", "培训内容", "subject")),
        Column("hours", ("学时", "hours")),
        Column("completed_on", ("结业日期", "完成日期", "completed_on")),
        Column("programme_code", ("项目编号", "programme_code"), required=False),
    ),
    FileKind.LEGACY: (
        ID, NAME, UNIT_CODE, UNIT_NAME,
        Column("certificate_no", ("登记编号", "登记号", "legacy_no")),
        Column("provider_code", ("培训单位代码", "机构代码", "provider_code")),
        Column("subject", ("培训内容", "学习内容", "subject")),
        Column("hours", ("学时", "hours")),
        Column("completed_on", ("培训日期", "完成日期", "completed_on")),
    ),
}

# A header only one kind has tells the kind of a file.
TELLING = {"学习记录编号": FileKind.PUBLIC_COURSES, "记录编号": FileKind.PUBLIC_COURSES, "record_id": FileKind.PUBLIC_COURSES,
           "登记编号": FileKind.LEGACY, "登记号": FileKind.LEGACY, "legacy_no": FileKind.LEGACY,
           "证书编号": FileKind.CERTIFICATES, "certificate_no": FileKind.CERTIFICATES}

# §3(1)'s six routes as employers write them.
ROUTES = {
    "行业考试": "industry_exam", "考试": "industry_exam",
    "培训班": "training_class", "研修班": "training_class", "进修班": "training_class", "培训": "training_class",
    "学术会议": "academic_activity", "学术讲座": "academic_activity", "学术访问": "academic_activity",
    "学术活动": "academic_activity",
    "远程教育": "distance_learning", "网络学习": "distance_learning", "移动学习": "distance_learning",
    "远程学习": "distance_learning",
    "实践": "practice", "岗位实践": "practice", "教学科研生产单位进修": "practice",
    "其他": "other",
}


def normalise_header(text: str) -> str:
    return "".join(str(text).split()).lower().replace("（", "(").replace("）", ")")


def header_map(kind: FileKind, headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Field → column index, and the problems (a required column missing, one given twice)."""
    return map_headers(COLUMNS[kind], headers)


def map_headers(columns: tuple[Column, ...], headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """``header_map`` for any documented column set (a CE base's roster has its own)."""
    found: dict[str, int] = {}
    problems = []
    spelled = [normalise_header(h) for h in headers]
    for column in columns:
        hits = [i for i, h in enumerate(spelled) if h in {normalise_header(x) for x in column.headers}]
        if len(hits) > 1:
            problems.append(f"column {column.headers[0]} appears {len(hits)} times")
        elif hits:
            found[column.field] = hits[0]
        elif column.required:
            problems.append(f"column {column.headers[0]} ({column.field}) is missing; accepted headers: "
                            + ", ".join(column.headers))
    return found, problems


def detect(headers: list[str]) -> FileKind | None:
    for h in headers:
        kind = TELLING.get(normalise_header(h))
        if kind:
            return kind
    return None
