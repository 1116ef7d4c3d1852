"""The service layer: one module per use case, all around one application (``base.Store``).

Each command is one visible get → decide → save: load the aggregate, let it decide
(it raises or triggers events; it never touches a clock or a store), save what it
triggered in one transaction. ``ce_ledger.application.Ledger`` puts them together.
"""
