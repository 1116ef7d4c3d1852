"""A spot check of 1% of a region-sized population, in bounded memory.

The population a draw reads is the read side's verdict and place rows (projections/view.py),
so this benchmark fills those tables directly with rows shaped as the projection writes them:
336,000 people in 3,000 units and 12 series, each with one 2019 verdict (and a tenth of them
with an earlier, superseded one). It then draws 1% (3,360+) and reports:

- the draw's time, and its ratio to the raw limit measured in the same run: one streamed scan of
  the verdict rows (what any draw must at least read);
- the draw's peak Python memory (tracemalloc), beside what holding the population would take.

    .venv/bin/python scripts/bench_spot_check.py [--people 336000] [--store sqlite|postgres]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ce_ledger.audit.sampling import allocate, draw, sample_size  # noqa: E402
from ce_ledger.bootstrap import build_view  # noqa: E402
from ce_ledger.config import Settings  # noqa: E402
from ce_ledger.domain.inspection import Population  # noqa: E402
from projections.rows import Changes, PlaceRow, VerdictRow  # noqa: E402

SERIES = ("工程技术", "卫生", "教育", "经济", "农业", "会计", "统计", "新闻", "出版", "翻译", "档案", "艺术")


def fill(view, people: int, units: int) -> None:
    version = view.create_version("bench", "bench")
    rnd = random.Random(2019)
    position = 0
    batch = Changes()
    for n in range(people):
        pid = str(uuid.UUID(int=rnd.getrandbits(128)))
        position += 1
        batch.places.append(PlaceRow(pid, position, f"UNIT-{rnd.randrange(units):05d}", rnd.choice(SERIES)))
        for _ in range(2 if n % 10 == 0 else 1):  # a tenth have a superseded verdict too
            position += 75  # as deep as a real window: the record's activities come between
            batch.verdicts.append(VerdictRow(str(uuid.UUID(int=rnd.getrandbits(128))), pid, 2019, "intermediate",
                                             "committee:bench", 1, position))
        if len(batch.places) >= 20_000:
            view.insert_all(version, batch)
            batch = Changes()
    view.insert_all(version, batch)
    view.switch_to(version)
    return position


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=336_000)
    parser.add_argument("--units", type=int, default=3_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "sqlite":
            settings = Settings(database_url=f"sqlite:///{tmp}/bench.sqlite")
        else:
            import os

            import psycopg

            url = os.environ["CE_LEDGER_TEST_POSTGRES_URL"]
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            settings = Settings(database_url=f"{url}?schema={schema}")
        view = build_view(settings)
        started = time.perf_counter()
        end = fill(view, args.people, args.units)
        print(f"filled {args.people:,} people, {args.units:,} units on {args.store} in {time.perf_counter() - started:.1f} s")

        population = Population(evaluation_year=2019)
        with view.transaction(commit=False) as c:  # the raw limit: one streamed scan of the verdict rows
            version, _ = view.current(c)
            started = time.perf_counter()
            scanned = sum(1 for _ in view._stream(c, f"SELECT verdict_id, professional_id, position FROM "
                                                       f"{view.table(f'totals_v{version}_verdicts')}", []))
            raw = time.perf_counter() - started

        def spot_check() -> tuple[int, int, list]:
            with view.population(population, end) as (strata, rows):
                total = sum(strata.values())
                allocation = allocate(strata, sample_size(total, None, Decimal("0.01")))
                return total, len(strata), draw(rows, allocation, "seed-bench-2019")

        started = time.perf_counter()  # timed without tracemalloc, which slows every allocation
        total, strata, sample = spot_check()
        took = time.perf_counter() - started
        tracemalloc.start()  # then again, for its peak memory (the same sample)
        assert spot_check()[2] == sample
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        held = total * (36 + 12 + 8 + 3 * 49 + 56)  # the rows as Python strings and a tuple, were they all kept
        print(f"raw scan: {scanned:,} verdict rows in {raw:.2f} s ({scanned / raw:,.0f} rows/s)")
        print(f"draw: population {total:,} in {strata:,} strata, sample {len(sample):,} in {took:.2f} s "
              f"= {took / raw:.1f} x the raw scan")
        print(f"peak memory of the draw: {peak / 2**20:.1f} MiB (holding the population would take ~{held / 2**20:.0f} MiB)")
        if args.store == "postgres":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
