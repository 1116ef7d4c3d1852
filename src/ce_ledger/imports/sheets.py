"""Rows out of a CSV file (UTF-8, or GB18030 as Chinese Excel saves it) or an .xlsx workbook."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook


class UnreadableFile(ValueError):
    """The file as a whole cannot be read: wrong type, encoding, no header row, or too large."""


# Stated limits, so that no file can make an import take memory without bound: a workbook is
# unpacked in memory (a single huge shared string once took 3.2 GB), a CSV is read whole.
MAX_XLSX_UNPACKED = 100 * 2**20  # bytes, all parts of the workbook together
MAX_CSV_BYTES = 200 * 2**20
MAX_CELL_CHARS = 10_000  # no column the ledger reads is longer than 200


@dataclass(frozen=True)
class Sheet:
    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (row number as the spreadsheet shows it, cells)
    total: int  # data rows, for the progress bar
    encoding: str | None = None


def open_sheet(path: Path, encoding: str | None = None) -> Sheet:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(path, encoding)
    if suffix == ".xlsx":
        return _xlsx(path)
    raise UnreadableFile(f"{path.name}: only .csv and .xlsx files are read (an .xls file: save it as .xlsx)")


def _decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    # A UTF-8 file either decodes as UTF-8 or is almost surely not UTF-8; GB18030 decodes
    # nearly anything, so it is tried second, never first.
    for candidate in [encoding] if encoding else ["utf-8-sig", "gb18030"]:
        try:
            return raw.decode(candidate), candidate
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnreadableFile(f"the file is neither UTF-8 nor GB18030{f' nor {encoding}' if encoding else ''}")


def _csv(path: Path, encoding: str | None) -> Sheet:
    if path.stat().st_size > MAX_CSV_BYTES:
        raise UnreadableFile(f"{path.name} is larger than {MAX_CSV_BYTES // 2**20} MiB: split it")
    text, used = _decode(path.read_bytes(), encoding)
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        raise UnreadableFile(f"{path.name}: a cell is longer than the CSV reader takes (131,072 characters)") from None
    if any(len(cell) > MAX_CELL_CHARS for line in lines for cell in line):
        raise UnreadableFile(f"{path.name}: a cell is longer than {MAX_CELL_CHARS:,} characters")
    if not lines:
        raise UnreadableFile(f"{path.name} is empty: the first row must name the columns")
    headers, body = lines[0], lines[1:]
    rows = ((n, cells) for n, cells in enumerate(body, start=2) if any(c.strip() for c in cells))
    return Sheet(headers, rows, len(body), used)


def _xlsx(path: Path) -> Sheet:
    try:
        with zipfile.ZipFile(path) as packed:
            unpacked = sum(info.file_size for info in packed.infolist())
    except (zipfile.BadZipFile, OSError):
        raise UnreadableFile(f"{path.name} is not an Excel workbook") from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise UnreadableFile(
            f"{path.name} unpacks to {unpacked // 2**20} MiB, more than {MAX_XLSX_UNPACKED // 2**20} MiB: "
            "save it as CSV, or split it"
        )
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableFile(f"{path.name} is not an Excel workbook: {type(e).__name__}") from None
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    header = next(values, None)
    if header is None:
        raise UnreadableFile(f"{path.name} is empty: the first row must name the columns")
    headers = ["" if h is None else str(h) for h in header]
    total = max(0, (sheet.max_row or 1) - 1)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for n, cells in enumerate(values, start=2):
                if any(isinstance(c, str) and len(c) > MAX_CELL_CHARS for c in cells):
                    raise UnreadableFile(f"{path.name}: row {n} has a cell longer than {MAX_CELL_CHARS:,} characters")
                if any(c not in (None, "") for c in cells):
                    yield n, list(cells)
        finally:
            book.close()

    return Sheet(headers, rows(), total)
