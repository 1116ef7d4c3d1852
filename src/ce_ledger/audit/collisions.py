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

import json
import sqlite3
import tempfile
from functools import cache
from pathlib import Path
from uuid import UUID, uuid5

from eventsourcing.utils import resolve_topic
from pydantic import ValidationError

from ce_ledger.domain.events import ActivityRecorded, ActivityVoided, LedgerEvent
from ce_ledger.domain.values import Text, Value

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
            "CREATE TABLE voided (activity TEXT PRIMARY KEY);"
        )
        self._keys: list[tuple[str, str, str, str]] = []
        self._voided: list[tuple[str]] = []

    def add(self, stream_id: UUID, topic: str, plain: bytes) -> None:
        cls = _activity_class(topic)
        if cls is None:
            return
        data = json.loads(plain)
        if issubclass(cls, ActivityVoided):
            self._voided.append((data["activity_id"],))
        else:
            fields = cls.details_class.model_fields
            try:
                details = cls.details_class.model_validate({k: data[k] for k in fields if k in data})
            except ValidationError:
                return  # a legacy row today's rules would refuse: its key is not comparable
            key = details.canonical_key()
            scoped = key if details.key_is_global else f"{stream_id}|{key}"
            self._keys.append((scoped, str(stream_id), data["activity_id"], details.natural_key()))
        if len(self._keys) + len(self._voided) >= 10_000:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO keys VALUES (?, ?, ?, ?)", self._keys)
        self._db.executemany("INSERT OR IGNORE INTO voided VALUES (?)", self._voided)
        self._keys, self._voided = [], []

    def collisions(self) -> tuple[list[KeyCollision], bool]:
        """Groups of live activities (not voided) sharing a key; whether there were more."""
        self._flush()
        self._db.execute("CREATE INDEX keys_key ON keys (key)")
        live = "activity NOT IN (SELECT activity FROM voided)"
        keys = [k for (k,) in self._db.execute(
            f"SELECT key FROM keys WHERE {live} GROUP BY key HAVING COUNT(DISTINCT activity) > 1 ORDER BY key LIMIT ?",
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
