"""The language-model part of Settings: which OpenAI-compatible servers analysis and
embeddings call, and how.

``service.settings.Settings`` inherits these fields (still one flat object, read from the
environment once); they live in a module of their own because they change together when
the model does, and the rest of the configuration reads more easily without them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator


class LLMMode(StrEnum):
    """How the model is asked for structured output (instructor's modes: service.analysis.client)."""

    auto = "auto"
    """json_schema where the server enforces a schema (a probe at start-up), else tools."""
    tools = "tools"
    json_schema = "json_schema"
    json = "json"


class LLMSettings(BaseModel):
    """The model's fields of Settings (never built alone: Settings reads them)."""

    # --- LLM -------------------------------------------------------------------------------
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    """Any OpenAI-compatible server: OpenAI, vLLM, Ollama, llama.cpp, or `signals llm-stub`."""

    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    """Key for that server (local servers accept any non-empty value)."""

    llm_model: str | None = Field(default=None, validation_alias=AliasChoices("SIGNALS_LLM_MODEL"))
    """Model name sent with every analysis call."""

    llm_mode: LLMMode = Field(default=LLMMode.auto, validation_alias=AliasChoices("SIGNALS_LLM_MODE"))
    """auto, tools, json_schema or json. auto asks the server once at start-up whether it
    enforces a JSON schema (llama.cpp, vLLM, Ollama, OpenAI do) and uses json_schema if so,
    tools otherwise; /readyz shows the choice."""

    llm_max_retries: int = Field(
        default=2, ge=0, le=5, validation_alias=AliasChoices("SIGNALS_LLM_MAX_RETRIES")
    )
    """Re-asks per analysis: after an answer that fails validation (the whole answer again, in
    the same conversation), or for replacement key details when fewer than three cite usable
    sentences (only those details)."""

    llm_http_retries: int = Field(
        default=2, ge=0, le=5, validation_alias=AliasChoices("SIGNALS_LLM_HTTP_RETRIES")
    )
    """Transport-level retries for 429 (Retry-After honoured) and 5xx, per call."""

    llm_max_concurrency: int = Field(
        default=32, ge=1, le=1024, validation_alias=AliasChoices("SIGNALS_LLM_MAX_CONCURRENCY")
    )
    """Model requests one process keeps in flight at most (service.analysis.pacing): they are
    I/O, so a worker holds as many as the endpoint allows whatever its cores. After a 429 the
    process pauses as the server asks and halves this, growing back one answer at a time."""

    llm_timeout_seconds: float = Field(
        default=120.0, gt=0, le=900, validation_alias=AliasChoices("SIGNALS_LLM_TIMEOUT")
    )
    """Deadline for one LLM HTTP request."""

    llm_max_output_tokens: int = Field(
        default=4096, ge=256, validation_alias=AliasChoices("SIGNALS_LLM_MAX_TOKENS")
    )
    """Most tokens one answer may take (sent as max_tokens, or max_completion_tokens to
    reasoning models, whose reasoning counts too); at most half the context is used. An answer
    cut at this length fails as llm_truncated."""

    llm_max_article_chars: int = Field(
        default=60_000, ge=2_000, validation_alias=AliasChoices("SIGNALS_LLM_MAX_ARTICLE_CHARS")
    )
    """Article text beyond this many characters is cut (at a paragraph) before it is sent."""

    llm_context_tokens: int | None = Field(
        default=None, ge=1024, le=10_000_000, validation_alias=AliasChoices("SIGNALS_LLM_CONTEXT_TOKENS")
    )
    """The model's context window in tokens: the prompt plus the answer budget must fit, and
    the article is cut at a paragraph to make it. Unset: what the server reports (llama.cpp,
    vLLM, Ollama), else 32768."""

    llm_repeat_penalty: float = Field(
        default=1.1, ge=1.0, le=2.0, validation_alias=AliasChoices("SIGNALS_LLM_REPEAT_PENALTY")
    )
    """Repetition penalty sent to servers that take one (llama.cpp repeat_penalty, vLLM
    repetition_penalty): keeps a small model from looping one sentence. 1.0: none."""

    embedding_model: str | None = Field(
        default=None, validation_alias=AliasChoices("SIGNALS_EMBEDDING_MODEL")
    )
    """Embeddings model (related coverage and stories); unset: no embeddings."""

    embedding_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SIGNALS_EMBEDDING_BASE_URL")
    )
    """OpenAI-compatible server for embeddings when it is not the chat model's (llama.cpp serves
    one model per process); unset: OPENAI_BASE_URL."""

    embedding_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SIGNALS_EMBEDDING_API_KEY")
    )
    """Key for SIGNALS_EMBEDDING_BASE_URL; unset: OPENAI_API_KEY."""

    embedding_dimensions: int = Field(
        default=384, ge=8, le=2000, validation_alias=AliasChoices("SIGNALS_EMBEDDING_DIMENSIONS")
    )
    """Dimensions asked of the embeddings endpoint (its ``dimensions`` parameter) and indexed."""

    @field_validator("openai_base_url", "llm_model", "embedding_model", "embedding_base_url", mode="before")
    @classmethod
    def _blank_model_field_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def embeddings_url(self) -> str | None:
        """Where embeddings are asked for: SIGNALS_EMBEDDING_BASE_URL, else OPENAI_BASE_URL."""
        return self.embedding_base_url or self.openai_base_url

    @property
    def llm_configured(self) -> bool:
        """True when an analysis can be requested from a model."""
        return bool(self.openai_base_url and self.llm_model)

    def llm_missing(self) -> list[str]:
        """Names of the variables that must be set before analysis can run."""
        missing = []
        if not self.openai_base_url:
            missing.append("OPENAI_BASE_URL")
        if not self.llm_model:
            missing.append("SIGNALS_LLM_MODEL")
        return missing
