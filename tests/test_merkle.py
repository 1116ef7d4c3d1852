"""Merkle tree hashing and inclusion proofs (RFC 6962 §2.1, RFC 9162 §2.1.3.2).

Checked three independent ways: against the published Certificate Transparency test
vectors, against a deliberately naive recursive transcription of the RFC's definitions
written here, and by tampering with good proofs, which must then fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from ce_ledger.audit.merkle import (
    InclusionProof,
    inclusion_path,
    leaf_hash,
    node_hash,
    root,
    verify_inclusion,
)

# The RFC 6962 test vectors used across CT implementations (transparency-dev/merkle
# testonly/constants.go, the same values as google/certificate-transparency's tests).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
# MTH of the first n leaves, indexed by n (0 = the empty tree).
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Known inclusion proofs (transparency-dev/merkle proof/verify_test.go, whose leaf
# numbers are 1-based; here they are 0-based indices): (index, size, path).
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


# --- A reference implementation: the RFC's recursive definitions, transcribed naively.
# Independent of the module under test on purpose: own hashing, own recursion.


def _largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), as RFC 6962 §2.1 splits."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _largest_power_of_two_below(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1."""
    n = len(d)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def leaves_of(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


# --- (1) Known answers.


def test_leaf_and_node_hash_use_the_rfc_prefixes():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    # The first CT vector is a bare leaf hash: MTH of one empty leaf.
    assert leaf_hash(b"").hex() == CT_ROOTS[1]


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_root_matches_the_ct_vectors(size):
    assert root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    assert ref_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size]  # and so does the reference


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_path_matches_the_ct_vectors(index, size, path):
    got = inclusion_path(CT_LEAVES[:size], index)
    assert [p.hex() for p in got] == path
    assert verify_inclusion(CT_LEAVES[index], index, size, got, bytes.fromhex(CT_ROOTS[size]))


def test_an_odd_node_is_carried_up_not_duplicated():
    # The flaw RFC 6962's split avoids (Bitcoin's tree has it): [a, b, c] and [a, b, c, c]
    # must not share a root.
    a, b, c = b"a", b"b", b"c"
    assert root([a, b, c]) != root([a, b, c, c])
    assert root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


# --- (2) Agreement with the reference for every small tree and every leaf.


@pytest.mark.parametrize("size", range(1, 41))
def test_every_path_matches_the_reference_and_verifies(size):
    leaves = leaves_of(size)
    expected_root = ref_mth(leaves)
    assert root(leaves) == expected_root
    for index in range(size):
        path = inclusion_path(leaves, index)
        assert path == ref_path(index, leaves), f"index {index} of {size}"
        assert verify_inclusion(leaves[index], index, size, path, expected_root), f"index {index} of {size}"


@pytest.mark.parametrize("index", [-1, 3, 4])
def test_inclusion_path_rejects_an_index_outside_the_tree(index):
    with pytest.raises(IndexError):
        inclusion_path(leaves_of(3), index)


# --- (3) Wrong proofs fail. Each good proof is mutated in one way at a time.


def mutations(leaf: bytes, index: int, size: int, path: list[bytes], good_root: bytes):
    """(description, verify_inclusion arguments) for every way of spoiling one good proof."""
    yield "leaf changed", (leaf + b"!", index, size, path, good_root)
    yield "wrong root", (leaf, index, size, path, hashlib.sha256(b"other").digest())
    yield "empty-tree root", (leaf, index, size, path, hashlib.sha256(b"").digest())
    yield "truncated root", (leaf, index, size, path, good_root[:-1])
    for wrong_index in {index - 1, index + 1, index ^ 2, index + size, -1}:
        if wrong_index != index:
            yield f"index {wrong_index}", (leaf, wrong_index, size, path, good_root)
    # Sizes that change the path's shape. (size ± 1 often does not: see
    # test_size_is_bound_only_through_the_shape_of_the_path.)
    for wrong_size in {size * 2, size // 2, size * 3, 0, -1}:
        if wrong_size != size:
            yield f"size {wrong_size}", (leaf, index, wrong_size, path, good_root)
    for i in range(len(path)):
        for byte in (0, 31):
            flipped = bytearray(path[i])
            flipped[byte] ^= 0x08
            yield f"path[{i}] byte {byte} flipped", (leaf, index, size, [*path[:i], bytes(flipped), *path[i + 1 :]], good_root)
    if path:
        yield "truncated path", (leaf, index, size, path[:-1], good_root)
        yield "first element dropped", (leaf, index, size, path[1:], good_root)
    if len(path) > 1:
        yield "elements reversed", (leaf, index, size, path[::-1], good_root)
    yield "extra element appended", (leaf, index, size, [*path, good_root], good_root)
    yield "empty element appended", (leaf, index, size, [*path, b""], good_root)
    yield "extra element prepended", (leaf, index, size, [good_root, *path], good_root)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31])
