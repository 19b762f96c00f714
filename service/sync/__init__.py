"""Incremental sync: GET /v1/sync/signals, every change since a cursor, exactly once."""
