"""A throwaway PostgreSQL schema for a benchmark run (shared by the bench scripts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

CLI = [sys.executable, "-m", "api.cli"]


def start_cli(args: list[str], env: dict[str, str]) -> Any:
    """`ce-ledger ARGS` started in a process of its own, its output discarded (a server, a worker).
    The scripts' way; the tests pass their own (forked from a process that imported the code)."""
    return subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.DEVNULL)


def run_cli(args: list[str], env: dict[str, str]) -> str:
    """`ce-ledger ARGS` run to its end: what it printed."""
    return subprocess.run([*CLI, *args], env=env, check=True, capture_output=True, text=True).stdout


def postgres_url() -> str:
    """The server to measure on; empty when none is configured."""
    url = os.environ.get("CE_LEDGER_TEST_POSTGRES_URL") or os.environ.get("CE_LEDGER_DATABASE_URL", "")
    return url if url.startswith("postgres") else ""


def create_schema(url: str) -> str:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


SECRET = "bench-secret-key-0123456789abcdef0123"


def settings(url: str, schema: str, **more):
    """The ledger's settings on a benchmark's schema (one fixed secret key for every script)."""
    from ce_ledger.config import Settings

    return Settings(database_url=f"{url}?schema={schema}", secret_key=SECRET, **more)


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def id_numbers(n: int) -> list[str]:
    """``n`` distinct valid ID numbers (GB 11643), the same on every run."""
    from ce_ledger.domain.identity import check_digit

    out = []
    for i in range(n):
        first17 = f"6401041985{i // 5000 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
        out.append(first17 + check_digit(first17))
    return out


@dataclass(frozen=True)
class Served:
    url: str
    pid: int


@contextmanager
def served(env: dict[str, str], *args: str, start: Callable[[list[str], dict[str, str]], Any] = start_cli) -> Iterator[Served]:
    """A real ``ce-ledger serve`` on a free loopback port (``args``: more options, e.g.
    ``--workers 2``); yields its base URL and process id."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start(["serve", "--port", str(port), *args], env)
    url = f"http://127.0.0.1:{port}"
    try:
        # A store with history and no view yet has its first view built before the server answers.
        deadline = time.monotonic() + 600
        with httpx.Client(verify=False, trust_env=False) as client:  # one client: a new one loads the CA bundle
            while True:
                try:
                    if client.get(f"{url}/v1/ping").status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
        yield Served(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)


def issue_token(env: dict[str, str], role: str, run: Callable[[list[str], dict[str, str]], str] = run_cli) -> str:
    return run(["tokens", "issue", "--role", role], env).strip()
