"""The composition root: settings wired to the ledger, the totals view and its upkeep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ce_ledger.application import Ledger
from ce_ledger.audit.service import Audit
from ce_ledger.bootstrap import build_ledger
from ce_ledger.config import Settings
from projections.bootstrap import build_projection, build_view
from projections.queries import Totals
from projections.runner import TotalsProjection
from projections.view import TotalsView


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    view: TotalsView
    projection: TotalsProjection
    totals: Totals
    audit: Audit

    def close(self) -> None:
        self.ledger.close()
        self.view.datastore.close()  # type: ignore[attr-defined]

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_access(settings: Settings):
    """The token registry: its own small application (PostgreSQL table ``access_events``;
    on SQLite its own file beside the ledger)."""
    from ce_ledger.config import persistence_env
    from api.access import AccessRegistry

    env = persistence_env(settings)
    if settings.is_sqlite:
        path = settings.sqlite_path
        env["SQLITE_DBNAME"] = str(path.with_name(path.stem + ".access" + path.suffix))
    else:
        env["POSTGRES_POOL_SIZE"] = "2"
    return AccessRegistry(env)


def build_services(settings: Settings | None = None, **ledger_overrides: Any) -> Services:
    settings = settings or Settings()
    ledger = build_ledger(settings, **ledger_overrides)
    view = build_view(settings)
    projection = build_projection(ledger, view, settings)
    projection.ensure_current()
    if settings.upkeep == "inline":
        ledger.on_saved(lambda position: projection.catch_up())
    return Services(settings, ledger, view, projection, Totals(view), Audit(ledger))
