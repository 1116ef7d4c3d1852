"""A short soak in CI (the long one is `make soak`): ingest and totals together, no error,
memory steady, on a real server with a projection worker, on PostgreSQL."""

from __future__ import annotations

import os
import sys
from pathlib import Path


from tests import launcher
from tests.conftest import postgres_schema

sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from soak import SECRET, soak


def test_a_short_soak_has_no_errors_and_steady_memory(tmp_path):
    with postgres_schema("s") as url:
        env = {**os.environ, "CE_LEDGER_DATABASE_URL": url, "CE_LEDGER_SECRET_KEY": SECRET,
               "CE_LEDGER_VIEW_UPKEEP": "worker"}
        figures = soak(env, 2.0, people=40, progress=False,
                       start=lambda args, env: launcher.popen(args, env, tmp_path / f"{args[0]}.log"),
                       run=lambda args, env: launcher.run(args, env, check=True).stdout)
    assert not figures.errors, figures.errors
    assert figures.rows > 0 and figures.reads > 0
    assert figures.rss_start_kb > 10_000 and figures.rss_end_kb < figures.rss_start_kb + 150 * 1024
