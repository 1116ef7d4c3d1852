"""The workbench's pages, one module per job: sign in, find and register people, a person's record,
the claims queue, verdicts and replays, a unit's staff, the unit register, imports, CE bases and programmes, the
assessment form. Sync handlers (the ledger blocks) unless a page waits on something else."""

from api.workbench.pages import (  # noqa: F401  (each module adds its pages to the router)
    forms, imports, inspections, people, providers, queue, records, signin, unit, units, verdicts,
)
from api.workbench.pages.common import router
from api.workbench.pages.forms import form_response
from api.workbench.pages.signin import site

__all__ = ["form_response", "router", "site"]
