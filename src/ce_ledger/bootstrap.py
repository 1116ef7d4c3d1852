"""The write side's composition root: settings in, a configured ledger out."""

from __future__ import annotations

from ce_ledger.application import Ledger
from ce_ledger.config import Settings, persistence_env, secret_key


def build_ledger(settings: Settings | None = None, **overrides) -> Ledger:
    settings = settings or Settings()
    return Ledger(
        persistence_env(settings),
        secret_key=secret_key(settings),
        timezone=settings.timezone,
        **overrides,
    )
