"""The audit service: verify every chain, replay a verdict, record and prove checkpoints.

Beside the ledger application rather than inside it: it reads the stored rows as
they are (``store.RawLog``) and trusts nothing the mapper would vouch for.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from uuid import UUID

from ce_ledger.application import Ledger
from ce_ledger.audit import merkle
from ce_ledger.audit.checkpoint import CHECKPOINTS, CheckpointRecorded, leaf
from ce_ledger.audit.log_tree import LogTree
from ce_ledger.audit.tree import Frontier, verify_consistency
from ce_ledger.audit.collisions import REVIEWS, KeyCollision, KeyCollisionsFound, KeyIndex
from ce_ledger.audit.replay import Replay, changes_since, rule_set_note
from ce_ledger.audit.store import RawLog
from ce_ledger.audit.verification import Break, Head, Row, check_stream, pin_breaks
from ce_ledger.domain.errors import Conflict, LedgerError, NotFound
from ce_ledger.domain.values import Value
from ce_ledger.domain.verdicts import Pin

Progress = Callable[[int], None]


@dataclass(frozen=True)
class CheckpointProof(merkle.InclusionProof):
    checkpoint: int = 0  # which checkpoint's root


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4: that checkpoint ``new`` (``new_size`` leaves) extends checkpoint ``old``."""

    old: int
    new: int
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: tuple[str, ...]

    def verify(self) -> bool:
        try:
            return verify_consistency(self.old_size, self.new_size, [bytes.fromhex(p) for p in self.path],
                                      bytes.fromhex(self.old_root), bytes.fromhex(self.new_root))
        except (TypeError, ValueError):
            return False


class VerificationReport(Value):
    intact: bool
    streams: int
    events: int
    verdict_pins: int
    checkpoints: int
    breaks: tuple[Break, ...]
    # Live activities whose keys are one key once canonical (reading 16): for an auditor to review;
    # they do not make the history less intact.
    collisions: tuple[KeyCollision, ...] = ()
    more_collisions: bool = False


