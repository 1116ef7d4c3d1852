"""Merkle tree hashing and inclusion proofs, exactly as RFC 6962 §2.1 (restated in RFC 9162 §2.1).

Why this exact scheme rather than a home-made one: a root published by the ledger
can then be checked by any Certificate-Transparency-style verifier, and this code can
be checked against CT's published test vectors.

- ``leaf_hash(d)   = SHA-256(0x00 || d)`` and ``node_hash(l, r) = SHA-256(0x01 || l || r)``.
  The distinct one-byte prefixes (domain separation, RFC 6962 §2.1) stop an interior
  node from being passed off as a leaf — the second-preimage attack on naive trees.
- ``root(D[n])`` is the Merkle Tree Hash MTH(D[n]) of RFC 6962 §2.1: the tree splits at
  the largest power of two *smaller* than n, so an odd node is never duplicated
  (unlike Bitcoin's tree, where [a, b, c] and [a, b, c, c] would share a root).
- ``inclusion_path`` is the audit path PATH(m, D[n]) of RFC 6962 §2.1.1, and
  ``verify_inclusion`` is the verification algorithm of RFC 9162 §2.1.3.2.

Pure: no I/O, standard library only (``hashlib``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# RFC 6962 §2.1: the domain-separation prefixes for leaves and interior nodes.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d) — the hash of one leaf (RFC 6962 §2.1)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) — the hash of an interior node (RFC 6962 §2.1)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    """Hash a level of the tree pairwise, left to right, into the level above it.

    An odd last node is carried up unchanged, not duplicated nor hashed alone. Doing this
    level by level yields exactly RFC 6962's recursive MTH, which splits D[n] at k, the
    largest power of two < n: the left subtree D[0:k] is complete, so its nodes always
    pair up, and only the right edge of the tree can hold a lone node — which the RFC
    likewise uses as-is as the right child higher up. It costs n - 1 node hashes in all,
    where a naive recursion over slices would copy the leaves O(log n) times.
    """
    prefix = NODE_PREFIX
    sha = _sha256
    paired = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash MTH(D[n]) of the leaf data ``leaves`` (RFC 6962 §2.1).

    The empty tree's hash is SHA-256 of the empty string, as the RFC defines it.
    """
    if not leaves:
        return _sha256(b"").digest()
    level = [leaf_hash(d) for d in leaves]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path PATH(m, D[n]) of leaf ``index`` (RFC 6962 §2.1.1), bottom up.

    It lists the sibling of each node on the way from the leaf to the root. Built level
    by level (see ``_next_level``): where the node on the path is the lone last node of
    its level, it has no sibling there and the RFC's path adds nothing at that height,
    so neither do we. Raises ``IndexError`` unless 0 <= index < len(leaves).
    """
    n = len(leaves)
    if not 0 <= index < n:
        raise IndexError(f"leaf index {index} is out of range for a tree of {n} leaves")
    path: list[bytes] = []
    level = [leaf_hash(d) for d in leaves]
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        level = _next_level(level)
        i >>= 1
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``path`` proves that leaf data ``leaf`` sits at ``index`` in the tree of ``size`` with ``root``.

    This is the algorithm of RFC 9162 §2.1.3.2, step for step. ``fn`` is the index of the
    node whose hash ``r`` we hold, ``sn`` the index of the last node at the same height.
    It never raises: any malformed input is simply not a proof, so the answer is False.
    """
    # Step 1: a proof for an index outside the tree is rejected outright. (bool is an
    # int subclass; True is not a meaningful index, so refuse it too.)
    if isinstance(index, bool) or isinstance(size, bool):
        return False
    if not isinstance(index, int) or not isinstance(size, int):
        return False
    if not 0 <= index < size:
        return False
    try:
        # Steps 2 and 3.
        fn = index
        sn = size - 1
        r = leaf_hash(leaf)
        # Step 4.
        for p in path:
            # 4a: more path elements than the tree has heights — a padded proof.
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                # 4b: our node is a right child (or the lone last node, which becomes a
                # right child once carried up), so the path element is its left sibling.
                r = node_hash(p, r)
                if not fn & 1:
                    # A lone last node is carried up unchanged (RFC 6962 splits at a
                    # power of two), so skip the heights at which it has no sibling.
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                # Our node is a left child: the path element is its right sibling.
                r = node_hash(r, p)
            # 4c: up one height.
            fn >>= 1
            sn >>= 1
        # Step 5: a path that stops short leaves sn > 0; otherwise compare the roots.
        # compare_digest: constant time costs nothing here, and the caller's root may
        # be any bytes-like value.
        return sn == 0 and hmac.compare_digest(r, root)
    except (TypeError, ValueError):
        # A path element or root that is not bytes-like (e.g. a str or None).
        return False


@dataclass(frozen=True)
class InclusionProof:
    """A self-contained, JSON-friendly inclusion proof: the leaf as text, hashes as hex.

    ``leaf`` is the leaf data as text; it is hashed as its UTF-8 bytes, so a proof
    round-trips through JSON without a binary encoding of its own.
    """

    leaf: str
    index: int
    size: int
    path: tuple[str, ...]
    root: str

    def verify(self) -> bool:
        """Whether this proof holds (RFC 9162 §2.1.3.2); False, never an error, if malformed."""
        try:
            leaf = self.leaf.encode("utf-8")
            path = [bytes.fromhex(p) for p in self.path]
            expected_root = bytes.fromhex(self.root)
        except (AttributeError, TypeError, ValueError):
            # Not text, not hex, or a lone surrogate that UTF-8 cannot encode.
            return False
        return verify_inclusion(leaf, self.index, self.size, path, expected_root)

    def to_dict(self) -> dict[str, Any]:
        """The proof as plain JSON-ready values (the path as a list)."""
        return {
            "leaf": self.leaf,
            "index": self.index,
            "size": self.size,
            "path": list(self.path),
            "root": self.root,
        }
