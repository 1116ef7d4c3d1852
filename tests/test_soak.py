"""A short soak in CI (the long one is `make soak`): ingest and totals together, no error,
memory steady, on a real server with a projection worker, on PostgreSQL."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import psycopg

from tests.conftest import postgres_url

sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from soak import SECRET, soak


def test_a_short_soak_has_no_errors_and_steady_memory(tmp_path):
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": f"{postgres_url()}?schema={schema}", "CE_LEDGER_SECRET_KEY": SECRET,
           "CE_LEDGER_VIEW_UPKEEP": "worker"}
    try:
        figures = soak(env, 2.0, people=40, progress=False)
    finally:
        with psycopg.connect(postgres_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    assert not figures.errors, figures.errors
    assert figures.rows > 0 and figures.reads > 0
    assert figures.rss_start_kb > 10_000 and figures.rss_end_kb < figures.rss_start_kb + 150 * 1024
