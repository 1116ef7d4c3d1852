"""The ledger application: the one ``eventsourcing`` application, put together from its
use cases (``ce_ledger.services``: records, verdicts, providers, programmes, units, inspections, filings).

Each use case is a small module on the shared ``Store`` (event store, cache, clock,
the chain's next link); a command in any of them is one get → decide → save.
"""

from __future__ import annotations

from ce_ledger.services.base import Store
from ce_ledger.services.filings import Filings
from ce_ledger.services.inspections import Inspections
from ce_ledger.services.programmes import Programmes
from ce_ledger.services.providers import ProviderDecision, Providers
from ce_ledger.services.records import Records, Registered
from ce_ledger.services.units import Units
from ce_ledger.services.verdicts import Verdicts


class Ledger(Records, Verdicts, Providers, Programmes, Units, Inspections, Filings, Store):
    """Records, verdicts, CE bases, programmes, the unit register, inspections and CE bases' filings on one event store (tables ``ledger_*``)."""


__all__ = ["Ledger", "ProviderDecision", "Registered"]
