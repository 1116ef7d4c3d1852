"""How long-running processes (the server, imports, the region loader) set Python's cyclic
garbage collector. One place, so that the server and the bulk paths measure alike.

Writes and requests make many short-lived objects and few cycles. With the default
thresholds the collector ran every 700 allocations and, as start-up state and cached records
aged into the old generations, rescanned them: 18 % of a bulk completion's time (44 µs of
250, bench_depth's profile) and the tail of the server's reads (totals p99 62–300 ms against a
p50 of a few ms). What start-up built is moved out of its reach (``gc.freeze``) and the young
generation is collected less often.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 50, 100)


def settle() -> None:
    """Call once start-up is done: collect, freeze what survived, collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