def test_spoiled_proofs_fail(size):
    leaves = leaves_of(size)
    good_root = root(leaves)
    for index in range(size):
        path = inclusion_path(leaves, index)
        assert verify_inclusion(leaves[index], index, size, path, good_root)
        for description, args in mutations(leaves[index], index, size, path, good_root):
            assert verify_inclusion(*args) is False, f"{description}: index {index} of {size}"


def test_every_other_index_fails_even_with_the_same_leaf_data():
    # The index is fully bound by the path: the leaf's data is kept and only the
    # claimed index changes, so only the left/right choices differ.
    for size in range(1, 25):
        leaves = leaves_of(size)
        good_root = root(leaves)
        for index in range(size):
            path = inclusion_path(leaves, index)
            for other in range(-1, size + 2):
                if other != index:
                    assert not verify_inclusion(leaves[index], other, size, path, good_root)


def test_size_is_bound_only_through_the_shape_of_the_path():
    # Not a bug but RFC 9162 §2.1.3.2 as specified: the size only steers which side each
    # path element goes on, so a proof for leaf 0 of a 3-leaf tree also verifies against
    # the same root with size 4 (the path has the same shape). The root must therefore
    # be trusted *together with* its size (a signed tree head), never the root alone.
    leaves = leaves_of(3)
    path = inclusion_path(leaves, 0)
    assert verify_inclusion(leaves[0], 0, 3, path, root(leaves))
    assert verify_inclusion(leaves[0], 0, 4, path, root(leaves))
    assert root(leaves_of(4)) != root(leaves)


def test_another_leafs_data_does_not_verify_at_this_index():
    leaves = leaves_of(10)
    path = inclusion_path(leaves, 4)
    assert not verify_inclusion(leaves[5], 4, 10, path, root(leaves))


@pytest.mark.parametrize(
    "args",
    [
        ("not bytes", 0, 1, [], leaf_hash(b"x")),
        (b"x", 0, 1, [], "not bytes"),
        (b"x", 0, 2, ["not bytes"], leaf_hash(b"x")),
        (b"x", 0, 2, [None], leaf_hash(b"x")),
        (b"x", 0.0, 1, [], leaf_hash(b"x")),
        (b"x", True, 2, [b""], leaf_hash(b"x")),
        (b"x", 0, 0, [], hashlib.sha256(b"").digest()),
        (b"x", 0, 1, [], None),
    ],
)
def test_malformed_input_is_false_not_an_error(args):
    assert verify_inclusion(*args) is False


# --- InclusionProof.


def make_proof(texts: list[str], index: int) -> InclusionProof:
    leaves = [t.encode("utf-8") for t in texts]
    return InclusionProof(
        leaf=texts[index],
        index=index,
        size=len(texts),
        path=tuple(p.hex() for p in inclusion_path(leaves, index)),
        root=root(leaves).hex(),
    )


def test_inclusion_proof_verifies_and_serialises():
    texts = ["学分 1", "credit 2", "credit 3", "credit 4", "credit 5"]
    proof = make_proof(texts, 3)
    assert proof.verify()
    as_dict = proof.to_dict()
    assert as_dict == {
        "leaf": "credit 4",
        "index": 3,
        "size": 5,
        "path": list(proof.path),
        "root": proof.root,
    }
    assert InclusionProof(**{**as_dict, "path": tuple(as_dict["path"])}) == proof
    assert make_proof(texts, 0).verify()  # non-ASCII leaf text, hashed as UTF-8


@pytest.mark.parametrize(
    "change",
    [
        {"leaf": "credit 5"},
        {"index": 2},
        {"size": 10},  # doubled: size ± 1 may share the path's shape (see above)
        {"root": "00" * 32},
        {"root": "not hex"},
        {"path": ("zz",)},
        {"leaf": "\ud800"},  # a lone surrogate: not encodable as UTF-8
    ],
)
def test_a_changed_inclusion_proof_fails(change):
    proof = make_proof(["credit 1", "credit 2", "credit 3", "credit 4", "credit 5"], 3)
    changed = InclusionProof(**{**proof.to_dict(), "path": proof.path, **change})
    assert changed.verify() is False


def test_inclusion_proof_is_frozen():
    proof = make_proof(["a", "b"], 0)
    with pytest.raises(AttributeError):
        proof.index = 1  # type: ignore[misc]


# --- (4) Scale: a 150,000-leaf tree (past 2^17) is handled without deep recursion or re-hashing.


def test_a_hundred_and_fifty_thousand_leaves():
    n = 150_000
    leaves = [i.to_bytes(4, "big") for i in range(n)]
    tree_root = root(leaves)
    for index in (0, 1, 131_071, 131_072, n - 2, n - 1):
        path = inclusion_path(leaves, index)
        assert verify_inclusion(leaves[index], index, n, path, tree_root)
    # The last leaf sits on the tree's ragged right edge, where nodes are carried up:
    # spoiling the topmost element of its path must still be caught.
    last = inclusion_path(leaves, n - 1)
    spoiled = [*last[:-1], bytes(b ^ 0xFF for b in last[-1])]
    assert not verify_inclusion(leaves[n - 1], n - 1, n, spoiled, tree_root)
