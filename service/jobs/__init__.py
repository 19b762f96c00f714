"""Durable jobs on pgqueuer: entrypoints call services, nothing else."""
