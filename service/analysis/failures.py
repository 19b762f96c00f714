"""Failures of a structured call, translated at the boundary: instructor's and openai's
exceptions become our typed LLM errors (service.errors), so nothing above service.analysis
imports a third-party exception."""

from __future__ import annotations

import logging
from typing import Any

import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import ValidationError

from service.analysis.structured import answer_message, failed_fields
from service.errors import (
    LLMError,
    LLMInvalidOutput,
    LLMRateLimited,
    LLMTimeout,
    LLMTruncated,
    LLMUnavailable,
)

log = logging.getLogger(__name__)


def llm_error(exc: BaseException, last_response: Any) -> LLMError:
    """Our LLM error for ``exc``, raised by an instructor call whose last completion (if any)
    was ``last_response``: a refusal is told apart from an answer that failed validation."""
    cause: BaseException = exc
    if isinstance(exc, InstructorRetryException) and exc.__cause__ is not None:
        cause = exc.__cause__
    if isinstance(cause, LLMError):
        return cause
    if isinstance(cause, IncompleteOutputException):
        return LLMTruncated("the model stopped at the output token limit (SIGNALS_LLM_MAX_TOKENS)")
    if isinstance(cause, openai.APIError):
        return _translate_openai(cause)
    refusal = getattr(answer_message(last_response), "refusal", None)
    if refusal:
        return LLMInvalidOutput(f"the model refused: {first_line(str(refusal))}", reason="refused")
    if isinstance(exc, InstructorRetryException):
        failed = f"the model's answer failed validation after {exc.n_attempts} attempts: "
        if isinstance(cause, ValidationError) and any(e["type"] != "json_invalid" for e in cause.errors()):
            problems = failed_fields(cause)
            fields = [p.split(":", 1)[0] for p in problems]
            return LLMInvalidOutput(failed + "; ".join(problems), reason="schema", fields=fields)
        return LLMInvalidOutput(failed + first_line(str(cause)), reason="not_json", fields=[])
    log.exception("unexpected LLM client failure", exc_info=exc)
    return LLMError(f"the LLM call failed: {type(cause).__name__}")


def _translate_openai(exc: openai.APIError) -> LLMError:
    if isinstance(exc, openai.RateLimitError):
        retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
        detail = "the model server answered 429 Too Many Requests after retries"
        if retry_after:
            detail += f" (Retry-After: {retry_after})"
        return LLMRateLimited(detail)
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeout("the model server did not answer within SIGNALS_LLM_TIMEOUT")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable("the model server could not be reached (check OPENAI_BASE_URL)")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
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
        return LLMError(
            f"the model server rejected the request with HTTP {status}: {first_line(_error_message(exc))}",
            reason=f"http_{status}",
        )
    return LLMError(f"the LLM call failed: {type(exc).__name__}")


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(exc.message)


def first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]
