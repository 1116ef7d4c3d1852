"""Proofs and verdicts on a loaded region without a server (for scripts/scale.py's ``prove`` step,
the whole region, whose read side is not built): the given records' inclusion proofs in the latest
checkpoint and their verdicts (evaluated, not issued), each timed in this process; prints JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ce_ledger.bootstrap import build_services  # noqa: E402
from ce_ledger.config import Settings  # noqa: E402
from ce_ledger.domain.values import Level  # noqa: E402


def main() -> None:
    pids = [UUID(arg) for arg in sys.argv[1:]]
    timings: dict[str, list[float]] = {"proof": [], "verdict": []}
    with build_services(Settings(), read_side=False) as services:
        for pid in pids:
            started = time.perf_counter()
            services.audit.prove(pid, None)
            timings["proof"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            services.ledger.evaluate(pid, Level.INTERMEDIATE, 2019)
            timings["verdict"].append((time.perf_counter() - started) * 1000)
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
