"""The read side: views kept current from the ledger's event log."""
