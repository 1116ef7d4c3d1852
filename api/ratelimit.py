"""Limits per token on the expensive requests (a PDF form, issuing a verdict, a replay, an
inclusion proof, a lookup by ID number): 429 with Retry-After past the limit.

The `limits` library's moving window, kept in this server process's memory: with
`serve --workers N` each process counts on its own, so a token gets up to N times the limit
(a shared count would need a shared store, such as Redis, which this deployment has not).
The limits are settings (`CE_LEDGER_RATE_FORMS`, … in `limits`' notation, e.g. "6/minute").
"""

from __future__ import annotations

import time

from fastapi import HTTPException
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ce_ledger.access import Principal
from ce_ledger.config import Settings


class RateLimits:
    def __init__(self, settings: Settings):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates = {
            "forms": parse(settings.rate_forms),
            "verdicts": parse(settings.rate_verdicts),
            "replays": parse(settings.rate_replays),
            "proofs": parse(settings.rate_proofs),
            "lookups": parse(settings.rate_lookups),
            "filings": parse(settings.rate_filings),
        }

    def hit(self, kind: str, who: Principal) -> None:
        """Count one request of ``kind`` by ``who``'s token; past the limit, a 429 saying when to retry."""
        self.hit_key(kind, who.actor)

    def hit_key(self, kind: str, key: str) -> None:
        """Count one request of ``kind`` by ``key`` (a token's actor; for the public form check, the
        client's address)."""
        rate = self._rates[kind]
        if self._limiter.hit(rate, kind, key):
            return
        reset = self._limiter.get_window_stats(rate, kind, key).reset_time
        retry = max(1, int(reset - time.time()) + 1)
        raise HTTPException(
            429, f"too many {kind} requests: at most {rate} per token; try again in {retry} s",
            headers={"Retry-After": str(retry)},
        )
