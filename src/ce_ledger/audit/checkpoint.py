"""Checkpoints: a Merkle root over every stream's head, recorded in the ledger itself.

A chain shows an edit *inside* a stream, but someone who can write the database
could rewrite a stream's tail and reseal it, or delete its last events. A root
that was recorded (and copied elsewhere — printed, sent to the Department) commits
to every head at that position: any later change to a head changes the root, and
an inclusion proof shows one head was part of it without revealing the others.

Leaf ``i`` is the UTF-8 text ``"<stream id>:<version>:<digest>"`` of the ``i``-th
stream in ascending stream-id order; hashing follows RFC 6962 (``merkle.py``).
"""

from __future__ import annotations

from uuid import UUID, uuid5

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Text

CHECKPOINTS = uuid5(UUID("5a0f3e2c-1b4d-5c6e-8f70-9a1b2c3d4e5f"), "checkpoints")


class CheckpointRecorded(LedgerEvent):
    position: int  # the log position whose stream heads the root covers
    streams: int  # how many leaves
    root: str  # hex
    recorded_by: Text


def leaf(stream_id: UUID, version: int, digest: str) -> bytes:
    return f"{stream_id}:{version}:{digest}".encode()
