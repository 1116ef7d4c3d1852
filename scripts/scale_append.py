"""Append completions to a loaded region (for scripts/scale.py): COUNT platform completions spread
over the registered people, in batches of 500; prints the number of log rows appended."""

from __future__ import annotations

import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ce_ledger.bootstrap import build_services  # noqa: E402
from ce_ledger.config import Settings  # noqa: E402
from ce_ledger.domain.details import PublicCourse  # noqa: E402
from ce_ledger.domain.events import ProfessionalRegistered  # noqa: E402


def main() -> None:
    count = int(sys.argv[2])
    rng = random.Random(count)
    with build_services(Settings(), read_side=False) as services:
        ledger = services.ledger
        before = ledger.position()
        pids, after = [], 0
        topic = f"{ProfessionalRegistered.__module__}:{ProfessionalRegistered.__qualname__}"
        while len(pids) < 5000:  # people to spread over: the first registered, a page at a time
            page = ledger.recorder.log_page(after, ledger.position(), [topic], 1000)
            if not page:
                break
            pids += [row.originator_id for row in page]
            after = page[-1].id
        for at in range(0, count, 500):
            ledger.record_batch([(rng.choice(pids), PublicCourse(
                record_id=f"APPEND-{count}-{at + i}", course_code="GX-2019-01", title="公需课", hours=Decimal("2"),
                completed_on=date(2019, 1, 2) + timedelta(days=rng.randrange(60)))) for i in range(min(500, count - at))],
                by="platform:append")
        print(ledger.recorder.log_end() - before)


if __name__ == "__main__":
    main()
