"""The composition root: settings in, everything the ledger runs on out.

The HTTP API, the workbench, the command line, the projection worker and a rebuild's
helper processes all receive what ``build_services`` (or, for a tool that needs only
part of it, ``build_ledger``/``build_access``/``build_read_side``) built here; none of
them constructs a store, an application or a view itself.

Each store has its own settings: the ledger's event store, the token registry (its
own small application and table), and the totals view (on SQLite its own file, so a
rebuild never touches the ledger's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ce_ledger.config import Settings, persistence_env, secret_key

if TYPE_CHECKING:  # openpyxl costs a third of a second to import; only an import needs it
    from ce_ledger.imports.importer import Importer
    # Imported where used: a command that needs only the token registry (`ce-ledger tokens …`)
    # then never loads the ledger's application, its events and rules, nor the view's code.
    from ce_ledger.access import AccessRegistry
    from ce_ledger.application import Ledger
    from ce_ledger.audit.service import Audit
    from projections.queries import Totals
    from projections.runner import TotalsProjection
    from projections.view import TotalsView


@dataclass
class ReadSide:
    view: TotalsView
    projection: TotalsProjection
    totals: Totals

    def close(self) -> None:
        self.view.datastore.close()  # type: ignore[attr-defined]


@dataclass
class Services:
    """Everything, built once: what the API's lifespan and each CLI command hold."""

    settings: Settings
    ledger: Ledger
    audit: Audit
    access: AccessRegistry
    read: ReadSide | None = None

    @property
    def view(self) -> TotalsView:
        return self._read.view

    @property
    def projection(self) -> TotalsProjection:
        return self._read.projection

    @property
    def totals(self) -> Totals:
        return self._read.totals

    @property
    def _read(self) -> ReadSide:
        if self.read is None:
            raise RuntimeError("built without the read side (build_services(read_side=False))")
        return self.read

    def importer(self, *, by: str, unit: str | None = None, sole_writer: bool = False) -> Importer:
        """Spreadsheet imports through the same commands as the API; ``by`` confirms legacy rows;
        ``unit`` limits an employer's import to its own staff; ``sole_writer``: a command-line
        migration (``Importer``)."""
        from ce_ledger.imports.importer import Importer

        return Importer(self.ledger, by=by, unit=unit, sole_writer=sole_writer)

    def close(self) -> None:
        self.ledger.close()
        self.access.close()
        if self.read is not None:
            self.read.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sibling(settings: Settings, env: dict[str, str], suffix: str) -> dict[str, str]:
    """On SQLite, a store of its own in a file beside the ledger's."""
    path = settings.sqlite_path
    env["SQLITE_DBNAME"] = str(path.with_name(path.stem + suffix + path.suffix))
    return env


def build_ledger(settings: Settings | None = None, **overrides: Any) -> Ledger:
    from ce_ledger.application import Ledger

    settings = settings or Settings()
    return Ledger(persistence_env(settings), secret_key=secret_key(settings), timezone=settings.timezone, **overrides)


def build_access(settings: Settings) -> AccessRegistry:
    """The token registry: its own small application (PostgreSQL table ``access_events``)."""
    from ce_ledger.access import AccessRegistry

    env = persistence_env(settings)
    if settings.is_sqlite:
        _sibling(settings, env, ".access")
    else:
        env["POSTGRES_POOL_SIZE"] = str(min(2, settings.postgres_pool_size))
    return AccessRegistry(env)


def build_view(settings: Settings, *, create_tables: bool = True) -> TotalsView:
    env = persistence_env(settings)
    if not create_tables:
        env["CREATE_TABLE"] = "n"
    if settings.is_sqlite:
        from projections.view import SQLiteTotalsView

        _sibling(settings, env, ".views")  # rebuilding or deleting the view never touches the ledger
        view_class: type[TotalsView] = SQLiteTotalsView
    else:
        from projections.view_postgres import PostgresTotalsView  # psycopg: only on PostgreSQL

        env["POSTGRES_POOL_SIZE"] = str(min(4, settings.postgres_pool_size))
        view_class = PostgresTotalsView
    factory = InfrastructureFactory.construct(Environment("totals", env))
    view = factory.tracking_recorder(view_class)
    if not settings.is_sqlite:
        view.current_seconds = settings.view_current_seconds  # type: ignore[attr-defined]
    return view  # type: ignore[return-value]


def build_read_side(settings: Settings, ledger: Ledger, *, create_tables: bool = True) -> ReadSide:
    """The totals view, the projection that keeps it, and the queries it answers."""
    from ce_ledger.rules.published import PUBLISHED
    from projections.queries import Totals
    from projections.runner import TotalsProjection

    view = build_view(settings, create_tables=create_tables)
    projection = TotalsProjection(ledger, view, PUBLISHED.get(settings.view_rule_set), settings=settings)
    return ReadSide(view, projection, Totals(view))


def prepare_stores(settings: Settings) -> bool:
    """Create every table, the view's first version and (SQLite) the key file, once, before
    server processes start: started together, they would race to create them (the library's
    "create if not exists" is not atomic; on a new SQLite view file the loser failed its start,
    and uvicorn then stopped the worker already serving). True when the view must be rebuilt
    (another rule-set configured, or other view code): the server does not wait for that."""
    # One connection a pool to start with (pools grow on demand): this creates tables one after
    # another, and a server's eight a pool were fourteen connections opened and closed at each start.
    with build_services(settings.model_copy(update={"postgres_pool_size": 1}), rebuild_now=False) as services:
        return services.projection.needs_rebuild()


def build_services(
    settings: Settings | None = None, *, read_side: bool = True, rebuild_now: bool = True, **ledger_overrides: Any
) -> Services:
    """Everything, from settings. ``rebuild_now=False`` (a server): a view built by another rule-set
    keeps serving until a rebuild started beside it switches readers over."""
    from ce_ledger.audit.service import Audit
    from ce_ledger.storage import creating

    settings = settings or Settings()
    with creating(persistence_env(settings)):  # one creation lock for every store built here
        ledger = build_ledger(settings, **ledger_overrides)
        services = Services(settings, ledger, Audit(ledger), build_access(settings))
        read = services.read = build_read_side(settings, ledger) if read_side else None
        if read is not None:
            with read.view.exclusive():  # processes starting together: one builds, the others find it
                read.projection.ensure_current(rebuild_now=rebuild_now)
    if read is not None and settings.upkeep == "inline":
        # The read side subscribes to the ledger's saves: on SQLite, which has no
        # subscriptions, a write returns only once the view shows it.
        ledger.subscribe(read.projection.follow_save)
    return services
