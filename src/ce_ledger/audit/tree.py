"""The log's Merkle tree, as Certificate Transparency keeps one (RFC 9162 §2.1).

Leaf ``i`` is the ``i``-th row of the log in position order; its data is the text
``"<stream id>:<version>:<digest>"`` (as before, ``checkpoint.leaf``), hashed as RFC 6962.
Appending keeps the tree: a subtree that is complete never changes, so its hash is stored
once (``TreeStore``) and a checkpoint after N new entries hashes those N entries and the
O(log n) nodes above them. Like the tiles of C2SP ``tlog-tiles``, only subtrees of
``CHUNK`` = 16 leaves and above are stored (about 4 bytes per row of the log); the leaves
inside a chunk are hashed again from the log's rows when a proof needs them (16 rows, read
by position: a proof parsed 256 rows' JSON in 20 ms when chunks were 256 leaves).

An inclusion proof (``inclusion_path``, RFC 9162 §2.1.3.1) and a consistency proof
(``consistency_path``, §2.1.4.1) each read O(log n) stored hashes and at most two chunks'
rows. ``verify_consistency`` is §2.1.4.2; inclusion is checked by ``merkle.verify_inclusion``.

Pure: the two reads it needs are passed in.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Sequence

from ce_ledger.audit.merkle import leaf_hash, node_hash

CHUNK_LEVEL = 4
CHUNK = 1 << CHUNK_LEVEL  # leaves under one stored node of the lowest stored level

EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")  # SHA-256("")


def split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1): where RFC 9162 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """Hashes of ranges of the log's tree, from stored complete subtrees and, inside a chunk,
    from the leaves.

    ``stored(level, index)``: the hash of the complete subtree of 2**level leaves starting
    at leaf ``index * 2**level`` (levels >= CHUNK_LEVEL), or None if not stored.
    ``leaves(start, end)``: the leaf hashes of leaves start .. end-1 (within one chunk).
    """

    def __init__(self, stored: Callable[[int, int], bytes | None], leaves: Callable[[int, int], list[bytes]],
                 stored_many: Callable[[list[tuple[int, int]]], dict[tuple[int, int], bytes]] | None = None):
        self._stored = stored
        self._stored_many = stored_many  # one read for all the nodes a proof needs, when the store can
        self._known: dict[tuple[int, int], bytes] = {}
        self._leaves = leaves
        # Chunks read, reused along a path (a proof touches the leaf's chunk and the tail's, each
        # several times); a few at most, so memory stays flat.
        self._chunks: dict[int, list[bytes]] = {}

    def _leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes start .. end-1 (one chunk): its chunk is read whole, once per path."""
        first = start - start % CHUNK
        found = self._chunks.get(first)
        if found is None or len(found) < end - first:
            if len(self._chunks) >= 4:
                self._chunks.pop(next(iter(self._chunks)))
            found = self._chunks[first] = self._leaves(first, first + CHUNK)
        return found[start - first:end - first]

    def hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that is a subtree of some tree (start aligned to it)."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0 and n >= CHUNK:
            level = n.bit_length() - 1
            found = self._known.get((level, start >> level)) or self._stored(level, start >> level)
            if found is not None:
                return found
        if n <= CHUNK and start // CHUNK == (end - 1) // CHUNK:
            return _root_of(self._leaf_hashes(start, end))
        k = split(n)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int) -> bytes:
        return self.hash(0, size)

    def _prefetch(self, ranges: list[tuple[int, int]]) -> None:
        """Read in one go the stored nodes that hashing these ranges will ask for."""
        if self._stored_many is None:
            return
        keys: list[tuple[int, int]] = []

        def walk(start: int, end: int) -> None:
            n = end - start
            if n < CHUNK:
                return
            if n & (n - 1) == 0 and start % n == 0:
                level = n.bit_length() - 1
                keys.append((level, start >> level))
                return
            k = split(n)
            walk(start, start + k)
            walk(start + k, end)

        for start, end in ranges:
            walk(start, end)
        self._known.update(self._stored_many(keys))

    def _siblings(self, m: int, start: int, end: int) -> list[tuple[int, int]]:
        """The ranges whose hashes PATH(m, D[start:end]) lists (RFC 9162 §2.1.3.1)."""
        out: list[tuple[int, int]] = []
        while end - start > 1:
            k = split(end - start)
            if m < k:
                out.append((start + k, end))
                end = start + k
            else:
                out.append((start, start + k))
                m, start = m - k, start + k
        return out

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        """PATH(m, D[n]) of RFC 9162 §2.1.3.1, bottom up."""
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} is out of range for a tree of {size} leaves")
        self._prefetch(self._siblings(index, 0, size))
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return self._path(m, start, start + k) + [self.hash(start + k, end)]
        return self._path(m - k, start + k, end) + [self.hash(start, start + k)]

    def consistency_path(self, old: int, new: int) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 9162 §2.1.4.1: that the tree of ``new`` leaves extends that of ``old``."""
        if not 0 <= old <= new:
            raise ValueError(f"no consistency proof from {old} to {new} leaves")
        if old in (0, new):  # every tree extends the empty tree, and itself
            return []
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.hash(start, end)]
        k = split(n)
        if m <= k:
            return self._subproof(m, start, start + k, whole) + [self.hash(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self.hash(start, start + k)]


def _root_of(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes already hashed (RFC 9162 §2.1.1), level by level."""
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class Frontier:
    """The right edge of a growing tree: one hash per complete subtree of the leaves so far
    (at most log2(n) of them), so that a pass over the whole log knows the root at every
    size in constant memory. ``completed`` hears of each complete subtree of CHUNK leaves
    or more (level, index, hash): what ``TreeStore`` keeps."""

    def __init__(self, size: int = 0, edge: Iterable[tuple[int, bytes]] = (),
                 completed: Callable[[int, int, bytes], None] | None = None):
        self.size = size
        self._edge = list(edge)  # (level, hash), highest level first
        self._completed = completed

    def append(self, leaf_digest: bytes) -> None:
        """Add a leaf by its leaf hash."""
        level, node = 0, leaf_digest
        self.size += 1
        while self._edge and self._edge[-1][0] == level:
            node = node_hash(self._edge.pop()[1], node)
            level += 1
            if level >= CHUNK_LEVEL and self._completed is not None:
                self._completed(level, (self.size >> level) - 1, node)
        self._edge.append((level, node))

    def add(self, data: bytes) -> None:
        self.append(leaf_hash(data))

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        node = self._edge[-1][1]
        for _, left in reversed(self._edge[:-1]):
            node = node_hash(left, node)
        return node

    @property
    def edge(self) -> list[tuple[int, bytes]]:
        return list(self._edge)


