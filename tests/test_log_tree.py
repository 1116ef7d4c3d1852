"""Checkpoints over the log (RFC 9162): what was appended is what a checkpoint costs; proofs
read O(log n) stored hashes; a later checkpoint is shown to extend an earlier one; and the
checkpoints recorded before, over stream heads, still verify and prove."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from ce_ledger.audit import merkle
from ce_ledger.audit.checkpoint import CHECKPOINTS, CheckpointRecorded
from ce_ledger.audit.service import Audit
from ce_ledger.audit.tree import CHUNK, Frontier, Tree, edge_of, verify_consistency
from ce_ledger.domain.errors import Conflict
from tests.builders import public, registration
from tests.tamper import Tamper
from tests.test_audit import third_party_verify

# -- the arithmetic, against the plain RFC 6962 functions ------------------------------------


def test_the_tree_from_stored_subtrees_is_the_rfc_tree():
    leaves = [f"leaf-{i}".encode() for i in range(3 * CHUNK + 17)]
    hashes = [merkle.leaf_hash(d) for d in leaves]
    stored: dict = {}
    frontier = Frontier(completed=lambda level, i, h: stored.__setitem__((level, i), h))
    roots = {}
    for i, data in enumerate(leaves):
        frontier.add(data)
        roots[i + 1] = frontier.root()
    reads: list = []
    tree = Tree(lambda level, i: reads.append((level, i)) or stored.get((level, i)), lambda a, b: hashes[a:b])
    rng = random.Random(9162)
    for n in (1, 2, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5, len(leaves)):
        assert tree.root(n) == merkle.root(leaves[:n]) == roots[n]
        for m in rng.sample(range(n), min(n, 12)):
            path = tree.inclusion_path(m, n)
            assert path == merkle.inclusion_path(leaves[:n], m)
            assert merkle.verify_inclusion(leaves[m], m, n, path, roots[n])
        for old in rng.sample(range(1, n + 1), min(n, 12)):
            proof = tree.consistency_path(old, n)
            assert verify_consistency(old, n, proof, roots[old], roots[n])
            if old < n:
                assert not verify_consistency(old, n, proof, roots[old], roots[n - 1] if n - 1 != old else b"x" * 32)
                if proof:
                    assert not verify_consistency(old, n, proof[:-1], roots[old], roots[n])
    # The edge of a stored tree resumes growing where it stopped.
    resumed = Frontier(2 * CHUNK, edge_of(2 * CHUNK, lambda level, i: stored.get((level, i))))
    for data in leaves[2 * CHUNK:]:
        resumed.add(data)
    assert resumed.root() == roots[len(leaves)]


# -- in the store ----------------------------------------------------------------------


def _activity(ledger, pids, n: int) -> None:
    ledger.record_batch([(pids[i % len(pids)], public("1", date(2018, 1, 1 + i % 28), f"PR-T-{n}-{i}"))
                         for i in range(150)], by="platform")


def _counting(recorder):
    """How many log rows the audit reads, from here on."""
    count = {"rows": 0}
    original = recorder.log_rows

    def counted(after, stop, limit):
        rows = original(after, stop, limit)
        count["rows"] += len(rows)
        return rows

    recorder.log_rows = counted
    return count


def test_checkpoints_cost_what_was_appended_and_prove_and_extend(ledger):
    audit = Audit(ledger)
    pids = [ledger.register(registration(), by="platform").professional_id for _ in range(5)]
    for n in range(4):
        _activity(ledger, pids, n)  # 150 activities: 150 rows
    first = audit.checkpoint(by="auditor:a")
    assert first.tree == "log" and first.streams == first.position - _gaps(ledger, first.position)
    for n in range(4, 8):
        _activity(ledger, pids, n)
    count = _counting(ledger.recorder)
    second = audit.checkpoint(by="auditor:a")
    appended = second.streams - first.streams
    assert appended >= 600 and count["rows"] <= appended + CHUNK  # the new rows and the tail before them

    # Inclusion proofs in either checkpoint, checked as docs/audit.md does.
    for checkpoint in (first, second):
        for pid in pids[:2]:
            count["rows"] = 0
            proof = audit.prove(pid, checkpoint.originator_version)
            assert proof.verify() and third_party_verify(proof.to_dict())
            assert proof.root == checkpoint.root and proof.size == checkpoint.streams
            assert count["rows"] <= 3 * CHUNK  # the leaf's chunk and the tail: not the log
            assert not replace(proof, index=(proof.index + 1) % proof.size).verify()

    # The second extends the first; a forged root does not.
    consistency = audit.consistency(first.originator_version, second.originator_version)
    assert consistency.verify()
    assert not replace(consistency, old_root="00" * 32).verify()
    with pytest.raises(Conflict):
        audit.consistency(second.originator_version, first.originator_version)

    report = audit.verify()
    assert report.intact and report.checkpoints == 2

    # A row deleted before the first checkpoint breaks both.
    Tamper(ledger).delete(pids[3], 2)
    kinds = {(b.stream_id, b.version) for b in audit.verify().breaks}
    assert {(CHECKPOINTS, 1), (CHECKPOINTS, 2)} <= kinds


def _gaps(ledger, position: int) -> int:
    """Positions up to ``position`` that hold no row (PostgreSQL's sequence skips some)."""
    return position - len(ledger.recorder.log_rows(0, position, position + 1))


def test_a_checkpoint_over_stream_heads_still_verifies_and_proves(ledger):
    audit = Audit(ledger)
    pids = [ledger.register(registration(), by="platform").professional_id for _ in range(3)]
    _activity(ledger, pids, 0)
    # As recorded before the log tree: the root over every stream's head, no ``tree`` field.
    position = ledger.position()
    root, leaves = audit._root_at(position)
    old = ledger.next_event(CheckpointRecorded, CHECKPOINTS, recorded_at=ledger.clock(), position=position,
                            streams=len(leaves), root=root, recorded_by="auditor:a", caused_by="auditor:a")
    ledger.save(old)
    assert "tree" not in Tamper(ledger).state(CHECKPOINTS, 1) or Tamper(ledger).state(CHECKPOINTS, 1)["tree"] == "heads"
    _activity(ledger, pids, 1)
    audit.checkpoint(by="auditor:a")

    assert audit.checkpoints()[0].tree == "heads" and audit.checkpoints()[1].tree == "log"
    proof = audit.prove(pids[0], 1)
    assert proof.verify() and third_party_verify(proof.to_dict()) and proof.size == len(leaves)
    assert audit.prove(pids[0], 2).verify()
    with pytest.raises(Conflict):
        audit.consistency(1, 2)
    assert audit.verify().intact
