"""Importing records from spreadsheets (CSV and Excel): an adapter at the ledger's edge."""
