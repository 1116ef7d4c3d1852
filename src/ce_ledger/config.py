"""Settings: every one an environment variable prefixed ``CE_LEDGER_``.

``CE_LEDGER_DATABASE_URL`` alone chooses the store: ``sqlite:///PATH`` (the default,
no setup) or ``postgresql://USER:PASSWORD@HOST:PORT/DB[?schema=NAME]``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

from platformdirs import user_data_dir
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(user_data_dir("ce-ledger", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CE_LEDGER_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'ledger.sqlite'}"
    # The workbench's session cookie is Secure (sent over HTTPS only) unless the server is run
    # over plain HTTP on loopback and this says so (`make run` does). Behind a TLS proxy the
    # request's scheme looks like HTTP, so the scheme cannot decide.
    plain_http: bool = False
    # Per token and server process, on expensive requests (api/ratelimit.py; `limits` notation).
    rate_forms: str = "6/minute"
    rate_verdicts: str = "60/minute"
    rate_replays: str = "30/minute"
    rate_proofs: str = "30/minute"
    rate_lookups: str = "30/minute"
    rate_filings: str = "60/minute"  # a roster of up to 1,000 certificates each
    # How many server processes share the port (`ce-ledger serve --workers N` sets it; set it when
    # running uvicorn or gunicorn another way): with several, a batch is recorded on the process's
    # event loop so that the next connection goes to a free process (api/batches.py).
    server_processes: int = 1
    # The PDF form (api/workbench/pdf.py): rendered in child processes, at most this many at once,
    # each within these ceilings; long records print in parts of this many lines. Kept on disk in
    # form_cache_dir (default: beside the SQLite file, or the data directory).
    # The address printed on assessment forms (and in their QR code) where anyone holding one checks
    # it: this server's public address, as people reach it.
    public_url: str = "http://127.0.0.1:8000"
    pdf_workers: int = 1
    pdf_queue: int = 32
    pdf_seconds: int = 60
    pdf_memory_mib: int = 2048
    form_lines_per_part: int = 200
    form_cache_dir: Path | None = None
    # Spreadsheets uploaded in the workbench wait here (an hour at most) between the dry run and the
    # confirmation: shared by the server's worker processes (default: beside the SQLite file, or the data directory).
    upload_dir: Path | None = None
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    postgres_pool_size: int = 8
    # The rule-set the totals view credits by.
    view_rule_set: str = "NX-2019.2"
    # How the totals view keeps up: "inline" catches up inside each write (the default
    # on SQLite, which has no subscriptions), "worker" leaves it to `ce-ledger project`.
    view_upkeep: Literal["inline", "worker"] | None = None
    # On PostgreSQL a reader remembers which view version is current this long (one query fewer a
    # read); a rebuild waits as long after switching before it drops the version it replaced.
    view_current_seconds: float = 1.0
    # Records kept decoded in memory (0: none); each is fast-forwarded from the store on use.
    cache_size: int = 2000
    # Encrypt stored event payloads (AES-GCM, the library's cipher): a base64 key of
    # 16, 24 or 32 bytes (`ce-ledger keys encryption` makes one). Keep it apart from
    # the database: whoever has both can read everything.
    encryption_key: SecretStr | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def upkeep(self) -> str:
        return self.view_upkeep or ("inline" if self.is_sqlite else "worker")

    @property
    def form_cache(self) -> Path:
        if self.form_cache_dir is not None:
            return self.form_cache_dir
        return (self.sqlite_path.parent if self.is_sqlite else DEFAULT_DATA_DIR) / "forms"

    @property
    def uploads(self) -> Path:
        if self.upload_dir is not None:
            return self.upload_dir
        return (self.sqlite_path.parent if self.is_sqlite else DEFAULT_DATA_DIR) / "uploads"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///")).expanduser()


class ConfigurationError(RuntimeError):
    pass


def persistence_env(settings: Settings) -> dict[str, str]:
    """The library's own settings for the chosen store."""
    env = _store_env(settings)
    if settings.cache_size > 0:  # the library reads 0 as "unbounded", we read it as "off"
        env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.cache_size)
    if settings.encryption_key is not None:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = _encryption_key(settings.encryption_key.get_secret_value())
    return env


def _encryption_key(value: str) -> str:
    try:
        size = len(base64.b64decode(value, validate=True))
    except binascii.Error:
        size = -1
    if size not in (16, 24, 32):
        raise ConfigurationError(
            "CE_LEDGER_ENCRYPTION_KEY: must be the base64 of a 16, 24 or 32 byte AES key "
            "(make one with `ce-ledger keys encryption`)"
        )
    return value


def _store_env(settings: Settings) -> dict[str, str]:
    if settings.database_url == "memory:":  # pure rule and domain tests: nothing kept
        return {"PERSISTENCE_MODULE": "ce_ledger.storage.memory"}
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "ce_ledger.storage.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    url = urlparse(settings.database_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            "CE_LEDGER_DATABASE_URL: must start with sqlite:/// or postgresql:// (or be memory: for tests)"
        )
    query = parse_qs(url.query)
    return {
        "PERSISTENCE_MODULE": "ce_ledger.storage.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": url.hostname or "localhost",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or ""),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_LOCK_TIMEOUT": "5",
    }


def secret_key(settings: Settings) -> bytes:
    """The key of the ID-number hash. Embedded mode keeps a generated one beside the database."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < 32:
            raise ConfigurationError("CE_LEDGER_SECRET_KEY: must be at least 32 characters")
        return value.encode()
    if not settings.is_sqlite:
        raise ConfigurationError(
            "CE_LEDGER_SECRET_KEY: must be set for PostgreSQL (every server must share it, "
            "or the same person gets two records)"
        )
    key_file = settings.sqlite_path.with_name(settings.sqlite_path.name + ".key")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        # Written whole to a file of its own, then linked into place: a process starting at
        # the same moment sees either no key file or the whole key, never an empty one (which
        # would hash ID numbers under another key and give a person a second record).
        draft = key_file.with_name(f"{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process linked its key first: use that one
        finally:
            draft.unlink()
    return key_file.read_text().strip().encode()
