"""Importing spreadsheets: each bad row reported precisely, the rest recorded, a re-import a no-op."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from ce_ledger import demo
from ce_ledger.domain.professional import Status
from ce_ledger.imports.columns import FileKind
from ce_ledger.imports import importer
from ce_ledger.imports.importer import LEGACY_REASON, Importer
from ce_ledger.imports.sheets import UnreadableFile
from tests import launcher

DATA = Path(__file__).parent / "data"


@pytest.fixture
def demo_ledger(ledger):
    demo.load(ledger)
    return ledger


def run(ledger, name: str, **kw):
    return Importer(ledger, by="committee:import-test").run(DATA / name, **kw)


def problems(report) -> list[tuple[int, str | None]]:
    return [(p.row, p.column) for p in report.problems]


def test_public_course_exports_import_once(demo_ledger):
    before = demo_ledger.position()
    first = run(demo_ledger, "public-courses.csv")
    assert (first.kind, first.rows, first.recorded, first.duplicate, first.problems) == (FileKind.PUBLIC_COURSES, 5, 5, 0, [])
    assert first.encoding == "utf-8-sig" and demo_ledger.position() > before
    position = demo_ledger.position()
    again = run(demo_ledger, "public-courses.csv")
    assert (again.recorded, again.duplicate, demo_ledger.position()) == (0, 5, position)
    ma = demo.PEOPLE[0]
    record = demo_ledger.professional(demo_ledger.professional_id_for(ma.registration.id_number))
    imported = [a for a in record.activities.values() if getattr(a.recorded, "record_id", "") == "NXP-IMP-0001"]
    assert [(str(a.recorded.hours), a.occurred_on.isoformat()) for a in imported] == [("6", "2018-09-12")]


def test_a_gb18030_certificate_file_reports_each_bad_row_and_records_the_rest(demo_ledger):
    report = run(demo_ledger, "certificates-gb18030.csv")
    assert report.encoding == "gb18030" and (report.rows, report.recorded) == (10, 3)
    assert problems(report) == [
        (4, "学时"), (5, "结业日期"), (6, "学习方式"), (7, "身份证号"), (8, "身份证号"), (9, "学时"), (11, "证书编号"),
    ]
    words = {p.row: p.problem for p in report.problems}
    assert "not a number of hours" in words[4] and "not a date" in words[5] and "培训班" in words[6]
    assert "check digit" in words[7] and "no professional is registered" in words[8]
    assert "at most 2 decimal places" in words[9] and words[11].startswith("conflict:") and "reading 12" in words[11]
    position = demo_ledger.position()
    again = run(demo_ledger, "certificates-gb18030.csv")
    assert (again.recorded, again.duplicate, problems(again), demo_ledger.position()) == (0, 3, problems(report), position)


def test_legacy_uploads_from_a_workbook_are_recorded_and_confirmed(demo_ledger):
    report = run(demo_ledger, "legacy.xlsx")
    assert (report.kind, report.rows, report.recorded) == (FileKind.LEGACY, 5, 2)
    assert problems(report) == [(4, "培训日期"), (5, "身份证号"), (6, "学时")]
    assert "before 2019" in report.problems[0].problem and "format the column as text" in report.problems[1].problem
    zhang = demo_ledger.professional(demo_ledger.professional_id_for(demo.PEOPLE[3].registration.id_number))
    legacy = [a for a in zhang.activities.values() if getattr(a.recorded, "certificate_no", "") == "LG-2016-00231"]
    # A legacy upload says it is one: on the verdict line (who verified) and on both events.
    assert [(a.status, str(a.recorded.hours), a.decision.reason, a.decision.decided_by) for a in legacy] == [
        (Status.VERIFIED, "7.5", LEGACY_REASON, "legacy-upload:committee:import-test")
    ]
    assert [(a.recorded.channel, a.recorded.caused_by, a.decision.channel) for a in legacy] == [
        ("legacy_upload", "committee:import-test", "legacy_upload")
    ]
    position = demo_ledger.position()
    again = run(demo_ledger, "legacy.xlsx")
    assert (again.recorded, again.duplicate, len(again.problems), demo_ledger.position()) == (0, 2, 3, position)


def test_a_dry_run_reports_and_records_nothing(demo_ledger):
    position = demo_ledger.position()
    report = run(demo_ledger, "certificates-gb18030.csv", dry_run=True)
    assert (report.would_record, report.recorded, demo_ledger.position()) == (4, 0, position)
    # The dry run cannot see another person's certificate; recording reports it as a conflict.
    assert problems(report) == [(4, "学时"), (5, "结业日期"), (6, "学习方式"), (7, "身份证号"), (8, "身份证号"), (9, "学时")]


def test_a_file_that_cannot_be_read_is_refused_whole(demo_ledger, tmp_path):
    missing = tmp_path / "missing.csv"
    with missing.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["身份证号", "证书编号", "学时"], ["x", "y", "1"]])
    with pytest.raises(UnreadableFile, match="column 发证机构代码 .* is missing"):
        run(demo_ledger, str(missing))
    other = tmp_path / "old.xls"
    other.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(UnreadableFile, match="save it as .xlsx"):
        run(demo_ledger, str(other))
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="give --kind"):
        run(demo_ledger, str(unknown))


def test_the_import_command(tmp_path):
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}

    def cli(*args):
        return launcher.run(list(args), env)

    assert cli("demo").returncode == 0
    out = cli("import", str(DATA / "certificates-gb18030.csv"))
    assert out.returncode == 1, out.stderr
    assert "recorded 3" in out.stdout and "7 row(s) refused" in out.stdout and "结业日期" in out.stdout
    assert "640" not in out.stdout  # no ID number is echoed back
    out = cli("import", str(DATA / "public-courses.csv"))
    assert out.returncode == 0 and "recorded 5" in out.stdout


def test_files_past_the_stated_limits_are_refused_before_they_are_read(demo_ledger, tmp_path, monkeypatch):
    from ce_ledger.imports import sheets
    from ce_ledger.imports.sheets import UnreadableFile

    monkeypatch.setattr(sheets, "MAX_XLSX_UNPACKED", 1000)  # the sample workbook unpacks to more
    with pytest.raises(UnreadableFile, match="unpacks to"):
        run(demo_ledger, "legacy.xlsx")
    monkeypatch.undo()
    long_cell = tmp_path / "long.csv"
    long_cell.write_text("身份证号,发证机构代码,证书编号,学习方式,学习内容,学时,结业日期\n"
                         f"x,NXJD-01,C-1,培训班,{'长' * 10_001},8,2017-03-01\n", encoding="utf-8")
    position = demo_ledger.position()
    with pytest.raises(UnreadableFile, match="longer than 10,000"):
        Importer(demo_ledger, by="committee:import-test").run(long_cell)
    assert demo_ledger.position() == position


def test_an_import_killed_midway_takes_up_where_its_last_batch_ended(tmp_path):
    """A migration's file, killed after some batches: run again, it sends only the rest, and
    nothing is recorded twice (the rows saved are found recorded either way)."""
    import time

    from ce_ledger.bootstrap import build_ledger
    from ce_ledger.config import Settings
    from tests.builders import id_number, registration

    database = tmp_path / "ledger.sqlite"
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"sqlite:///{database}"}
    ledger = build_ledger(Settings(database_url=f"sqlite:///{database}"))
    numbers = [id_number() for _ in range(40)]
    for number in numbers:
        ledger.register(registration(number), by="test")
    ledger.close()
    file = tmp_path / "platform-export.csv"
    with file.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["身份证号", "学习记录编号", "课程编号", "课程名称", "学时", "完成日期"])
        for n in range(6000):
            w.writerow([numbers[n % 40], f"MIG-{n}", "GX-2018-01", "公需课", "1", f"2018-{n % 12 + 1:02d}-01"])
    journal = tmp_path / f".{file.name}.ce-ledger-import"

    first = launcher.popen(["import", str(file)], env, tmp_path / "first.log")
    deadline = time.monotonic() + 120
    while not journal.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed = first.poll() is None
    first.kill()  # SIGKILL
    first.wait()

    second = launcher.run(["import", "--json", str(file)], env, timeout=300)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["recorded"] + report["duplicate"] + report["resumed"] == 6000
    if killed:
        assert report["resumed"] >= importer.BATCH and report["recorded"] < 6000
    assert not journal.exists()  # done: nothing to take up
    ledger = build_ledger(Settings(database_url=f"sqlite:///{database}"))
    try:
        completed = [n for n in ledger.recorder.select_notifications(start=None, limit=100_000)
                     if n.topic.endswith(":PublicCourseCompleted")]
        assert len(completed) == 6000
    finally:
        ledger.close()


def test_a_large_file_in_two_processes_records_what_one_process_records(tmp_path):
    """`ce-ledger import --jobs 2` on PostgreSQL: the file cut by person, each share in its own
    process; the report and the records are those of a one-process import, and a second run of
    either records nothing. SQLite refuses more than one process."""
    import dataclasses

    from ce_ledger.bootstrap import build_ledger
    from ce_ledger.config import Settings
    from tests.builders import id_number, registration
    from tests.conftest import TEST_KEY, postgres_schema

    numbers = [id_number() for _ in range(30)]
    file = tmp_path / "platform-export.csv"
    with file.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["身份证号", "学习记录编号", "课程编号", "课程名称", "学时", "完成日期", "单位代码", "单位名称"])
        for n in range(1200):
            w.writerow([numbers[n % 30].lower() if n % 7 == 0 else numbers[n % 30], f"PAR-{n}", "GX-2018-01",
                        "公需课", "1.5", f"2018-{n % 12 + 1:02d}-01", "U-1", f"单位{n // 600}"])
        w.writerow(["640102199001011235", "PAR-bad-id", "GX-2018-01", "公需课", "1", "2018-01-01", "", ""])
        w.writerow([numbers[0], "PAR-bad-hours", "GX-2018-01", "公需课", "x", "2018-01-01", "", ""])
        w.writerow([numbers[0], "PAR-0", "GX-2018-01", "公需课", "1.5", "2018-01-01", "", ""])  # a row again

    with postgres_schema() as first, postgres_schema() as second:
        reports, counts = [], []
        for url, jobs in ((first, "2"), (second, "1")):
            ledger = build_ledger(Settings(database_url=url, secret_key=TEST_KEY))
            for number in numbers:
                ledger.register(registration(number, unit="U-1"), by="test")
            if jobs == "1":  # the one-process import, in this process
                report = Importer(ledger, by="committee:import").run(file)
                reports.append(json.loads(json.dumps(dataclasses.asdict(report), default=str)))
            else:
                env = {**os.environ, "CE_LEDGER_DATABASE_URL": url, "CE_LEDGER_SECRET_KEY": TEST_KEY}
                run_ = ["import", "--json", "--jobs", jobs, str(file)]
                out = launcher.run(run_, env, timeout=300)
                assert out.returncode == 1, out.stderr  # two rows refused
                reports.append(json.loads(out.stdout))
                second = launcher.run(run_, env, timeout=300)
                assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
                again = json.loads(second.stdout)
                assert (again["recorded"], again["duplicate"]) == (0, 1201)
                assert not list(tmp_path.glob(".*ce-ledger-import*"))  # every share's journal cleared
            per_person = []
            for number in numbers:
                record = ledger.professional(ledger.professional_id_for(number))
                per_person.append(sorted(a.recorded.record_id for a in record.activities.values()))
            counts.append(per_person)
            assert ledger.unit("U-1").name == "单位1"  # the file's last naming stands
            ledger.close()
        two, one = reports
        assert (two["rows"], two["recorded"], two["duplicate"]) == (1203, 1200, 1) == (
            one["rows"], one["recorded"], one["duplicate"])
        assert two["problems"] == one["problems"] and [p["row"] for p in two["problems"]] == [1202, 1203]
        assert counts[0] == counts[1] and sum(map(len, counts[0])) == 1200

    sqlite_env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
    refused = launcher.run(["import", "--jobs", "2", str(file)], sqlite_env)
    assert refused.returncode == 2 and "--jobs" in refused.stdout + refused.stderr
