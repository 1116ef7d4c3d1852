"""Keys that collide once compared in one spelling (docs/rules.md, reading 16).

A store written before keys were compared canonically may hold two activities whose keys differ
only by case or width: certificate ``nxjd-2016-1188`` of base ``nxjd-01`` beside ``NXJD-2016-1188``
of ``NXJD-01``, each credited. New entries cannot collide (the second is a duplicate or a
conflict), and the old ones are not merged silently: ``verify`` lists them, records what it found
(``KeyCollisionsFound``, by whom), and the workbench shows that finding to auditors, who void
what should not count.

Bounded memory over a whole store: the keys go to a temporary SQLite file, not a dictionary; only
the groups that collide come back, at most ``LIMIT`` of them.
"""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import date
from enum import Enum
from functools import cache
from types import SimpleNamespace
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.utils import resolve_topic

from ce_ledger.domain.events import ActivityRecorded, ActivityVoided, LedgerEvent
from ce_ledger.domain.values import Text, Value, canonical_key, typed_key

REVIEWS = uuid5(UUID("5a0f3e2c-1b4d-5c6e-8f70-9a1b2c3d4e5f"), "reviews")
LIMIT = 1000


class CollidingActivity(Value):
    professional_id: UUID
    activity_id: UUID
    typed: str  # the key as it was typed


class KeyCollision(Value):
    key: str  # the key in its one spelling (a personal key scoped by its record)
    activities: tuple[CollidingActivity, ...]


class KeyCollisionsFound(LedgerEvent):
    """What a verification found: activities whose keys are one key once canonical."""

    collisions: tuple[KeyCollision, ...]
    more: bool = False  # more groups than the event lists (LIMIT)
    recorded_by: Text


class _Reads:
    """Answers any attribute with a stand-in, and notes which ones ``key_parts`` asked for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.names.append(name)
        return _Anything()


class _Anything(str):
    value = "x"

    def isoformat(self) -> str:
        return "x"

    def __new__(cls) -> _Anything:
        return str.__new__(cls, "x")


@cache
def _key_fields(details_class: type) -> tuple[tuple[str, Any], ...]:
    """The fields ``key_parts`` reads, each with how its JSON becomes what it reads (a date, an
    enum; a string as it is). Found once per kind by asking ``key_parts`` itself, so the key is
    built by the activity's own rule, from a few fields, without building the model."""
    reads = _Reads()
    details_class.key_parts(reads)
    fields = details_class.model_fields
    out = []
    for name in dict.fromkeys(reads.names):
        if name not in fields:  # the kind of key, a class attribute (given with the fields, ``KeyIndex.add``)
            continue
        kind = fields[name].annotation
        if kind is date:
            out.append((name, date.fromisoformat))
        elif isinstance(kind, type) and issubclass(kind, Enum):
            out.append((name, kind))
        else:
            out.append((name, None))
    return tuple(out)


@cache
def _activity_class(topic: str) -> type | None:
    try:
        cls = resolve_topic(topic)
    except Exception:  # a topic of another application (tokens, say): not an activity
        return None
    if isinstance(cls, type) and issubclass(cls, ActivityRecorded | ActivityVoided):
        return cls
    return None


class KeyIndex:
    """Every activity's canonical key, in a temporary SQLite file while a store is walked."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ce-ledger-keys-")
        self._db = sqlite3.connect(Path(self._dir.name) / "keys.sqlite")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE keys (key TEXT, pid TEXT, activity TEXT, typed TEXT);"
            "CREATE TABLE voided (pid TEXT, activity TEXT, PRIMARY KEY (pid, activity));"
        )
        self._keys: list[tuple[str, str, str, str]] = []
        self._voided: list[tuple[str, str]] = []

    def add(self, stream_id: UUID, topic: str, content: dict[str, Any]) -> None:
        """One stored event, as the chain check decoded it (each row is decoded once)."""
        cls = _activity_class(topic)
        if cls is None:
            return
        if issubclass(cls, ActivityVoided):
            self._voided.append((str(stream_id), content["activity_id"]))
        else:
            details_class = cls.details_class
            try:
                # key_parts reads a few fields: given just those as plain attributes, no model is built
                fields = SimpleNamespace(key_kind=details_class.key_kind, **{
                    name: convert(content[name]) if convert and content[name] is not None else content[name]
                    for name, convert in _key_fields(details_class)})
                parts = details_class.key_parts(fields)
            except (ValueError, KeyError, TypeError, AttributeError):
                return  # a row whose fields no longer read as an activity: the chain check reports it
            key = canonical_key(*parts)
            scoped = key if details_class.key_is_global else f"{stream_id}|{key}"
            self._keys.append((scoped, str(stream_id), content["activity_id"], typed_key(*parts)))
        if len(self._keys) + len(self._voided) >= 10_000:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO keys VALUES (?, ?, ?, ?)", self._keys)
        self._db.executemany("INSERT OR IGNORE INTO voided VALUES (?, ?)", self._voided)
        self._keys, self._voided = [], []

    def collisions(self) -> tuple[list[KeyCollision], bool]:
        """Groups of live activities (not voided) sharing a key; whether there were more."""
        self._flush()
        self._db.execute("CREATE INDEX keys_key ON keys (key)")
        # A global key's activity id does not name its holder (a retry by anyone computes it), so
        # an activity is its record and its id: two people holding one certificate under one id
        # (a claim row deleted behind the ledger's back) is a collision too. So is one activity
        # recorded twice on one record: its claim leads a read of its key to it, and with the claim
        # deleted a retry records it again. (An activity is recorded once: one row each.)
        live = "NOT EXISTS (SELECT 1 FROM voided v WHERE v.pid = keys.pid AND v.activity = keys.activity)"
        keys = [k for (k,) in self._db.execute(
            f"SELECT key FROM keys WHERE {live} GROUP BY key HAVING COUNT(*) > 1 "
            "ORDER BY key LIMIT ?",
            (LIMIT + 1,),
        )]
        found = []
        for key in keys[:LIMIT]:
            rows = self._db.execute(f"SELECT pid, activity, typed FROM keys WHERE key = ? AND {live} ORDER BY typed", (key,))
            found.append(KeyCollision(key=key.split("|", 1)[-1], activities=tuple(
                CollidingActivity(professional_id=UUID(p), activity_id=UUID(a), typed=t) for p, a, t in rows
            )))
        return found, len(keys) > LIMIT

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
