"""API keys: creation, listing, revocation and request authentication."""
