"""Rule-sets: frozen, versioned, pure functions from a record to a verdict."""
