"""Embeddings of signal cards from the configured OpenAI-compatible endpoint.

SIGNALS_EMBEDDING_BASE_URL, else the analysis server (OPENAI_BASE_URL), model
SIGNALS_EMBEDDING_MODEL, asked for SIGNALS_EMBEDDING_DIMENSIONS through the ``dimensions``
parameter. Every failure leaves
here as one of our errors. A server that ignores ``dimensions`` (many local ones do) is a
configuration error: it is logged once, clearly, and embeddings are switched off for the
process, so related coverage carries on from entities, topics and text instead of
retrying a request that can never succeed.

The HNSW index the vectors are searched by is made here too, for the configured size
(``ensure_embedding_index``, at start-up). A part the runtime holds, like the analysis
client: it sits below the features that use it (stories/, related/) and imports none.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

import openai

from service.analysis.connections import model_http_client
from service.db.connections import Connection, Executor, Pool
from service.db.queries import Query, queries
from service.errors import LLMError, LLMInvalidOutput, LLMRateLimited, LLMTimeout, LLMUnavailable
from service.settings import Settings

log = logging.getLogger(__name__)

MAX_DIMS = 2000  # the signal_embeddings.dims CHECK, and pgvector's HNSW limit


class EmbeddingsUnusable(LLMError):
    """The embeddings endpoint cannot serve this configuration (wrong model, key, size);
    retrying will not help until the configuration changes."""

    code = "embeddings_unusable"
    title = "The embeddings endpoint cannot serve the configured model"


class EmbeddingDimensionMismatch(EmbeddingsUnusable):
    code = "embedding_dimension_mismatch"
    title = "The embeddings endpoint returned vectors of another size"


class Embedder:
    """One AsyncOpenAI client for embeddings, held for the process."""

    def __init__(self, settings: Settings) -> None:
        if not settings.embedding_model or not settings.embeddings_url:
            raise ValueError("an Embedder needs SIGNALS_EMBEDDING_MODEL and an embeddings base URL")
        self.model: str = settings.embedding_model
        self.dimensions: int = settings.embedding_dimensions
        secret = settings.embedding_api_key if settings.embedding_base_url else settings.openai_api_key
        secret = secret or settings.openai_api_key
        api_key = secret.get_secret_value() if secret else "unset"
        self._openai = openai.AsyncOpenAI(
            base_url=settings.embeddings_url,
            api_key=api_key,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_http_retries,
            http_client=model_http_client(),
        )
        self.disabled_because: str | None = None
        """Set once the server proved unable to give vectors of the configured size."""

    async def aclose(self) -> None:
        await self._openai.close()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector of exactly ``dimensions`` floats per text, in order.

        Raises EmbeddingsUnusable (configuration: do not retry), or LLMUnavailable,
        LLMRateLimited, LLMTimeout (transient: retry later).
        """
        if self.disabled_because is not None:
            raise EmbeddingDimensionMismatch(self.disabled_because)
        try:
            response = await self._openai.embeddings.create(
                model=self.model, input=texts, dimensions=self.dimensions
            )
        except Exception as exc:
            raise _translate(exc) from exc
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        if len(vectors) != len(texts):
            raise LLMInvalidOutput(f"asked for {len(texts)} embeddings, the server returned {len(vectors)}")
        sizes = sorted({len(v) for v in vectors} - {self.dimensions})
        if sizes:
            self.disabled_because = (
                f"the embeddings server returned {sizes[0]}-dimensional vectors for model "
                f"{self.model!r}, but SIGNALS_EMBEDDING_DIMENSIONS is {self.dimensions}: the model "
                f"ignores the `dimensions` parameter. Set SIGNALS_EMBEDDING_DIMENSIONS={sizes[0]} "
                "(or choose a model that supports it) and restart. Until then related coverage and "
                "stories use entities, topics and text only."
            )
            log.error("%s", self.disabled_because)
            raise EmbeddingDimensionMismatch(self.disabled_because)
        return vectors


def _translate(exc: BaseException) -> LLMError:
    """Map openai exceptions to our errors; 4xx other than 429 are configuration problems."""
    if isinstance(exc, openai.RateLimitError):
        return LLMRateLimited("the embeddings server answered 429 Too Many Requests after retries")
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeout("the embeddings server did not answer within SIGNALS_LLM_TIMEOUT")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable(
            "the embeddings server could not be reached "
            "(check SIGNALS_EMBEDDING_BASE_URL, else OPENAI_BASE_URL)"
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return LLMUnavailable(f"the embeddings server failed with HTTP {status}", reason=f"http_{status}")
        hint = {
            401: " (check SIGNALS_EMBEDDING_API_KEY, else OPENAI_API_KEY)",
            403: " (check SIGNALS_EMBEDDING_API_KEY, else OPENAI_API_KEY)",
            404: " (check SIGNALS_EMBEDDING_MODEL)",
            400: " (check SIGNALS_EMBEDDING_MODEL and SIGNALS_EMBEDDING_DIMENSIONS)",
        }.get(status, "")
        return EmbeddingsUnusable(
            f"the embeddings server refused the request with HTTP {status}{hint}: {_message(exc)}",
            reason=f"http_{status}",
        )
    log.exception("unexpected embeddings client failure", exc_info=exc)
    return LLMError(f"the embeddings call failed: {type(exc).__name__}")


def _message(exc: openai.APIStatusError) -> str:
    body: Any = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
    return str(exc)[:300]


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, '[0.1,0.2,…]' (asyncpg has no codec for the type)."""
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


async def ensure_embedding_index(pool: Pool, dims: int) -> None:
    """Create, once, the HNSW index serving nearest-neighbour search at ``dims``.

    Idempotent and safe when several processes start at once (an advisory lock orders them).
    The first creation on a large table blocks writes to signal_embeddings while it builds.
    """
    async with pool.acquire() as conn, conn.transaction():
        await lock_embedding_index(conn)
        await create_embedding_index(conn, dims)


async def lock_embedding_index(conn: Connection) -> None:
    await queries.lock_embedding_index.fetchval(conn)


async def create_embedding_index(conn: Executor, dims: int) -> None:
    await conn.execute(sized(queries.create_embedding_index, dims).sql)


@functools.lru_cache(maxsize=32)
def sized(query: Query, dims: int) -> Query:
    """A template query with ``{dims}`` set. Only a validated int is ever formatted in: a
    typmod cannot be a bind parameter, and the index expression must match literally."""
    if type(dims) is not int or not 1 <= dims <= MAX_DIMS:
        raise ValueError(f"embedding dimensions must be an int in 1..{MAX_DIMS}, not {dims!r}")
    return dataclasses.replace(query, sql=query.sql.replace("{dims}", str(dims)))
