"""A region's continuing-education history, generated: seeded and reproducible.

    .venv/bin/python scripts/region.py --people 2000                 # load it into the configured store
    .venv/bin/python scripts/region.py --people 336000 --files out/  # write what `ce-ledger import` reads

People in units of realistic sizes and series in realistic shares (health with its own CE regulation,
series that require the title exams), CE bases (some ordered to rectify and disqualified for a while),
both levels, and five years (2014–2018) of activities of every kind at about 15 per person-year:
platform public courses, certificates (most verified, some rejected, some still pending), teaching,
study tours, exam passes and degrees; about 1% voided.

Loading goes year by year, the platform's and employers' way (each year's activities of 500 people
in one batch), in one process per core on PostgreSQL as `ce-ledger import` does a large file (``--jobs``),
and prints the cost per activity for each year: the depth of the records grows by
about 15 a year, so the figures show how a write's cost depends on how long the record already is
(issue: region scale). Generation itself streams: memory does not grow with --people.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ce_ledger.domain.commands import Registration, Verification, Voiding  # noqa: E402
from ce_ledger.domain.details import (  # noqa: E402
    ActivityDetails, Degree, ExamPass, PublicCourse, SpecialtyCredit, StudyTour, Teaching,
)
from ce_ledger.domain.identity import check_digit  # noqa: E402
from ce_ledger.domain.values import Decision  # noqa: E402

YEARS = range(2014, 2019)
# Series: (name, share, requires the title exams, own CE regulation)
SERIES = (("工程技术", 0.30, True, False), ("卫生", 0.24, False, True), ("教育", 0.26, False, False),
          ("农业", 0.07, True, False), ("经济", 0.05, True, False), ("会计", 0.04, True, False),
          ("新闻出版", 0.02, False, False), ("艺术", 0.02, False, False))
ROUTES = (("training_class", 0.55), ("distance_learning", 0.2), ("academic_activity", 0.12),
          ("industry_exam", 0.05), ("practice", 0.06), ("other", 0.02))
SURNAMES = "王李张刘陈杨马赵黄周吴徐孙胡朱高林何郭罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力"
REGIONS = ("640104", "640105", "640106", "640121", "640122", "640181", "640202", "640205", "640221",
           "640302", "640303", "640323", "640381", "640402", "640422", "640502", "640521", "640522")
BASES = 40


@dataclass(frozen=True)
class Person:
    n: int
    registration: Registration


def pick(rnd: random.Random, table) -> object:
    x, acc = rnd.random(), 0.0
    for row in table:
        acc += row[1]
        if x < acc:
            return row
    return table[-1]


def units(people: int) -> tuple[list[tuple[str, str, int]], list[float]]:
    """Units of very unequal sizes (a few hospitals and schools with hundreds, many with a handful)."""
    rnd = random.Random(7)
    count = max(1, people // 100)
    weights = [rnd.paretovariate(1.2) for _ in range(count)]
    return [(f"64{rnd.choice(('01', '02', '03', '04', '05'))}00-U{i:05d}", f"宁夏第{i + 1}单位", 0) for i in range(count)], weights


def people(n_people: int, seed: int) -> Iterator[Person]:
    rnd = random.Random(seed)
    unit_rows, weights = units(n_people)
    codes = [u[0] for u in unit_rows]
    # Every ID number distinct: person n has region n mod 18 and sequence n // 18 mod 1000, so people
    # 18,000 apart share both; each of those ``laps`` gets birth dates of its own residue.
    per_lap = len(REGIONS) * 1000
    laps = -(-n_people // per_lap)
    for n in range(n_people):
        series = pick(rnd, SERIES)
        born = date(1960, 1, 1) + timedelta(days=rnd.randrange(365 * 37 // laps) * laps + n // per_lap)
        first17 = f"{REGIONS[n % len(REGIONS)]}{born:%Y%m%d}{n // len(REGIONS) % 1000:03d}"
        yield Person(n, Registration(
            id_number=first17 + check_digit(first17),
            name=rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2)))),
            series=series[0], requires_foreign_language_exam=series[2], requires_computer_exam=series[2],
            own_ce_regulation=series[3], employer_unit=rnd.choices(codes, weights)[0],
        ))


def activities(person: Person, year: int, seed: int) -> list[tuple[ActivityDetails, str]]:
    """One person's activities of one year, each with what happens to it next (verify, reject, void, '')."""
    rnd = random.Random(f"{seed}:{person.n}:{year}")
    out: list[tuple[ActivityDetails, str]] = []
    day = lambda: date(year, 1, 1) + timedelta(days=rnd.randrange(365))  # noqa: E731
    for i in range(rnd.randint(8, 12)):  # platform public courses
        out.append((PublicCourse(record_id=f"P{year}-{person.n}-{i}", course_code=f"GX-{year}-{rnd.randrange(60):02d}",
                                 title="公需课", hours=Decimal(rnd.choice((2, 3, 4, 6))), completed_on=day()), ""))
    for i in range(rnd.randint(2, 4)):  # certificates
        base = rnd.randrange(BASES)
        fate = rnd.choices(("verify", "reject", ""), (0.85, 0.05, 0.10))[0]
        out.append((SpecialtyCredit(provider_code=f"NXB-{base:02d}", certificate_no=f"C{year}-{person.n}-{i}",
                                    route=pick(rnd, ROUTES)[0], subject="专业科目", hours=Decimal(rnd.choice((8, 16, 24, 40))),
                                    completed_on=day()), fate))
    if rnd.random() < 0.3:
        out.append((Teaching(taught_on=day(), hours_taught=Decimal(rnd.choice((2, 4))), course="授课",
                             document_ref=f"JS-{year}-{person.n}"), ""))
    if rnd.random() < 0.2:
        first = day()
        out.append((StudyTour(first_day=first, last_day=first + timedelta(days=4), days=5, subject="考察",
                              document_ref=f"KC-{year}-{person.n}"), ""))
    if rnd.random() < 0.05:
        out.append((ExamPass(exam="computer_module", module=f"M{rnd.randrange(12)}", passed_on=day(),
                             certificate_no=f"JSJ-{year}-{person.n}"), ""))
    if year == 2016 and rnd.random() < 0.01:
        out.append((Degree(degree="second", institution="宁夏大学", enrolled_on=date(2013, 9, 1),
                           graduated_on=date(2016, 7, 1), certified_hours=Decimal(180)), ""))
    return [(d, "void" if rnd.random() < 0.01 and not fate else fate) for d, fate in out]


