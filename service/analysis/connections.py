"""The HTTP connection pool of the model clients (chat and embeddings).

openai's client keeps idle connections 5 s, the same as uvicorn's and many servers' own
keep-alive timeout: a request sent just as the server closes the connection fails with a
connection error, which with SIGNALS_LLM_HTTP_RETRIES=0 fails the attempt. Idle connections
are dropped after 2 s instead, before a server with a common timeout closes them first.
"""

from __future__ import annotations

import httpx2
import openai

KEEPALIVE_SECONDS = 2.0


def model_http_client() -> openai.DefaultAsyncHttpxClient:
    """openai's own client, with its limits, keeping idle connections KEEPALIVE_SECONDS."""
    limits = httpx2.Limits(
        max_connections=1000, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_SECONDS
    )
    return openai.DefaultAsyncHttpxClient(limits=limits)
