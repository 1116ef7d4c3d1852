"""The audit: hash chains verified, verdicts replayed, checkpoints recorded and proven."""
