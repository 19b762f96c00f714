"""Topics: counts and trends over time, one topic and its timeline, merging synonyms."""
