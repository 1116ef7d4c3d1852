"""Checkpoints: a Merkle root over the log, recorded in the ledger itself.

A chain shows an edit *inside* a stream, but someone who can write the database
could rewrite a stream's tail and reseal it, or delete its last events. A root
that was recorded (and copied elsewhere — printed, sent to the Department) commits
to every head at that position: any later change to a head changes the root, and
an inclusion proof shows one head was part of it without revealing the others.

Two trees, told apart by ``tree``:

- ``"log"`` (every checkpoint recorded since the region-scale work): the tree of
  Certificate Transparency's logs (RFC 9162) over the *log*: leaf ``i`` is the ``i``-th
  row in position order, as the UTF-8 text ``"<stream id>:<version>:<digest>"``; the root
  covers the first ``streams`` rows (the field keeps its old name; it counts leaves), up to
  log ``position``. A later checkpoint extends an earlier one, which a consistency proof
  shows; stored subtree hashes (``tree.py``) make a checkpoint cost what was appended.
- ``"heads"`` (checkpoints recorded before): leaf ``i`` is that text for the ``i``-th
  stream's head at ``position``, in ascending stream-id order. Still verified and proven as
  they were, at their old cost (every stream head is read).

Hashing follows RFC 6962 (``merkle.py``) in both.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid5

from ce_ledger.domain.events import LedgerEvent
from ce_ledger.domain.values import Text

CHECKPOINTS = uuid5(UUID("5a0f3e2c-1b4d-5c6e-8f70-9a1b2c3d4e5f"), "checkpoints")


class CheckpointRecorded(LedgerEvent):
    position: int  # the log position the root covers
    streams: int  # how many leaves (stream heads, or rows of the log)
    root: str  # hex
    recorded_by: Text
    # Events recorded before the log tree hold no such field: they are over stream heads.
    tree: Literal["heads", "log"] = "heads"


def leaf(stream_id: UUID, version: int, digest: str) -> bytes:
    return f"{stream_id}:{version}:{digest}".encode()
