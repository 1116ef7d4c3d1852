"""A real `ce-ledger serve` process for tests: tokens from the CLI, its output in a log file."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ce_ledger.config import Settings
from tests import launcher


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(settings: Settings, **more: str) -> dict[str, str]:
    # Two PostgreSQL connections a pool to start with (pools grow on demand): a test's server serves
    # a few threads, and the default eight a pool were most of a server's start on PostgreSQL.
    env = {**os.environ, "CE_LEDGER_DATABASE_URL": settings.database_url, "CE_LEDGER_VIEW_UPKEEP": "inline",
           "CE_LEDGER_POSTGRES_POOL_SIZE": "2", **more}
    if settings.secret_key is not None:
        env["CE_LEDGER_SECRET_KEY"] = settings.secret_key.get_secret_value()
    return env


def token(settings, role: str, name: str, unit: str | None = None, professional: str | None = None) -> str:
    """A bearer token issued in this process (what `ce-ledger tokens issue` does, without
    starting Python again; the command itself is tested in test_api)."""
    from ce_ledger.access import Principal, Role
    from ce_ledger.bootstrap import build_access

    access = build_access(settings)
    try:
        return access.issue(Principal(role=Role(role), name=name, unit=unit, professional_id=professional))
    finally:
        access.close()


def client(base: str = "", **options: Any) -> httpx.Client:
    """An HTTP client for a test server: plain HTTP on loopback, so no CA bundle is loaded (about
    60 ms of CPU a client, which the threaded tests paid a few dozen times) and no proxy is looked up."""
    return httpx.Client(base_url=base, verify=False, trust_env=False, **options)


def cli(env: dict[str, str], *args: str) -> str:
    return launcher.run(list(args), env, check=True).stdout.strip()


@dataclass
class Server:
    base: str
    process: Any  # a forked process (tests/launcher.py) or a subprocess.Popen
    log: Path
    port: int

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        # One client for all the tries (see ``client``): CPU here is taken from the server starting.
        with client(self.base) as http:
            while True:
                try:
                    if http.get("/v1/ping").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)


def start(env: dict[str, str], log: Path, *args: str, port: int | None = None) -> Server:
    port = port or free_port()
    process = launcher.popen(["serve", "--port", str(port), *args], env, log)
    server = Server(f"http://127.0.0.1:{port}", process, log, port)
    server.wait_ready()
    return server


@contextmanager
def serving(env: dict[str, str], log: Path, *args: str) -> Iterator[Server]:
    server = start(env, log, *args)
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)
