"""Import a spreadsheet: every row checked like an API request, good rows recorded.

A bad row is reported with its row number, its column (as the file spells it) and
the rule it broke, and never blocks the others. Rows go to the ledger in batches
through the same command as the platform's API, so importing a file again finds
every row already recorded and records nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from ce_ledger.application import Ledger
from ce_ledger.domain.commands import Verification
from ce_ledger.domain.details import ActivityDetails, PublicCourse, SpecialtyCredit
from ce_ledger.domain.errors import Conflict, InvalidInput, LedgerError, NotFound
from ce_ledger.domain.identity import IdNumber
from ce_ledger.domain.professional import PERSON_TERMS, Outcome, Professional, terms_to_record
from ce_ledger.domain.values import Channel, Code, Decision, Route, Text, Value, canonical_code
from ce_ledger.imports.columns import COLUMNS, ROUTES, FileKind, detect, header_map
from ce_ledger.imports.sheets import UnreadableFile, open_sheet
from ce_ledger.services.records import NO_SUCH_PROFESSIONAL

# Rows recorded (and journalled, for a resume) at a time. 2,000, not 500: a batch's fixed cost
# (its transaction, the writers' lock, a query for its records) is shared by four times the rows;
# two import processes on a person-ordered file recorded ≈ 15 % more (alternated pairs, the
# eleventh session's docs/scale.md). A resume repeats at most one batch, which records nothing twice.
BATCH = 2_000
LEGACY_BEFORE = date(2019, 1, 1)
LEGACY_REASON = "2019年前由培训单位上传原系统的学时，导入时按原系统登记予以确认 (imported legacy upload)"
ROUTES_SHOWN = ("行业考试", "培训班", "学术活动", "远程教育", "实践", "其他", *(r.value for r in Route))
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


class _Person(Value):
    id_number: IdNumber


class _Unit(Value):
    unit_code: Code
    unit_name: Text


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str | None
    problem: str


@dataclass
class ImportReport:
    kind: FileKind
    rows: int = 0
    recorded: int = 0
    duplicate: int = 0
    would_record: int = 0  # in a dry run
    resumed: int = 0  # rows recorded by an earlier run of the same file that stopped (checked, not sent again)
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = False
    encoding: str | None = None

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


@dataclass(frozen=True)
class Share:
    """One of ``of`` processes importing a file together (``imports.parallel``): the rows whose ID
    number falls to ``index``. All of a person's rows fall to one share, so they are recorded in
    file order, and two processes never race for one record."""

    index: int
    of: int

    def holds(self, raw_id: Any) -> bool:
        # From the cell as written, before it is checked: a row whose ID is missing or bad falls to
        # some share all the same, which reports it. Case and spaces do not move a person.
        text = "" if raw_id is None else str(raw_id).strip().upper()
        return zlib.crc32(text.encode()) % self.of == self.index


@dataclass(frozen=True)
class _Row:
    number: int
    professional_id: UUID
    details: ActivityDetails


class Journal:
    """How far an import of one file got: the last row whose batch was saved, kept beside the file
    (``.NAME.ce-ledger-import``) so that an import stopped midway (killed, a lost connection)
    starts again after it. Only for the same file: its size, modification time and first MiB
    must match. Holds row numbers only. Without it, a second run still records nothing twice
    (every row is found recorded); with it, the rows done are not sent again. An import in
    several processes keeps one per share (``Share``)."""

    def __init__(self, path: Path, share: Share | None = None):
        suffix = f".{share.index + 1}-of-{share.of}" if share is not None and share.of > 1 else ""
        self.path = path.with_name(f".{path.name}.ce-ledger-import{suffix}")
        stat = path.stat()
        with path.open("rb") as f:
            head = hashlib.sha256(f.read(1 << 20)).hexdigest()
        self.fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}:{head}"

    def done(self) -> int:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return 0
        return int(saved.get("row", 0)) if saved.get("file") == self.fingerprint else 0

    def save(self, row: int) -> None:
        try:
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps({"file": self.fingerprint, "row": row}))
            os.replace(temporary, self.path)  # never a half-written journal
        except OSError:
            pass  # a read-only directory: the import goes on, it only cannot resume

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class LegacyByCommittee(Exception):
    """Legacy uploads are confirmed as they are imported (the old system accepted them), so only
    a committee imports them, never an employer for itself."""


NOT_OF_UNIT = "no professional of unit {unit} is registered with this ID number"


class Importer:
    def __init__(self, ledger: Ledger, *, by: str, unit: str | None = None, sole_writer: bool = False):
        self.ledger = ledger
        # A migration run on its own (``ce-ledger import``, one process per share of the people):
        # its batches read only what they cannot do without (``Records.record_batch``). Not a
        # workbench upload, whose server's workers and threads write the same records.
        self.sole_writer = sole_writer
        self.by = by  # who verifies legacy uploads (they were accepted by the old system)
        # An employer's import: rows for its own staff only. A person registered in another unit
        # and one not registered at all are refused in the same words (an employer may not learn
        # who another unit employs).
        self.unit = unit
        # The unit register's names this file gives: code → (row, name); the last row's name stands.
        self.units: dict[str, tuple[int, str]] = {}

    def run(
        self,
        path: Path,
        *,
        kind: FileKind | None = None,
        encoding: str | None = None,
        dry_run: bool = False,
        resume: bool = True,
        progress: Callable[[int, int], None] = lambda done, total: None,
        share: Share | None = None,
    ) -> ImportReport:
        """Import the file, or with ``share`` only its rows that fall to it (the units the file
        names are then left in ``units`` for the caller to name once all shares are done)."""
        sheet = open_sheet(path, encoding)
        journal = Journal(path, share)
        done = journal.done() if resume and not dry_run else 0
        kind = kind or detect(sheet.headers)
        if kind is None:
            raise UnreadableFile(
                "cannot tell the file's kind from its headers (e.g. 学习记录编号, 证书编号, 登记编号): give --kind"
            )
        if self.unit is not None and kind is FileKind.LEGACY:
            raise LegacyByCommittee("legacy uploads (before 2019) are imported by a committee")
        fields, problems = header_map(kind, sheet.headers)
        if problems:
            raise UnreadableFile("; ".join(problems))
        columns = {f: sheet.headers[i] for f, i in fields.items()}
        report = ImportReport(kind=kind, dry_run=dry_run, encoding=sheet.encoding)
        batch: list[_Row] = []
        id_cell = fields.get("id_number")
        seen = 0
        for number, cells in sheet.rows:
            seen += 1
            if share is not None and not share.holds(cells[id_cell] if id_cell is not None and id_cell < len(cells)
                                                     else None):
                if seen % BATCH == 0:
                    progress(seen, sheet.total)
                continue
            report.rows += 1
            row = self._parse(kind, number, cells, fields, columns, report)  # checked again: same problems
            if row is not None and number <= done:
                report.resumed += 1  # saved by the run that stopped
            elif row is not None:
                batch.append(row)
            if len(batch) >= BATCH:
                self._flush(kind, batch, columns, report)
                if not dry_run:
                    journal.save(number)
                batch = []
            progress(seen, sheet.total)
        self._flush(kind, batch, columns, report)
        if not dry_run:
            if share is None:
                self.name_units(self.units)
            journal.clear()
        progress(seen, seen)
        report.problems.sort(key=lambda p: p.row)
        return report

    def name_units(self, units: dict[str, tuple[int, str]]) -> None:
        for code, (_, name) in units.items():
            self.ledger.name_unit(code, name, by=self.by, channel=Channel.IMPORT)

    # -- one row -------------------------------------------------------------------

    def _parse(
        self, kind: FileKind, number: int, cells: list[Any], fields: dict[str, int], columns: dict[str, str],
        report: ImportReport,
    ) -> _Row | None:
        values: dict[str, Any] = {}
        found: list[RowProblem] = []
        for name, index in fields.items():
            raw = cells[index] if index < len(cells) else None
            try:
                value = _cell(name, raw)
            except ValueError as e:
                found.append(RowProblem(number, columns[name], str(e)))
                continue
            if value is not None:
                values[name] = value
        values.pop("name", None)
        found += self._unit_of_row(number, values.pop("unit_code", None), values.pop("unit_name", None), columns)
        failed = {p.column for p in found}
        if "route" in values:
            route = values["route"] = ROUTES.get(values["route"], values["route"])
            if route not in Route.__members__.values():
                found.append(RowProblem(number, columns["route"], "one of " + ", ".join(ROUTES_SHOWN)))
        if kind is FileKind.LEGACY:
            values["route"] = "training_class"  # training units uploaded the hours of their classes
        try:
            person = _Person(id_number=values.pop("id_number", None))  # type: ignore[arg-type]
        except ValidationError as e:
            found += [p for p in self._problems(number, e, columns) if p.column not in failed]
            person = None
        model = PublicCourse if kind is FileKind.PUBLIC_COURSES else SpecialtyCredit
        try:
            details = model.model_validate(values)
        except ValidationError as e:
            failed |= {p.column for p in found}
            found += [p for p in self._problems(number, e, columns) if p.column not in failed]
            details = None
        if details is not None and kind is FileKind.LEGACY and details.completed_on >= LEGACY_BEFORE:
            found.append(RowProblem(
                number, columns["completed_on"],
                f"dated {details.completed_on.isoformat()}: legacy uploads are from before 2019, as from 2019 "
                "training units no longer upload hours (§3(5)); enter it as a certificate",
            ))
        if found or person is None or details is None:
            report.problems += found
            return None
        return _Row(number, self.ledger.professional_id_for(person.id_number), details)

    def _unit_of_row(self, number: int, code: Any, name: Any, columns: dict[str, str]) -> list[RowProblem]:
        """A row that gives a unit's code and name names the unit (once per file; an employer its own)."""
        if code is None or name is None:
            return []
        try:
            unit = _Unit(unit_code=code, unit_name=name)
        except ValidationError as e:
            return self._problems(number, e, columns)
        if self.unit is not None and canonical_code(unit.unit_code) != canonical_code(self.unit):
            return [RowProblem(number, columns["unit_code"], f"an employer names its own unit {self.unit} only")]
        self.units[canonical_code(unit.unit_code)] = (number, unit.unit_name)
        return []

    @staticmethod
    def _problems(number: int, error: ValidationError, columns: dict[str, str]) -> list[RowProblem]:
        e = InvalidInput.from_validation(error)
        return [RowProblem(number, columns.get(f or "", f), rule) for f, rule in e.problems]

    # -- a batch of rows -----------------------------------------------------------

    def _flush(self, kind: FileKind, rows: list[_Row], columns: dict[str, str], report: ImportReport) -> None:
        rows = self._of_unit(rows, columns, report)
        if not rows:
            return
        if report.dry_run:
            outcomes: Iterable[Outcome | LedgerError | None] = self._check(rows)
        else:
            channel = Channel.LEGACY_UPLOAD if kind is FileKind.LEGACY else Channel.IMPORT
            outcomes = self.ledger.record_batch([(r.professional_id, r.details) for r in rows], by=self.by,
                                                channel=channel, sole_writer=self.sole_writer)
        legacy: list[tuple[_Row, Outcome]] = []
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                report.problems.append(self._problem(row.number, outcome, columns))
                continue
            if outcome is None:
                report.would_record += 1
            elif outcome.status == "recorded":
                report.recorded += 1
            else:
                report.duplicate += 1
            if kind is FileKind.LEGACY and outcome is not None and not report.dry_run:
                legacy.append((row, outcome))
        if legacy:
            self._verify_legacy(legacy, columns, report)

    def _of_unit(self, rows: list[_Row], columns: dict[str, str], report: ImportReport) -> list[_Row]:
        """In an employer's import, the rows for its own staff; the others are refused."""
        if self.unit is None:
            return rows
        people = self.ledger.in_part({row.professional_id: PERSON_TERMS for row in rows})  # unit as it stands now
        ours = {pid: p is not None and canonical_code(p.employer_unit) == canonical_code(self.unit)
                for pid, p in people.items()}
        kept = []
        for row in rows:
            if ours[row.professional_id]:
                kept.append(row)
            else:
                report.problems.append(RowProblem(row.number, columns["id_number"], NOT_OF_UNIT.format(unit=self.unit)))
        return kept

    def _check(self, rows: list[_Row]) -> list[Outcome | LedgerError | None]:
        """What recording would do, read-only: duplicate, a problem, or None (new)."""
        wanted: dict[UUID, list[str]] = {}
        for row in rows:
            wanted.setdefault(row.professional_id, []).extend(terms_to_record(row.details))
        records: dict[UUID, Professional | None] = self.ledger.in_part(wanted)
        out: list[Outcome | LedgerError | None] = []
        for row in rows:
            record = records[row.professional_id]
            if record is None:
                out.append(NotFound(*NO_SUCH_PROFESSIONAL))
                continue
            try:
                self.ledger.check_programme(row.details)
                out.append(record.existing(row.details))
            except LedgerError as e:
                out.append(e)
        return out

    def _verify_legacy(self, rows: list[tuple[_Row, Outcome]], columns: dict[str, str], report: ImportReport) -> None:
        verification = Verification(decision=Decision.VERIFIED, reason=LEGACY_REASON)
        # Named as what it is on the verdict line too: accepted by the old system, not checked by a person now.
        decided = self.ledger.decide_batch([(row.professional_id, outcome.activity_id, verification)
                                            for row, outcome in rows],
                                           by=f"legacy-upload:{self.by}", channel=Channel.LEGACY_UPLOAD)
        for (row, _), result in zip(rows, decided, strict=True):
            if isinstance(result, LedgerError):
                report.problems.append(self._problem(row.number, result, columns))

    @staticmethod
    def _problem(number: int, error: LedgerError, columns: dict[str, str]) -> RowProblem:
        if isinstance(error, NotFound) and error.field == "professional_id":
            return RowProblem(number, columns["id_number"], "no professional is registered with this ID number")
        kind = "conflict: " if isinstance(error, Conflict) else ""
        return RowProblem(number, columns.get(error.field or "", error.field), kind + error.rule)


def _cell(name: str, raw: Any) -> Any:
    """A cell as the models expect it. Spreadsheets store numbers and dates natively;
    CSV holds text. Nothing here decides validity beyond what a cell's type can say."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    if name in ("completed_on",):
        return _date(raw)
    if name == "hours":
        if isinstance(raw, bool):
            raise ValueError("not a number of hours")
        if isinstance(raw, float):
            return Decimal(repr(raw))  # the shortest text that is this float: what the cell showed
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise ValueError("not a number of hours (write e.g. 2.5)") from None
    if name == "id_number" and isinstance(raw, int | float):
        raise ValueError("stored as a number, which loses digits: format the column as text")
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime | date):
        raise ValueError("a date where text is expected")
    return str(raw)


def _date(raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date: write 2016-03-01, 2016/3/1 or 2016年3月1日")


def read_report_columns(kind: FileKind) -> list[tuple[str, str, bool]]:
    """The documented columns of a kind: (header, field, required)."""
    return [(c.headers[0], c.field, c.required) for c in COLUMNS[kind]]
