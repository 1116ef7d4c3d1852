"""The `ce-ledger` processes the tests start, forked from a process that has imported the code.

A command started as `python -m api.cli …` spends about 0.45 s of CPU importing Python before it
does anything (a server about a second); the suite starts some eighty of them. Here each is still
its own process — its own environment, argv, stdout and stderr, exit code and signals, killable
with SIGKILL — but forked from the standard library's fork server, which imported the code once
per test worker: about 0.05 s a command. What runs in the child is `api.cli.main()`, as the
console script runs it, and its exit handlers run as at a normal exit.

`CE_LEDGER_TEST_FORK=0` starts every process with `python -m api.cli` instead."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORK = os.environ.get("CE_LEDGER_TEST_FORK", "1") != "0"
# What a command or a server imports; the fork server imports it once, each child starts with it.
# Not `api.cli` itself: its consoles read the terminal's width (COLUMNS) when it is imported, which
# must happen in the child, with the child's environment (3 ms).
PRELOAD = ["typer", "rich.console", "rich.table", "rich.progress", "api.render", "api.app", "uvicorn",
           "ce_ledger.bootstrap", "ce_ledger.application", "ce_ledger.audit.service", "ce_ledger.imports.importer",
           "projections.runner", "projections.view_postgres", "ce_ledger.storage.postgres",
           "tests.forkserver_freeze"]  # last: freezes what the others imported

_context = None
_started: list[multiprocessing.Process] = []


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
        atexit.register(_kill_left_over)
    return _context


def _kill_left_over() -> None:
    """A test that failed half-way may leave a server running: killed when its worker exits
    (multiprocessing would otherwise wait for it). Runs before multiprocessing's own exit."""
    for process in _started:
        if process.is_alive():
            process.kill()
            process.join(5)


def _main(args: list[str], env: dict[str, str], out: str, err: str) -> None:
    """In the child: the environment, argv and standard streams of `python -m api.cli ARGS`."""
    os.environ.clear()
    os.environ.update(env)
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, out, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
                            (2, err, os.O_WRONLY | os.O_CREAT | os.O_APPEND)):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    # Standard input on descriptor 0, as in a process of its own: the fork server's child had
    # moved it elsewhere, and uvicorn hands descriptor `sys.stdin.fileno()` to its workers.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.argv = ["ce-ledger", *args]
    code = 0
    try:
        from api.cli import main

        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - as the interpreter would: a traceback and status 1
        import traceback

        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what a normal exit runs (the fork server's child skips it)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Process:
    """The part of `subprocess.Popen` the tests use, for a forked command."""

    def __init__(self, args: list[str], env: dict[str, str], out: Path, err: Path):
        self.args = args
        self._process = _forkserver().Process(target=_main, args=(list(args), dict(env), str(out), str(err)))
        self._process.start()
        _started[:] = [p for p in _started if p.exitcode is None] + [self._process]
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._process.exitcode

    def send_signal(self, signal: int) -> None:
        os.kill(self.pid, signal)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


def popen(args: list[str], env: dict[str, str], log: Path):
    """A long-running command (a server, a worker) writing stdout and stderr to ``log``."""
    if not FORK:
        with log.open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", "api.cli", *args], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
    return Process(args, env, log, log)


def run(args: list[str], env: dict[str, str], *, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    """A command run to its end: exit code, stdout and stderr (text), as `subprocess.run` gives them."""
    if not FORK:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                              timeout=timeout, check=check)
    with tempfile.TemporaryDirectory(prefix="ce-ledger-run-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = Process(args, env, out, err)
        deadline = time.monotonic() + timeout
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            raise
        done = subprocess.CompletedProcess(args, process.returncode, _text(out), _text(err))
    if check:
        done.check_returncode()
    return done


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
