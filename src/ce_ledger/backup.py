"""Backup and restore: the whole event log as JSON lines, restorable on either store.

The file holds every stored event of the ledger and of the token registry, in log
order, *as stored*: state bytes untouched (JSON text, or ciphertext in base64 when
encryption at rest is on), so digests, verdict pins and checkpoints survive byte for
byte. A restore writes each row back under its own log position, so checkpoints (which
name positions) verify on the copy too; it needs an empty store and the same secret
key (which maps ID numbers to records) and encryption key as the source. The first
line says what the file holds and lets a restore check the keys without holding them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO
from uuid import UUID

from ce_ledger.storage import LedgerRecorder as ApplicationRecorder

FORMAT = "ce-ledger-log/1"
PAGE = 5_000


class RestoreRefused(ValueError):
    """The file cannot be restored here; nothing was written."""


def key_check(secret_key: bytes) -> str:
    """Shows that two stores share a secret key without showing the key."""
    return hmac.new(secret_key, b"ce-ledger/key-check/v1", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Header:
    key_check: str
    encrypted: bool
    counts: dict[str, int]
    format: str = FORMAT

    def line(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True, ensure_ascii=False)


def export_log(
    recorders: dict[str, ApplicationRecorder],
    out: TextIO,
    header: Header,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Write the header and every event of every application, in log order."""
    out.write(header.line() + "\n")
    written = 0
    for app, recorder in recorders.items():
        for n in _notifications(recorder):
            state = bytes(n.state)
            try:
                text = state.decode("utf-8")
                json.loads(text)  # plain JSON: kept readable
                payload = {"state": text}
            except (UnicodeDecodeError, ValueError):
                payload = {"state_b64": base64.b64encode(state).decode()}
            line = {"app": app, "id": n.id, "originator_id": str(n.originator_id),
                    "originator_version": n.originator_version, "topic": n.topic, **payload}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
            progress(written)
    return written


def _notifications(recorder: ApplicationRecorder) -> Iterator[Any]:
    start = None
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


def read_header(first_line: str) -> Header:
    try:
        raw = json.loads(first_line)
        if raw.get("format") != FORMAT:
            raise RestoreRefused(f"not a ce-ledger log (format {raw.get('format')!r}, expected {FORMAT})")
        return Header(key_check=raw["key_check"], encrypted=raw["encrypted"], counts=dict(raw["counts"]))
    except (ValueError, KeyError, AttributeError, TypeError) as e:
        raise RestoreRefused(f"line 1: not a ce-ledger log header ({type(e).__name__})") from None


def restore_log(
    recorders: dict[str, ApplicationRecorder],
    lines: Iterable[str],
    expected: Header,
    progress: Callable[[int], None] = lambda n: None,
) -> dict[str, int]:
    """Restore into empty stores, each row under its own log position."""
    lines = iter(lines)
    header = read_header(next(lines, ""))
    if header.key_check != expected.key_check:
        raise RestoreRefused(
            "the file was written with another CE_LEDGER_SECRET_KEY: restored here, nobody could be "
            "found by their ID number; set the source's key"
        )
    if header.encrypted != expected.encrypted:
        raise RestoreRefused(
            "the file's events are " + ("encrypted" if header.encrypted else "in clear")
            + " but this store is set up " + ("with" if expected.encrypted else "without")
            + " CE_LEDGER_ENCRYPTION_KEY; use the source's setting (and key)"
        )
    unknown = set(header.counts) - set(recorders)
    if unknown:
        raise RestoreRefused(f"the file holds applications this store has not: {', '.join(sorted(unknown))}")
    for app, recorder in recorders.items():
        if recorder.max_notification_id():
            raise RestoreRefused(f"the {app} store is not empty: a restore goes into an empty store only")
    done = dict.fromkeys(recorders, 0)
    batch: list[tuple[str, tuple]] = []
    for number, text in enumerate(lines, start=2):
        try:
            row = json.loads(text)
            state = row["state"].encode() if "state" in row else base64.b64decode(row["state_b64"])
            batch.append((row["app"], (row["id"], UUID(row["originator_id"]), int(row["originator_version"]),
                                       row["topic"], state)))
        except (ValueError, KeyError, TypeError) as e:
            raise RestoreRefused(f"line {number}: not an event line ({type(e).__name__}); restored so far: {done}") from None
        if len(batch) >= PAGE:
            _write(recorders, batch, done)
            progress(sum(done.values()))
    _write(recorders, batch, done)
    progress(sum(done.values()))
    if done != {app: header.counts.get(app, 0) for app in recorders}:
        raise RestoreRefused(f"the file is incomplete: restored {done}, its header announced {header.counts}")
    return done


def _write(recorders: dict[str, ApplicationRecorder], batch: list[tuple[str, tuple]], done: dict[str, int]) -> None:
    by_app: dict[str, list[tuple]] = {}
    for app, row in batch:
        if app not in recorders:
            raise RestoreRefused(f"an event of unknown application {app!r}")
        by_app.setdefault(app, []).append(row)
    for app, rows in by_app.items():
        recorders[app].insert_with_positions(rows)
        done[app] += len(rows)
    batch.clear()
