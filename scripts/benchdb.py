"""A throwaway PostgreSQL schema for a benchmark run (shared by the bench scripts)."""

from __future__ import annotations

import os
import uuid

import psycopg


def postgres_url() -> str:
    """The server to measure on; empty when none is configured."""
    url = os.environ.get("CE_LEDGER_TEST_POSTGRES_URL") or os.environ.get("CE_LEDGER_DATABASE_URL", "")
    return url if url.startswith("postgres") else ""


def create_schema(url: str) -> str:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