def write_files(n_people: int, seed: int, out: Path) -> None:
    """The platform's and employers' files, as `ce-ledger import` reads them (and the people, for reference)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "people.csv").open("w", newline="", encoding="utf-8") as p, \
         (out / "public-courses.csv").open("w", newline="", encoding="utf-8") as c, \
         (out / "certificates.csv").open("w", newline="", encoding="utf-8") as s:
        pw, cw, sw = csv.writer(p), csv.writer(c), csv.writer(s)
        pw.writerow(["身份证号", "姓名", "职称系列", "单位代码"])
        cw.writerow(["身份证号", "学习记录编号", "课程编号", "课程名称", "学时", "完成日期"])
        sw.writerow(["身份证号", "机构代码", "证书编号", "学习方式", "学习内容", "学时", "结业日期"])
        for person in people(n_people, seed):
            r = person.registration
            pw.writerow([r.id_number, r.name, r.series, r.employer_unit])
            for year in YEARS:
                for d, _ in activities(person, year, seed):
                    if isinstance(d, PublicCourse):
                        cw.writerow([r.id_number, d.record_id, d.course_code, d.title, d.hours, d.completed_on])
                    elif isinstance(d, SpecialtyCredit):
                        sw.writerow([r.id_number, d.provider_code, d.certificate_no, d.route.value, d.subject, d.hours,
                                     d.completed_on])


def load(n_people: int, seed: int, jobs: int, batch_people: int = 500) -> None:
    """Load the region in ``jobs`` processes (as `ce-ledger import` does a large file on PostgreSQL:
    one per core), each with its own share of the people; year by year, all of them together."""
    import multiprocessing

    from ce_ledger.bootstrap import build_services
    from ce_ledger.config import Settings
    from ce_ledger.domain.provider import ProviderLevel, ProviderStatusChange

    # The write side only: the view is built afterwards (`ce-ledger rebuild`) or by a running
    # `ce-ledger project` worker, so the figures are the writes' own.
    with build_services(Settings(), read_side=False) as services:
        ledger = services.ledger
        for b in range(BASES):
            ledger.accredit_provider(f"NXB-{b:02d}", name=f"继续教育基地{b}", level=ProviderLevel.REGIONAL,
                                     effective_on=date(2010, 1, 1), decision_ref=f"认定-{b}", by="auditor:region")
        for b in (3, 17, 29):  # disqualified for part of 2016–2017
            for change in (ProviderStatusChange(status="ordered_to_rectify", effective_on=date(2016, 3, 1),
                                                deadline=date(2016, 9, 1), decision_ref="整改", reason="考核不合格"),
                           ProviderStatusChange(status="disqualified", effective_on=date(2016, 9, 2), decision_ref="取消",
                                                reason="整改不合格"),
                           ProviderStatusChange(status="reaccredited", effective_on=date(2017, 6, 1), decision_ref="重新认定")):
                try:
                    ledger.change_provider_status(f"NXB-{b:02d}", change, by="auditor:region")
                except Exception:  # noqa: BLE001 - a second run: decided already
                    pass
    context = multiprocessing.get_context("spawn")
    step = context.Barrier(jobs + 1)  # the shares and this process meet before and after each phase
    counts = context.Queue()
    shares = [context.Process(target=_load_share, args=(k, jobs, n_people, seed, batch_people, step, counts))
              for k in range(jobs)]
    for share in shares:
        share.start()

    def watch() -> None:  # a share killed outright cannot abort the barrier itself
        while not all(share.exitcode is not None for share in shares):
            if any(share.exitcode not in (None, 0) for share in shares):
                step.abort()
                return
            time.sleep(1)

    threading.Thread(target=watch, daemon=True).start()
    step.wait()  # every share started and settled
    depth = 0.0
    for phase in ("registered", *YEARS):
        started = time.perf_counter()
        step.wait()  # go
        step.wait()  # every share done with the phase
        took = time.perf_counter() - started
        count = sum(counts.get() for _ in shares)
        if phase == "registered":
            print(f"registered {count:,} people in {took:.1f} s ({jobs} processes)", flush=True)
            continue
        depth += count / n_people
        print(f"{phase}: {count:,} activities in {took:.1f} s = {took / count * 1000:.2f} ms each "
              f"(records now about {depth:.0f} deep)", flush=True)
    for share in shares:
        share.join()
        if share.exitcode:
            raise SystemExit(f"a loading process stopped (exit code {share.exitcode})")


def _load_share(index: int, of: int, n_people: int, seed: int, batch_people: int, step, counts) -> None:
    """One process's share: the people of every ``of``-th batch, from ``index``."""
    try:
        _load(index, of, n_people, seed, batch_people, step, counts)
    except BaseException:
        step.abort()  # the others and the parent stop waiting for this share
        raise