def edge_of(size: int, stored: Callable[[int, int], bytes | None]) -> list[tuple[int, bytes]] | None:
    """The frontier of a tree of ``size`` leaves from stored hashes, if ``size`` is a multiple
    of CHUNK and every subtree on its edge is stored."""
    if size % CHUNK:
        return None
    edge, start = [], 0
    for level in range(size.bit_length() - 1, CHUNK_LEVEL - 1, -1):
        if size & (1 << level):
            found = stored(level, start >> level)
            if found is None:
                return None
            edge.append((level, found))
            start += 1 << level
    return edge


def verify_consistency(old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 §2.1.4.2, step for step: whether ``proof`` shows the tree of ``new`` leaves with
    ``new_root`` extends the tree of ``old`` leaves with ``old_root``. Never raises."""
    try:
        if isinstance(old, bool) or isinstance(new, bool) or not 0 <= old <= new:
            return False
        if old == 0:  # every tree extends the empty tree
            return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
        if old == new:
            return not proof and hmac.compare_digest(old_root, new_root)
        path = list(proof)
        if old & (old - 1) == 0:  # step 1: old is a power of two
            path.insert(0, old_root)
        if not path:
            return False
        fn, sn = old - 1, new - 1  # step 2
        while fn & 1:  # step 3
            fn >>= 1
            sn >>= 1
        fr = sr = path[0]  # step 4
        for c in path[1:]:  # step 5
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)
    except (TypeError, ValueError):
        return False
