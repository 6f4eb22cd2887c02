"""Sync engine: plan and apply, state store, mapping, hashing."""
