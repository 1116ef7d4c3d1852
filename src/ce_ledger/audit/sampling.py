"""Drawing a spot check's sample: stratified, proportional, reproducible by anyone.

The procedure (``ALGORITHM``; docs/inspection.md states it for a third party, and
``docs/redraw_spot_check.py`` re-runs it from an exported log with the standard library):

1. The population: for each person, level and evaluation year, the verdict last issued at
   or before the position; narrowed by level, unit, series and issuing committee if asked.
2. Its strata: the person's unit (canonical code) and series where they stood at the
   verdict's own place in the log. Strata are ordered by (unit, series) as Python compares
   strings (code points).
3. The size: as asked, or ⌈rate × population⌉.
4. Allocation: stratum h of N_h verdicts gets ⌊n·N_h/N⌋, at least 1 (and at most N_h);
   while the total is below n, one more goes to each stratum in order of the largest
   remainder n·N_h/N − ⌊n·N_h/N⌋ (ties: stratum order) that still has verdicts left. The
   minimum of one per stratum can make the sample larger than n; it is never smaller.
5. Within a stratum: the verdicts with the smallest HMAC-SHA256(key = seed as UTF-8,
   message = the verdict id as lower-case hyphenated UUID text), compared as hex text.
6. Weighted (if asked): within a stratum, the verdicts with the largest u^(1/w) (Efraimidis and
   Spirakis), u = (2^256 − score)/2^256 and w the verdict's weight (audit/signals.draw_weight);
   compared exactly in integers. With every weight 1 it draws what step 5 draws.

Memory is bounded by the sample, not the population: the population is counted per
stratum first, then streamed once while each stratum keeps a heap of its best n_h.
"""

from __future__ import annotations

import heapq
import hmac
import math
from collections.abc import Iterable
from decimal import Decimal
from hashlib import sha256
from typing import Any
from uuid import UUID

ALGORITHM = "ce-ledger/spot-check/v1: strata (unit, series); proportional, largest remainder, >=1 each; HMAC-SHA256(seed, verdict id)"
WEIGHTED = ALGORITHM + "; weighted: largest u^(1/w), w = 1 + intrinsic signals"

Key = tuple[str, str]


def score(seed: str, verdict_id: UUID | str) -> str:
    return hmac.new(seed.encode("utf-8"), str(verdict_id).lower().encode("ascii"), sha256).hexdigest()


def sample_size(population: int, size: int | None, rate: Decimal | None) -> int:
    if size is not None:
        return min(size, population)
    assert rate is not None
    return min(population, math.ceil(Decimal(population) * rate))


def allocate(strata: dict[Key, int], n: int) -> dict[Key, int]:
    """How many to draw from each stratum (step 4). Exact in integers: the quota n·N_h/N has floor
    n·N_h // N and remainder (n·N_h mod N)/N, and remainders share the denominator N."""
    total = sum(strata.values())
    if total == 0:
        return {}
    order = sorted(strata)
    drawn = {h: min(strata[h], max(1, n * strata[h] // total)) for h in order}
    by_remainder = sorted(range(len(order)), key=lambda i: (-(n * strata[order[i]] % total), i))
    short = n - sum(drawn.values())
    while short > 0:
        for i in by_remainder:
            h = order[i]
            if short == 0:
                break
            if drawn[h] < strata[h]:
                drawn[h] += 1
                short -= 1
    return drawn


def draw(rows: Iterable[tuple], allocation: dict[Key, int], seed: str, *, weighted: bool = False) -> list[tuple[Key, UUID]]:
    """The sample (step 5) from the population's rows (verdict id, unit, series, weight), in any
    order: stratum by stratum, each by score (or, weighted, by key: step 6)."""
    keyed = hmac.new(seed.encode("utf-8"), digestmod=sha256)  # the key's set-up, once; copied per row
    best: dict[Key, list[Any]] = {h: [] for h in allocation}
    for verdict_id, unit, series, *rest in rows:
        want = allocation.get((unit, series), 0)
        if not want:
            continue
        mac = keyed.copy()
        mac.update(str(verdict_id).lower().encode("ascii"))
        score_ = int.from_bytes(mac.digest(), "big")
        # Hex texts of one length order as their numbers: a max-heap (negated) of the smallest scores;
        # weighted, a min-heap of the largest keys.
        item: Any = WeightedKey(TWO_256 - score_, int(rest[0]) if rest else 1, verdict_id) if weighted else (-score_, verdict_id)
        heap = best[(unit, series)]
        if len(heap) < want:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    out: list[tuple[Key, UUID]] = []
    for h in sorted(best):
        for item in sorted(best[h], reverse=True):
            out.append((h, UUID(item.verdict_id if weighted else item[1])))
    return out


TWO_256 = 2**256


class WeightedKey:
    """Step 6: Efraimidis and Spirakis' key u^(1/w), u = (2^256 − score)/2^256 in (0, 1], compared
    exactly in integers: u_a^(1/w_a) > u_b^(1/w_b) ⟺ m_a^(w_b) · 2^(256·w_a) > m_b^(w_a) · 2^(256·w_b)
    for m = 2^256 − score. Ties (never seen) go to the smaller verdict id."""

    __slots__ = ("m", "w", "verdict_id")

    def __init__(self, m: int, w: int, verdict_id: str):
        self.m, self.w, self.verdict_id = m, w, verdict_id

    def _cmp(self, other: WeightedKey) -> int:
        left = self.m ** other.w << (256 * self.w)
        right = other.m ** self.w << (256 * other.w)
        if left != right:
            return 1 if left > right else -1
        return (self.verdict_id < other.verdict_id) - (self.verdict_id > other.verdict_id)

    def __lt__(self, other: WeightedKey) -> bool:
        return self._cmp(other) < 0

    def __gt__(self, other: WeightedKey) -> bool:
        return self._cmp(other) > 0
