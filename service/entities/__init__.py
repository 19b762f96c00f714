"""Entities: a searchable directory with counts, and one entity with its co-occurrences."""
