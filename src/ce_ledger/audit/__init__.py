"""Audit proofs over the ledger: Merkle tree hashing and inclusion proofs (RFC 6962 / RFC 9162)."""
