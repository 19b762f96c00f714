"""Administration: partners, their keys, topic restrictions and rate limits."""