class Audit:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.log = RawLog(ledger.recorder, ledger.mapper)
        self.tree = LogTree(ledger.recorder, self.log.plain)

    # -- verification ----------------------------------------------------------------

    def verify(self, progress: Progress | None = None) -> VerificationReport:
        """Walk every stream and recompute its chain; then check verdict pins and checkpoints."""
        breaks: list[Break] = []
        pins = 0
        streams = events = 0
        plain = self.log.plain
        keys = KeyIndex()
        try:
            for stream_id, group in groupby(self.log.rows(), key=itemgetter(0)):
                rows = [Row(version, topic, plain(state)) for _, version, topic, state in group]
                found, _ = check_stream(stream_id, rows, functools.partial(keys.add, stream_id))
                breaks.extend(found)
                for pin in _pins_in(rows):  # checked at once, not kept: memory stays flat with the store
                    breaks.extend(self._check_pin(pin))
                    pins += 1
                streams += 1
                events += len(rows)
                if progress:
                    progress(len(rows))
            collisions, more = keys.collisions()
        finally:
            keys.close()
        checkpoints = self._checkpoints()
        for checkpoint in checkpoints:
            if checkpoint.tree == "heads" and self._root_at(checkpoint.position)[0] != checkpoint.root:
                breaks.append(
                    Break(
                        stream_id=CHECKPOINTS,
                        version=checkpoint.originator_version,
                        kind="missing",
                        detail=f"checkpoint {checkpoint.originator_version}: the stream heads at position "
                        f"{checkpoint.position} no longer hash to its root — a head was deleted or rewritten since",
                    )
                )
        breaks += self._check_log_checkpoints([c for c in checkpoints if c.tree == "log"])
        unique = tuple(dict.fromkeys(breaks))
        return VerificationReport(
            intact=not unique, streams=streams, events=events, verdict_pins=pins,
            checkpoints=len(checkpoints), breaks=unique, collisions=tuple(collisions), more_collisions=more,
        )

    def _check_log_checkpoints(self, checkpoints: list[CheckpointRecorded]) -> list[Break]:
        """Every log checkpoint in one pass over the log in position order: the tree is grown
        leaf by leaf (its right edge only, ``Frontier``) and its root compared as each
        checkpoint's position is passed. Many checkpoints cost what one costs."""
        if not checkpoints:
            return []
        pending = sorted(checkpoints, key=lambda c: c.position)
        frontier = Frontier()
        breaks: list[Break] = []

        def check(c: CheckpointRecorded) -> None:
            if frontier.size != c.streams or frontier.root().hex() != c.root:
                breaks.append(Break(
                    stream_id=CHECKPOINTS, version=c.originator_version, kind="missing",
                    detail=f"checkpoint {c.originator_version}: the first {c.streams} rows of the log, up to "
                    f"position {c.position}, no longer hash to its root ({frontier.size} rows there now) — "
                    "a row was deleted, inserted or rewritten since",
                ))

        for row in self.tree.rows(0, pending[-1].position):
            while pending and row.id > pending[0].position:
                check(pending.pop(0))
            frontier.add(self.tree.leaf_data(row))
        for c in pending:
            check(c)
        return breaks

    def record_findings(self, report: VerificationReport, *, by: str, channel: str = "direct") -> bool:
        """Keep what a verification found for the workbench's auditors: recorded when it differs
        from the last finding (the first finding, a new collision, or one resolved by a void)."""
        last = self.findings()
        if last is None and not report.collisions:
            return False
        if last is not None and (last.collisions, last.more) == (report.collisions, report.more_collisions):
            return False
        self.ledger.save(self.ledger.next_event(  # type: ignore[arg-type]
            KeyCollisionsFound, REVIEWS, recorded_at=self.ledger.clock(), collisions=report.collisions,
            more=report.more_collisions, recorded_by=by, caused_by=by, channel=channel,
        ))
        return True

    def findings(self) -> KeyCollisionsFound | None:
        """The latest recorded finding of key collisions, if any verification recorded one."""
        head = list(self.ledger.events.get(REVIEWS, desc=True, limit=1))
        return head[0] if head else None  # type: ignore[return-value]

    def _check_pin(self, pin: Pin) -> list[Break]:
        """The pinned version must still exist with the digest the verdict read."""
        stored = self.ledger.recorder.select_events(pin.stream_id, gt=pin.version - 1, lte=pin.version)
        head = Head(pin.version, _digest(self.log.plain(stored[0].state))) if stored else Head(0, None)
        return pin_breaks(pin, head)

    def _walk(self, stream_id: UUID, up_to: int | None = None) -> tuple[list[Break], Head]:
        stored = self.ledger.recorder.select_events(stream_id, lte=up_to)
        return check_stream(stream_id, [Row(s.originator_version, s.topic, self.log.plain(s.state)) for s in stored])

    # -- replay ----------------------------------------------------------------------

    def replay(self, verdict_id: UUID) -> Replay:
        """Re-evaluate a verdict from its pinned record versions with its pinned rule-set."""
        issued = self.ledger.verdict(verdict_id)
        recorded = issued.verdict
        breaks = self._walk(verdict_id)[0]
        for pin in issued.pins:
            found, head = self._walk(pin.stream_id, pin.version)  # one read: the chain and the pinned head
            breaks += found + pin_breaks(pin, head)
        breaks = list(dict.fromkeys(breaks))
        try:
            rules = self.ledger.rule_sets.get(recorded.rule_set.id)
        except LedgerError:
            rules = None
        recomputed = changes = None
        note = rule_set_note(recorded.rule_set, rules)
        if breaks:
            explanation = (
                f"not reproduced: the stored history this verdict read is broken in {len(breaks)} "
                "place(s); see breaks — nothing recomputed from it can be trusted"
            )
        elif rules is None:
            explanation = f"not reproduced: {note}"
        else:
            pin = issued.pins[0]
            then, now = self.ledger.evaluate_pinned(issued, rules)
            recomputed = then.fingerprint
            now_record = self.ledger.professional(pin.stream_id, copy=False)
            pinned = {p.stream_id: p.version for p in issued.pins if p.role == "provider"}
            changes = changes_since(then, now, now_record, self.ledger.providers_of(now_record), pinned)
            if recomputed == issued.fingerprint:
                explanation = (
                    f"reproduced: record version {pin.version} under rule-set {recorded.rule_set.id} "
                    f"gives the same verdict, byte for byte"
                )
            else:
                explanation = f"not reproduced: {note or 'the recomputed verdict differs from the recorded one'}"
        superseded = self.ledger.superseded_by(recorded.rule_set.id, recorded.evaluation_year)
        if superseded:
            explanation += (
                f"; rule-set {recorded.rule_set.id} has since been superseded for {recorded.evaluation_year} "
                f"by {superseded}, under which a new verdict would be issued (reading 17)"
            )
        return Replay(
            superseded_by=superseded,
            verdict_id=verdict_id,
            reproduced=not breaks and recomputed == issued.fingerprint == recorded.fingerprint,
            recorded_fingerprint=issued.fingerprint,
            recomputed_fingerprint=recomputed,
            rule_set=recorded.rule_set,
            rule_set_digest_now=rules.digest if rules else None,
            breaks=tuple(breaks),
            explanation=explanation,
            changes_since=changes,
        )

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self, *, by: str, channel: str = "direct") -> CheckpointRecorded:
        """Record the Merkle root over the log up to the current position (``tree="log"``).
        Hashes only the rows since the last stored chunk of the tree."""
        position = self.ledger.position()
        frontier = self.tree.grow(position)
        event = self.ledger.next_event(
            CheckpointRecorded,
            CHECKPOINTS,
            recorded_at=self.ledger.clock(),
            position=position,
            streams=frontier.size,
            root=frontier.root().hex(),
            tree="log",
            recorded_by=by,
            caused_by=by,
            channel=channel,
        )
        self.ledger.save(event)  # type: ignore[arg-type]  # a lost race is an IntegrityError: run it again
        return event

    def checkpoints(self) -> list[CheckpointRecorded]:
        return self._checkpoints()

    def _checkpoint(self, number: int | None) -> CheckpointRecorded:
        if number is not None:
            found = self.ledger.events.get(CHECKPOINTS, gt=number - 1, lte=number) if number > 0 else []
            chosen = next(iter(found), None)
        else:
            chosen = next(iter(self.ledger.events.get(CHECKPOINTS, desc=True, limit=1)), None)
        if chosen is None:
            raise NotFound("checkpoint", "no such checkpoint" if number else "no checkpoint recorded yet")
        return chosen  # type: ignore[return-value]

    def prove(self, stream_id: UUID, checkpoint: int | None = None) -> CheckpointProof:
        """An inclusion proof of the stream's head in a checkpoint (default: the latest)."""
        chosen = self._checkpoint(checkpoint)
        if chosen.tree == "heads":
            return self._prove_head(stream_id, chosen)
        head = self.ledger.recorder.head_at(stream_id, chosen.position)
        if head is None:
            raise NotFound("stream_id", f"stream {stream_id} had no events at position {chosen.position}")
        index = self.tree.leaf_index(head.id)
        proof = CheckpointProof(
            checkpoint=chosen.originator_version,
            leaf=self.tree.leaf_data(head).decode(),
            index=index,
            size=chosen.streams,
            path=tuple(h.hex() for h in self.tree.tree().inclusion_path(index, chosen.streams)),
            root=chosen.root,
        )
        # Checked against the recorded root rather than by recomputing it: a stored hash or a row
        # changed since the checkpoint makes the proof fail here, and costs nothing more.
        if not proof.verify():
            raise Conflict("checkpoint", "the store no longer matches this checkpoint: run ce-ledger verify")
        return proof

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """That checkpoint ``new`` (default: the latest) extends checkpoint ``old`` (RFC 9162 §2.1.4)."""
        before, after = self._checkpoint(old), self._checkpoint(new)
        if "heads" in (before.tree, after.tree):
            raise Conflict("checkpoint", "a checkpoint over stream heads (recorded before the log tree) has no "
                           "consistency proof; prove a head in it instead")
        if before.streams > after.streams:
            raise Conflict("checkpoint", f"checkpoint {before.originator_version} is the later one")
        tree = self.tree.tree()
        if tree.root(after.streams).hex() != after.root:
            raise Conflict("checkpoint", "the store no longer matches this checkpoint: run ce-ledger verify")
        return ConsistencyProof(
            old=before.originator_version, new=after.originator_version, old_size=before.streams,
            new_size=after.streams, old_root=before.root, new_root=after.root,
            path=tuple(h.hex() for h in tree.consistency_path(before.streams, after.streams)),
        )

    def _prove_head(self, stream_id: UUID, chosen: CheckpointRecorded) -> CheckpointProof:
        """A proof in a checkpoint over stream heads, as it was made (reads every head)."""
        root, leaves = self._root_at(chosen.position)
        if root != chosen.root:
            raise Conflict("checkpoint", "the store no longer matches this checkpoint: run ce-ledger verify")
        prefix = f"{stream_id}:".encode()
        index = next((i for i, x in enumerate(leaves) if x.startswith(prefix)), None)
        if index is None:
            raise NotFound("stream_id", f"stream {stream_id} had no events at position {chosen.position}")
        return CheckpointProof(
            checkpoint=chosen.originator_version,
            leaf=leaves[index].decode(),
            index=index,
            size=len(leaves),
            path=tuple(h.hex() for h in merkle.inclusion_path(leaves, index)),
            root=root,
        )

    def _checkpoints(self) -> list[CheckpointRecorded]:
        return list(self.ledger.events.get(CHECKPOINTS))  # type: ignore[arg-type]

    def _root_at(self, position: int) -> tuple[str, list[bytes]]:
        heads = sorted(self.log.heads(position), key=itemgetter(0))
        leaves = [
            leaf(stream, version, _digest(self.log.plain(state)) or "unreadable") for stream, version, state in heads
        ]
        return merkle.root(leaves).hex(), leaves


def _digest(state: bytes) -> str | None:
    try:
        return json.loads(state).get("digest")
    except (ValueError, AttributeError):
        return None


def _pins_in(rows: list[Row]) -> list[Pin]:
    found = []
    for row in rows:
        if row.topic.endswith(":VerdictIssued"):
            try:
                found.extend(Pin.model_validate(p) for p in json.loads(row.state).get("pins", ()))
            except (ValueError, AttributeError):
                continue  # an unreadable verdict is already reported as a break
    return found
