"""How long-running processes (the server, imports, the region loader) set Python's cyclic
garbage collector. One place, so that the server and the bulk paths measure alike.

Requests and writes make many short-lived objects and few cycles; a server also keeps
records in its cache for a while. Measured (3,000 cold verdicts against a full record cache,
each followed by a totals read; docs/scale.md):

- Default thresholds: the collector rescanned start-up state and aged records over and over —
  totals p99 62–300 ms, and 18 % of a bulk completion's time.
- (50_000, 50, 100) after freezing start-up state: young collections of 25–45 ms every ~80
  verdicts. Worse, once the cache is full each new record evicts an old one, Python 3.11's
  young count (allocations minus deallocations) stays near zero and collections stop while
  the cached records pile up in the young generation: the collection that finally comes scans
  them all (0.4–0.5 s at a cache of 1,000 records with 10_000; longer with 50_000).
- (10_000, 50, 100) and, every ``TEND_EVERY`` requests, collect and freeze what survived
  (``tend``): no pause above 23 ms, verdict p99 36.8 ms, totals p99 5.3 ms, resident memory as
  without it (collecting before freezing keeps cyclic garbage from being frozen alive; so does
  tending only when no other request or batch is under way).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

THRESHOLDS = (10_000, 50, 100)
TEND_EVERY = 60  # requests; about 10 ms each time (22 at most) at 30 cold verdicts a period


def settle() -> None:
    """Call once start-up is done: collect, freeze what survived, collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def tend() -> None:
    """Collect what the recent work left behind and move the survivors (cached records) out of
    the collector's reach, before they pile up into one long pause. A full collection: it scans
    only what is not frozen yet, i.e. what came since the last time, so it costs what a young one
    does — and garbage that reached the old generation is not frozen alive."""
    gc.collect()
    gc.freeze()


_lock = threading.Lock()
_depth = 0  # threads inside ``paused()``
_restore = False  # whether the collector was on when the first of them came in


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection while a batch is decided and saved: it makes many objects that live
    until it is done and no cycles, and the collector only rescanned them. Counted across
    threads: the collector is on again when the last of them is done (if it was on before)."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                gc.enable()


class Tending:
    """ASGI middleware: ``tend`` after every ``every``-th request, once its response is sent and
    nothing else is under way (no other request, no batch): what is frozen is never collected,
    and a request half done may hold a cycle that becomes garbage later (an exception and the
    frame that keeps it). A server never quiet is tended anyway at twice the interval, so that
    cached records do not pile up again (with ten times, the forms-under-load test's reads went
    past 100 ms in two full-suite runs of four; not shown to be the cause)."""

    def __init__(self, app: Any, every: int = TEND_EVERY):
        self.app, self.every = app, every
        self.count = self.in_flight = 0  # the event loop's thread only: no lock

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.count += 1
            quiet = self.in_flight == 0 and _depth == 0
            if self.count >= self.every and quiet or self.count >= 2 * self.every:
                self.count = 0
                tend()
