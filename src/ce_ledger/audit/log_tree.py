"""The log's Merkle tree kept in the store: grown by checkpoints, read by proofs.

``tree.py`` is the arithmetic; this is where its two reads come from. Leaf ``i`` is the
``i``-th row of the log in position order (positions may have gaps: PostgreSQL's sequence
skips the numbers of rolled-back inserts), so the store keeps, for each complete chunk of
16 leaves (``tree.CHUNK``), the positions of its first and last row (``_chunks``) beside the hashes of
complete subtrees (``_tree``). Everything here reads pages or single rows: memory does not
grow with the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from ce_ledger.audit.checkpoint import leaf
from ce_ledger.audit.merkle import leaf_hash
from ce_ledger.audit.tree import CHUNK, Frontier, Tree, edge_of
from ce_ledger.storage import ChunkRow, LedgerRecorder, LogRow, TreeRow

PAGE = 5_000
FLUSH = 1024  # chunks stored per transaction while a checkpoint grows the tree


def digest_of(plain_state: bytes) -> str:
    """The ``digest`` a row's JSON holds, or "unreadable" (a leaf still, so that the tree
    covers every row and a damaged row shows where it is)."""
    try:
        found = json.loads(plain_state).get("digest")
    except (ValueError, AttributeError):
        return "unreadable"
    return found if isinstance(found, str) else "unreadable"


class LogTree:
    def __init__(self, recorder: LedgerRecorder, plain: Callable[[bytes], bytes]):
        self.recorder = recorder
        self.plain = plain

    def leaf_data(self, row: LogRow) -> bytes:
        return leaf(row.originator_id, row.originator_version, digest_of(self.plain(row.state)))

    def rows(self, after: int, stop: int) -> Iterator[LogRow]:
        """The log's rows after position ``after`` up to ``stop``, in position order, a page at a time."""
        while True:
            page = self.recorder.log_rows(after, stop, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].id

    # -- growing -------------------------------------------------------------------------

    def grow(self, position: int) -> Frontier:
        """Store every complete chunk up to log ``position`` that is not stored yet; the tree's
        right edge at ``position``. Costs the rows after the last stored chunk, not the log."""
        end = self.recorder.tree_end()
        chunks_done, after = (end[0] + 1, end[2]) if end else (0, 0)
        edge = edge_of(chunks_done * CHUNK, self.recorder.tree_hash)
        if edge is None:  # a stored edge node is missing: grow from the start (it is all derived)
            chunks_done, after, edge = 0, 0, []
        nodes: list[TreeRow] = []
        chunks: list[ChunkRow] = []
        frontier = Frontier(chunks_done * CHUNK, edge, completed=lambda level, i, h: nodes.append((level, i, h)))
        first = None
        for row in self.rows(after, position):
            if first is None:
                first = row.id
            frontier.add(self.leaf_data(row))
            if frontier.size % CHUNK == 0:
                chunks.append((frontier.size // CHUNK - 1, first, row.id))
                first = None
                if len(chunks) >= FLUSH:
                    self.recorder.insert_tree(nodes, chunks)
                    nodes, chunks = [], []
        self.recorder.insert_tree(nodes, chunks)
        return frontier

    # -- reading -------------------------------------------------------------------------

    def tree(self) -> Tree:
        return Tree(self.recorder.tree_hash, self.leaf_hashes, self.recorder.tree_hashes)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``start`` .. ``end``-1, all in one chunk: read from the chunk's rows."""
        chunk = start // CHUNK
        base = chunk * CHUNK
        found = self.recorder.chunk(chunk)
        if found is not None:
            rows = self.recorder.log_rows(found[1] - 1, found[2], CHUNK)
        else:  # the tail after the last complete chunk
            last = self.recorder.chunk(chunk - 1) if chunk else None
            if chunk and last is None:
                raise LookupError(f"leaf {start} lies past the stored tree; record a checkpoint first")
            rows = self.recorder.log_rows(last[2] if last else 0, 2**62, end - base)  # only up to the leaves asked
        hashes = [leaf_hash(self.leaf_data(r)) for r in rows]
        return hashes[start - base:end - base]

    def leaf_index(self, position: int) -> int:
        """The leaf of the row at log ``position``: its chunk's first leaf plus the rows before it
        in the chunk (counted, not read)."""
        found = self.recorder.chunk_at(position)
        if found is not None and position <= found[2]:
            chunk, after = found[0], found[1] - 1
        else:
            chunk = found[0] + 1 if found is not None else 0
            after = found[2] if found is not None else 0
        return chunk * CHUNK + self.recorder.rows_between(after, position)
