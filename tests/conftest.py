"""Every ledger test runs on both stores: a SQLite file and a PostgreSQL schema of its own."""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from tests.builders import Clock

BACKENDS = os.environ.get("CE_LEDGER_TEST_BACKENDS", "sqlite,postgres").split(",")
# The test client and the servers the tests start speak plain HTTP on loopback: the workbench's
# cookie must come back (its Secure default is tested on its own, in test_workbench).
os.environ.setdefault("CE_LEDGER_PLAIN_HTTP", "true")
# PDF forms and uploads are kept on disk; the tests' go to temporary directories, not the user's
# data directory, removed when the process that made them exits (360 were left after a day's runs).
_made_by = os.getpid()


def _scratch(variable: str, prefix: str) -> None:
    if variable in os.environ:
        return
    folder = os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
    atexit.register(lambda: os.getpid() == _made_by and shutil.rmtree(folder, ignore_errors=True))


_scratch("CE_LEDGER_FORM_CACHE_DIR", "ce-ledger-forms-")
_scratch("CE_LEDGER_UPLOAD_DIR", "ce-ledger-uploads-")
# A rebuild on PostgreSQL waits this long before dropping the version it replaced (readers in other
# processes move over): a second, eight times in the suite's rebuilds, for stores nobody else reads.
os.environ.setdefault("CE_LEDGER_VIEW_CURRENT_SECONDS", "0.1")


def postgres_url() -> str:
    url = os.environ.get("CE_LEDGER_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "CE_LEDGER_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts "
            "PostgreSQL, or set CE_LEDGER_TEST_BACKENDS=sqlite to run on SQLite only"
        )
    return url


_admin: psycopg.Connection | None = None


def admin() -> psycopg.Connection:
    """One connection a worker for creating and dropping the tests' schemas (a new connection is
    a process and a password exchange on the server: two a test were 200 of the suite's)."""
    global _admin
    if _admin is None or _admin.closed or _admin.broken:
        _admin = psycopg.connect(postgres_url(), autocommit=True)
    return _admin


class _Dropper:
    """Drops the tests' schemas on a thread of its own, on its own connection: a drop waits for
    its commit to reach the disk (PostgreSQL syncs a commit that deletes files, whatever
    ``synchronous_commit`` says), and the test after it need not. Waited for at the worker's exit."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="schema-dropper", daemon=True)
        self.thread.start()
        atexit.register(self.finish)

    def _run(self) -> None:
        conn = None
        while (schema := self.queue.get()) is not None:
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = psycopg.connect(postgres_url(), autocommit=True)
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            except psycopg.Error as e:  # left behind, said so; the next drop tries again
                print(f"schema {schema} not dropped: {e}", flush=True)
        if conn is not None:
            conn.close()

    def finish(self) -> None:
        self.queue.put(None)
        self.thread.join(120)


_dropper: _Dropper | None = None


def drop_later(schema: str) -> None:
    global _dropper
    if _dropper is None or not _dropper.thread.is_alive():
        _dropper = _Dropper()
    _dropper.queue.put(schema)


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A schema of its own in the test database, dropped afterwards: its database URL."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin().execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_url()}?schema={schema}"
    finally:
        drop_later(schema)


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path):
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
        return
    with postgres_schema() as url:
        yield Settings(
            database_url=url,
            secret_key="test-secret-key-of-at-least-32-characters",
            # One connection a pool (it grows on demand): opening connections was most of a test's setup.
            postgres_pool_size=1,
        )


@pytest.fixture
def sqlite_settings(tmp_path):
    """For HTTP behaviour (roles, validation, rendering, mapping): one store is enough; every
    behaviour that touches storage is tested on both stores in its own module."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(settings, clock):
    app = build_ledger(settings, clock=clock)
    yield app
    app.close()


@pytest.fixture
def services(settings, clock):
    """Ledger and totals view; the view kept current inside each write, on both stores."""
    from ce_ledger.bootstrap import build_services

    built = build_services(settings.model_copy(update={"view_upkeep": "inline"}), clock=clock)
    yield built
    built.close()


@pytest.fixture(scope="session")
def http_app():
    """One app for a worker's tests, each starting it on its own services (``api``): FastAPI
    builds an app's routes on its first request, about 0.15 s of CPU a new app paid again."""
    from api.app import create_app

    return create_app()


@pytest.fixture
def api(services, http_app):
    """The app on ``services`` behind a test client, with a token for every role."""
    from fastapi.testclient import TestClient

    from api.app import use_services
    from tests.apiclient import Api

    use_services(http_app, services)
    try:
        with TestClient(http_app) as client:
            yield Api(client, services)
    finally:
        use_services(http_app, None)


TEST_KEY = "test-secret-key-of-at-least-32-characters"


@pytest.fixture
def memory_ledger(clock):
    """The ledger on the library's in-memory store: for pure rule and domain tests (every
    behaviour that touches storage is tested on both stores elsewhere)."""
    app = build_ledger(Settings(database_url="memory:", secret_key=TEST_KEY), clock=clock)
    yield app
    app.close()


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory):
    """One API on SQLite for a module's tests that only check how requests are refused:
    request validation touches no store, and each such test asserts nothing was recorded."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ce_ledger.bootstrap import build_services
    from tests.apiclient import Api

    path = tmp_path_factory.mktemp("shared") / "ledger.sqlite"
    built = build_services(Settings(database_url=f"sqlite:///{path}", view_upkeep="inline"), clock=Clock())
    with TestClient(create_app(services=built)) as client:
        yield Api(client, built)
    built.close()


# The longest tests (real servers, kills, soak, a browser), longest first: with two workers a
# long test that starts last leaves the other idle, which cost about a fifth of the suite's time.
LONG_FIRST = (
    "test_crash", "test_soak", "test_concurrent_writers", "test_fuzz", "test_browser", "test_pii",
    "test_projection_crash", "test_audit_cli", "test_merkle", "test_backup", "test_import",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))
