"""Walking a stream's stored rows and naming every place its chain is broken.

Pure: it is given the rows (already decrypted) and trusts nothing in them. It
parses each row's JSON itself instead of going through the mapper, because the
mapper refuses a tampered row, and an auditor needs to know *what* was done to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple
from uuid import UUID

from ce_ledger.domain.chain import GENESIS, event_digest
from ce_ledger.domain.values import Value
from ce_ledger.domain.verdicts import Pin

BreakKind = Literal["content_changed", "missing", "reordered"]


class Break(Value):
    stream_id: UUID
    version: int
    kind: BreakKind
    detail: str


class Row(NamedTuple):
    version: int
    topic: str
    state: bytes  # plain JSON (decrypted)


class Head(NamedTuple):
    version: int
    digest: str | None  # None when the last row could not be read


def check_stream(
    stream_id: UUID, rows: Iterable[Row], seen: Callable[[str, dict[str, Any]], None] | None = None
) -> tuple[list[Break], Head]:
    """The breaks in one stream's rows (given in version order) and its head.

    - ``content_changed``: the row's content no longer matches its own digest, or it
      was rewritten *and* resealed, so its successor links to a digest it no longer has.
    - ``missing``: versions are absent before this row (a deletion; the first event
      too). A deleted *last* event leaves no gap: checkpoints and verdict pins find it.
    - ``reordered``: the row holds the event of another position or another stream.

    ``seen(topic, content)`` is given each intact row's decoded content (the key index reads it there,
    so that a row is decoded once).
    """
    breaks: list[Break] = []
    expected, previous = 1, GENESIS
    prior_intact = True  # a link is only judged between two rows that are themselves intact
    head = Head(0, GENESIS)
    stream = str(stream_id)
    for version, topic, state in rows:
        kind = topic.rpartition(":")[2]
        if version > expected:
            gap = f"version {expected}" if version == expected + 1 else f"versions {expected}–{version - 1}"
            breaks.append(Break(stream_id=stream_id, version=expected, kind="missing", detail=f"{gap} missing"))
        try:
            content = json.loads(state)
            stored = content.pop("digest")
        except (ValueError, TypeError, KeyError, AttributeError):
            breaks.append(_broken(stream_id, version, "content_changed", f"{kind}: stored state is not a sealed event"))
            expected, previous, prior_intact, head = version + 1, None, False, Head(version, None)
            continue
        intact = False
        if content.get("originator_id") != stream or content.get("originator_version") != version:
            where = f"{content.get('originator_id')} v{content.get('originator_version')}"
            breaks.append(_broken(stream_id, version, "reordered", f"{kind}: holds the event of {where}"))
        elif event_digest(kind, content) != stored:
            breaks.append(_broken(stream_id, version, "content_changed", f"{kind}: content does not match its digest"))
        else:
            intact = True
            if seen is not None:
                seen(topic, content)
            if version == expected and prior_intact and content.get("previous_digest") != previous:
                breaks.append(
                    _broken(
                        stream_id,
                        version - 1,
                        "content_changed",
                        f"rewritten and resealed: version {version} links to a digest it no longer has",
                    )
                )
        expected, previous, prior_intact, head = version + 1, stored, intact, Head(version, stored)
    return breaks, head


def pin_breaks(pin: Pin, head: Head) -> list[Break]:
    """A verdict's pin against the stream's head at the pinned version (``Head(0, None)``: no row)."""
    if head.version != pin.version:
        return [_broken(pin.stream_id, pin.version, "missing", f"version {pin.version}, read by a verdict, is missing")]
    if head.digest != pin.digest:
        return [_broken(pin.stream_id, pin.version, "content_changed",
                        f"version {pin.version} is not the event a verdict read (digest differs)")]
    return []


def _broken(stream_id: UUID, version: int, kind: BreakKind, detail: str) -> Break:
    return Break(stream_id=stream_id, version=version, kind=kind, detail=detail)
