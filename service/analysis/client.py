"""Structured LLM calls through instructor over the openai client: one per article
(``Analyzer.analyze``), and ``Analyzer.complete`` for any other response model (briefings).

Two retry budgets, kept separate and small: the openai client's own ``max_retries``
(SIGNALS_LLM_HTTP_RETRIES) covers 429 with Retry-After and 5xx; instructor's
``max_retries`` (SIGNALS_LLM_MAX_RETRIES) re-asks when the answer fails validation,
ungrounded evidence included. Every failure leaves here as one of our LLM errors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from instructor.core.hooks import Hooks
from pydantic import BaseModel

from service.analysis.grounding import is_grounded, normalize_text
from service.analysis.model import SignalDraft
from service.analysis.prompt import PROMPT_VERSION, ArticleForPrompt, build_messages
from service.errors import (
    AnalysisUngrounded,
    LLMError,
    LLMInvalidOutput,
    LLMNotConfigured,
    LLMRateLimited,
    LLMTimeout,
    LLMTruncated,
    LLMUnavailable,
)
from service.settings import LLMMode, Settings

log = logging.getLogger(__name__)

_MODES = {
    LLMMode.tools: instructor.Mode.TOOLS,
    LLMMode.json_schema: instructor.Mode.JSON_SCHEMA,
    LLMMode.json: instructor.Mode.JSON,
}


ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Completion(Generic[ModelT]):
    """A validated answer of one structured call and what it cost (re-asks included)."""

    value: ModelT
    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Analysis:
    """A validated draft, with ungrounded key details already removed, and its provenance."""

    draft: SignalDraft
    grounding_checked: int
    grounding_grounded: int
    model: str
    prompt_version: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    attempts: int


class Analyzer:
    """Holds one AsyncOpenAI client (and its connection pool) for the process."""

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_configured:
            raise LLMNotConfigured(
                "set " + " and ".join(settings.llm_missing()) + " to enable analysis",
                missing=settings.llm_missing(),
            )
        self.settings = settings
        self.model = str(settings.llm_model)
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unset"
        self._openai = openai.AsyncOpenAI(
            base_url=settings.openai_base_url,
            api_key=api_key,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_http_retries,
        )
        self._client = instructor.from_openai(self._openai, mode=_MODES[settings.llm_mode])

    @property
    def openai(self) -> openai.AsyncOpenAI:
        """The underlying client (embeddings use it too)."""
        return self._openai

    async def aclose(self) -> None:
        await self._openai.close()

    async def complete(
        self,
        *,
        messages: list[Any],
        response_model: type[ModelT],
        context: dict[str, Any],
        max_tokens: int | None = None,
        temperature: float = 0.2,
    ) -> Completion[ModelT]:
        """One structured call: instructor validates ``response_model`` with ``context`` and re-asks
        up to SIGNALS_LLM_MAX_RETRIES times; every failure leaves as one of our LLM errors.

        ``context`` gains ``attempts`` (completions so far, counted as they arrive, so a validator
        can tell the last attempt) and ``max_reasks``; provenance counts the tokens of every attempt.
        """
        context.setdefault("max_reasks", self.settings.llm_max_retries)
        context["attempts"] = 0
        hooks = Hooks()
        spent = {"prompt": 0, "completion": 0, "reported": True}

        def count_attempt(response: Any = None, *_args: Any, **_kwargs: Any) -> None:
            # One completion per attempt; re-asks included in the token count.
            context["attempts"] += 1
            usage = getattr(response, "usage", None)
            if usage is None or usage.prompt_tokens is None:
                spent["reported"] = False
            else:
                spent["prompt"] += int(usage.prompt_tokens)
                spent["completion"] += int(usage.completion_tokens or 0)

        hooks.on("completion:response", count_attempt)
        started = time.perf_counter()
        try:
            value, completion = await self._client.chat.completions.create_with_completion(
                model=self.model,
                messages=messages,
                response_model=response_model,
                max_retries=self.settings.llm_max_retries,
                max_tokens=max_tokens or self.settings.llm_max_output_tokens,
                temperature=temperature,
                context=context,
                hooks=hooks,
            )
        except Exception as exc:
            raise _translate(exc) from exc
        return Completion(
            value=value,
            model=getattr(completion, "model", None) or self.model,
            input_tokens=int(spent["prompt"]) if spent["reported"] else None,
            output_tokens=int(spent["completion"]) if spent["reported"] else None,
            latency_ms=round((time.perf_counter() - started) * 1000),
            attempts=max(1, int(context["attempts"])),
        )

    async def analyze(self, article: ArticleForPrompt, *, today: date) -> Analysis:
        """Analyse one article; raise an LLMError subclass on any failure."""
        messages = build_messages(article, today=today, max_chars=self.settings.llm_max_article_chars)
        normalized = normalize_text(article.text)
        result = await self.complete(
            messages=messages,
            response_model=SignalDraft,
            # The grounding validator accepts on the last attempt (see model.py).
            context={"normalized_article": normalized},
        )
        draft = result.value
        grounded = [d for d in draft.key_details if is_grounded(d.evidence, normalized)]
        checked = len(draft.key_details)
        if not grounded:
            raise AnalysisUngrounded(
                f"none of the {checked} key details quoted the article verbatim "
                f"after {result.attempts} attempts",
            )
        if len(grounded) < checked:
            log.info("dropped %d ungrounded key details", checked - len(grounded))
        return Analysis(
            draft=draft.model_copy(update={"key_details": grounded}),
            grounding_checked=checked,
            grounding_grounded=len(grounded),
            model=result.model,
            prompt_version=PROMPT_VERSION,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            latency_ms=result.latency_ms,
            attempts=result.attempts,
        )


def _translate(exc: BaseException) -> LLMError:
    """Map openai / instructor exceptions to our typed LLM errors."""
    cause: BaseException = exc
    if isinstance(exc, InstructorRetryException) and exc.__cause__ is not None:
        cause = exc.__cause__
    if isinstance(cause, IncompleteOutputException) or isinstance(exc, IncompleteOutputException):
        return LLMTruncated("the model stopped at the output token limit (SIGNALS_LLM_MAX_TOKENS)")
    if isinstance(cause, openai.RateLimitError):
        retry_after = cause.response.headers.get("retry-after") if cause.response is not None else None
        detail = "the model server answered 429 Too Many Requests after retries"
        if retry_after:
            detail += f" (Retry-After: {retry_after})"
        return LLMRateLimited(detail)
    if isinstance(cause, openai.APITimeoutError):
        return LLMTimeout("the model server did not answer within SIGNALS_LLM_TIMEOUT")
    if isinstance(cause, openai.APIConnectionError):
        return LLMUnavailable("the model server could not be reached (check OPENAI_BASE_URL)")
    if isinstance(cause, openai.APIStatusError):
        status = cause.status_code
        if status >= 500:
            return LLMUnavailable(f"the model server failed with HTTP {status}", reason=f"http_{status}")
        if status in (401, 403):
            return LLMError(
                f"the model server refused our credentials (HTTP {status}; check OPENAI_API_KEY)",
                reason=f"http_{status}",
            )
        if status == 404:
            return LLMError(
                "the model server does not know this model (check SIGNALS_LLM_MODEL)", reason="http_404"
            )
        return LLMError(f"the model server rejected the request with HTTP {status}", reason=f"http_{status}")
    if isinstance(exc, InstructorRetryException):
        return LLMInvalidOutput(
            f"the model's answer failed validation after {exc.n_attempts} attempts: "
            + _first_line(str(cause))
        )
    log.exception("unexpected LLM client failure", exc_info=exc)
    return LLMError(f"the LLM call failed: {type(cause).__name__}")


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]
