"""Token-bucket rate limits per API key, shared by every API process through PostgreSQL."""
