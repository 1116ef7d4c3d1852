"""Spreadsheets (xlsx) people take away: a unit's standing, a claims queue. Written with openpyxl's
write-only workbook (rows go to a temporary file as they come, not into memory), headed in Chinese."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 100_000  # a sheet beyond this is a query for the API, not a spreadsheet


def workbook(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    from openpyxl import Workbook  # a third of a second to import: only when someone exports

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(header))
    for i, row in enumerate(rows):
        if i >= MAX_ROWS:
            sheet.append([f"（仅导出前 {MAX_ROWS} 行）"])
            break
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