def _load(index: int, of: int, n_people: int, seed: int, batch_people: int, step, counts) -> None:
    from ce_ledger import collector
    from ce_ledger.bootstrap import build_services
    from ce_ledger.config import Settings

    with build_services(Settings(), read_side=False) as services:
        ledger = services.ledger
        collector.settle()  # as `ce-ledger import` and the server do before their long run of batches
        everyone = list(people(n_people, seed))  # small: a registration each
        chunks = [everyone[at:at + batch_people] for at in range(0, n_people, batch_people)][index::of]
        step.wait()
        step.wait()
        pids = {}
        for chunk in chunks:  # a chunk's new records in one transaction, as a migration opens them
            opened = ledger.register_batch([person.registration for person in chunk], by="committee:region")
            for person, done in zip(chunk, opened, strict=True):
                if isinstance(done, Exception):
                    raise done
                pids[person.n] = done.professional_id
        counts.put(sum(map(len, chunks)))
        step.wait()
        for year in YEARS:
            step.wait()
            count = 0
            for chunk in chunks:
                items, fates = [], []
                for person in chunk:
                    for d, fate in activities(person, year, seed):
                        items.append((pids[person.n], d))
                        fates.append(fate)
                outcomes = ledger.record_batch(items, by="platform:region", sole_writer=True)  # its own people
                decisions, voids = [], []
                for (pid, _), outcome, fate in zip(items, outcomes, fates, strict=True):
                    if fate in ("verify", "reject") and getattr(outcome, "status", None) == "recorded":
                        decision = Decision.VERIFIED if fate == "verify" else Decision.REJECTED
                        decisions.append((pid, outcome.activity_id, Verification(decision=decision, reason="核实")))
                    elif fate == "void" and getattr(outcome, "status", None) == "recorded":
                        voids.append((pid, outcome.activity_id, Voiding(reason="抽查", decision_ref="抽查-1")))
                ledger.decide_batch(decisions, by="employer:region")
                ledger.void_batch(voids, by="auditor:region")
                count += len(items)
            counts.put(count)
            step.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=336_000)
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--files", type=Path, help="write import files into this directory instead of loading")
    parser.add_argument("--jobs", type=int, help="loading processes (default: one per core on PostgreSQL, 1 on SQLite)")
    args = parser.parse_args()
    if args.files:
        write_files(args.people, args.seed, args.files)
    else:
        load(args.people, args.seed, args.jobs or _default_jobs())


def _default_jobs() -> int:
    import os

    from ce_ledger.config import Settings

    return 1 if Settings().is_sqlite else min(4, os.cpu_count() or 1)


if __name__ == "__main__":
    main()
