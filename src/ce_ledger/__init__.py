"""ce-ledger: an event-sourced ledger of continuing-education credits.

The domain (``ce_ledger.domain``) and the rule-sets (``ce_ledger.rules``) know no I/O;
``ce_ledger.application`` is the service layer that owns transactions.
"""
