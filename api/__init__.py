"""The edge: the HTTP API, the workbench and the command line. They receive what
``ce_ledger.bootstrap`` built and construct nothing themselves."""
