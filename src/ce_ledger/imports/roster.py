"""A CE base's roster as a spreadsheet (备案名册): each row a certificate, filed as over the API.

Columns (Chinese or English headers): 证书编号 certificate_no, 身份证号 holder_id_number, 培训内容
subject, 学习方式 route, 学时 hours, 结业日期 completed_on; optional 项目编号 programme_code and
状态索引 status_index. A bad row is reported with its number, its column and the rule, and never
blocks the others; filing the same file again files nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ce_ledger.application import Ledger
from ce_ledger.domain.values import Channel
from ce_ledger.imports.columns import ROUTES, Column, map_headers
from ce_ledger.imports.importer import RowProblem, _cell
from ce_ledger.imports.sheets import UnreadableFile, open_sheet

COLUMNS = (
    Column("certificate_no", ("证书编号", "certificate_no")),
    Column("holder_id_number", ("身份证号", "身份证号码", "公民身份号码", "holder_id_number")),
    Column("subject", ("培训内容", "学习内容", "subject")),
    Column("route", ("学习方式", "学习形式", "route")),
    Column("hours", ("学时", "hours")),
    Column("completed_on", ("结业日期", "完成日期", "completed_on")),
    Column("programme_code", ("项目编号", "programme_code"), required=False),
    Column("status_index", ("状态索引", "status_index"), required=False),
)
BATCH = 500


@dataclass
class RosterReport:
    rows: int = 0
    filed: int = 0
    duplicate: int = 0
    verified_claims: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def file_roster(ledger: Ledger, code: str, path: Path, *, by: str, encoding: str | None = None,
                progress: Callable[[int, int], None] = lambda done, total: None) -> RosterReport:
    sheet = open_sheet(path, encoding)
    where, problems = map_headers(COLUMNS, sheet.headers)
    if problems:
        raise UnreadableFile("; ".join(problems))
    report = RosterReport()
    batch: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        results = ledger.file_certificates(code, [item for _, item in batch], by=by, channel=Channel.IMPORT)
        for (number, _), result in zip(batch, results, strict=True):
            if result.status in ("filed", "duplicate"):
                report.filed += result.status == "filed"
                report.duplicate += result.status == "duplicate"
                report.verified_claims += result.verified_claim
            else:
                column = sheet.headers[where[result.field]] if result.field in where else result.field
                report.problems.append(RowProblem(number, column, ("conflict: " if result.status == "conflict" else "")
                                                  + (result.problem or "")))
        batch.clear()

    for number, cells in sheet.rows:
        report.rows += 1
        item: dict[str, Any] = {}
        for name, index in where.items():
            raw = cells[index] if index < len(cells) else None
            try:
                value = _cell("id_number" if name == "holder_id_number" else name, raw)
            except ValueError as e:
                report.problems.append(RowProblem(number, sheet.headers[index], str(e)))
                item = {}
                break
            if value is not None:
                item[name] = ROUTES.get(value, value) if name == "route" else value
        if item:
            batch.append((number, item))
        if len(batch) >= BATCH:
            flush()
        progress(report.rows, sheet.total)
    if batch:
        flush()
    return report
