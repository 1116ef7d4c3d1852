"""The edge: the command line and (later) HTTP. Composes the ledger and its views."""
