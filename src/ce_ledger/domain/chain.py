"""Hash-chaining a stream's events, so that altered history shows.

Every event carries the digest of its predecessor on the same stream
(``previous_digest``; the first carries ``GENESIS``) and its own ``digest``: SHA-256
over a label, the event's kind and its canonical JSON without the digest itself.

The canonical form is deliberately plain — ``json.dumps`` with sorted keys, no
spaces, UTF-8 — so that an auditor can recompute a digest from a stored row with
nothing but a JSON parser and ``hashlib``, without this code or pydantic.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

GENESIS = "0" * 64
# A label in the hashed bytes: a digest of this scheme can never be mistaken for
# a digest of some other scheme over the same JSON (and lets a v2 change it).
LABEL = b"ce-ledger/event/v1\n"


# One encoder, built once: ``json.dumps`` with these options builds a new one per call,
# which was a fifth of a verification's time.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical(content: dict[str, Any], *, float_free: bool = False) -> bytes:
    """The canonical bytes, as ``_ENCODE`` gives them. orjson writes the same bytes for what events
    hold (strings, integers, booleans, null, sorted objects, arrays; checked for every code point
    in tests/test_chain.py) ten times faster: sealing and checking are on every write and every
    ``verify``. It writes floats differently (1e16, not 1e+16) and refuses integers past 64 bits:
    content with either goes the plain way. ``float_free``: the caller knows ``content`` holds no
    float (an event sealed from checked values, ``LedgerEvent.sealed``): not walked to look."""
    if float_free or _plain(content):
        try:
            return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer past 64 bits, a lone surrogate: the plain way decides
            pass
    return _ENCODE(content).encode("utf-8")


def _plain(content: Any) -> bool:
    """No float anywhere in ``content`` (events refuse them; a free-form field could hold one).
    Walked with a list, not by recursion: a row nested a thousand deep (a tampered one, say) must
    reach the plain encoder, as it always did, not stop here."""
    pending = [content]
    while pending:
        value = pending.pop()
        values = value.values() if isinstance(value, dict) else value
        kinds = set(map(type, values))
        if float in kinds:
            return False
        if not kinds.isdisjoint(_NESTED):
            pending += [v for v in values if isinstance(v, _CONTAINERS)]
    return True


_CONTAINERS = (dict, list, tuple)
_NESTED = frozenset(_CONTAINERS)


def event_digest(kind: str, content: dict[str, Any], *, float_free: bool = False) -> str:
    """The digest of an event of ``kind`` (its class name) whose JSON, minus ``digest``, is ``content``.

    The kind is hashed too: two kinds may share their fields (verified and rejected
    decisions do), and relabelling one as the other must break the seal.
    """
    return hashlib.sha256(LABEL + kind.encode("utf-8") + b"\n" + canonical(content, float_free=float_free)).hexdigest()
