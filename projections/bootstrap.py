"""The read side's composition: settings in, a view, its projection and its queries out."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ce_ledger.application import Ledger
from ce_ledger.config import Settings, persistence_env
from ce_ledger.rules.published import PUBLISHED
from projections.runner import TotalsProjection
from projections.view import PostgresTotalsView, SQLiteTotalsView, TotalsView


def build_view(settings: Settings, *, create_tables: bool = True) -> TotalsView:
    env = persistence_env(settings)
    if not create_tables:
        env["CREATE_TABLE"] = "n"
    if settings.is_sqlite:
        # Its own file: rebuilding or deleting the view never touches the ledger's file.
        path = settings.sqlite_path
        env["SQLITE_DBNAME"] = str(path.with_name(path.stem + ".views" + path.suffix))
        view_class: type[TotalsView] = SQLiteTotalsView
    else:
        env["POSTGRES_POOL_SIZE"] = "4"
        view_class = PostgresTotalsView
    factory = InfrastructureFactory.construct(Environment("totals", env))
    return factory.tracking_recorder(view_class)  # type: ignore[arg-type]


def build_projection(ledger: Ledger, view: TotalsView, settings: Settings) -> TotalsProjection:
    projection = TotalsProjection(ledger, view, PUBLISHED.get(settings.view_rule_set))
    projection.settings = settings
    return projection
