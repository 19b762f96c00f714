"""One error base. Each subclass carries its HTTP status and stable problem type.

Third-party exceptions are translated into these at the boundary where they arise
(fetcher, extractor, LLM client, database), so nothing above imports them.
A pipeline error that happens inside a job becomes the job's typed ``error``; the same
error raised in a request becomes an RFC 9457 problem.
"""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.problems import Problem

PROBLEM_BASE = "/problems/"


class SignalsError(Exception):
    """Base of every error the service raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, reason: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.reason = reason
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        # Pipeline errors cross process boundaries (the extraction pool): keep reason and extras.
        return (_rebuild_error, (type(self), self.detail, self.reason, self.extra))

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.code

    def to_problem(self, instance: str | None = None) -> Problem:
        return Problem(
            type=self.type_uri,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            code=self.code,
            reason=self.reason,
            **{k: v for k, v in self.extra.items() if k in {"errors", "missing", "retry_after", "job"}},
        )

    def headers(self) -> dict[str, str]:
        """Extra response headers that belong to this error (e.g. Retry-After)."""
        return {}


def _rebuild_error(
    cls: type[SignalsError], detail: str, reason: str | None, extra: dict[str, Any]
) -> SignalsError:
    return cls(detail, reason=reason, **extra)


# --- request errors ---------------------------------------------------------------------------


class BadRequest(SignalsError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class InvalidRequest(SignalsError):
    status = 422
    code = "invalid_request"
    title = "The request is well-formed but cannot be processed"


class Unauthorized(SignalsError):
    status = 401
    code = "unauthorized"
    title = "Missing or invalid API key"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="signals"'}


class Forbidden(SignalsError):
    status = 403
    code = "forbidden"
    title = "The API key lacks the scope this request needs"


class NotFound(SignalsError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(SignalsError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Conflict(SignalsError):
    status = 409
    code = "conflict"
    title = "Conflict"


class IdempotencyKeyReused(SignalsError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency-Key was already used with a different request"


class PayloadTooLarge(SignalsError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"


class UnsupportedMediaType(SignalsError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class RateLimited(SignalsError):
    """The key's token bucket is empty. ``retry_after``: whole seconds until a token is back."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def headers(self) -> dict[str, str]:
        retry_after = self.extra.get("retry_after")
        return {"Retry-After": str(retry_after)} if retry_after is not None else {}


class ServiceUnavailable(SignalsError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


class Contended(ServiceUnavailable):
    """PostgreSQL rolled a transaction back again and again to break deadlocks with concurrent
    writers (service.db.transactions). Nothing of it was written; trying again later works.
    ``retry_after``: whole seconds."""

    code = "contended"
    title = "Concurrent changes got in the way"

    def headers(self) -> dict[str, str]:
        retry_after = self.extra.get("retry_after")
        return {"Retry-After": str(retry_after)} if retry_after is not None else {}


class LLMNotConfigured(ServiceUnavailable):
    code = "llm_not_configured"
    title = "No language model is configured"


class AuthThrottled(RateLimited):
    """The client's address made too many failed authentications (service.keys.throttle).
    ``retry_after``: whole seconds until it may try an unknown key again."""

    code = "auth_throttled"
    title = "Too many failed authentications from this address"


class RequestTimeout(SignalsError):
    """The client did not send its request's headers or body in time (service.server)."""

    status = 408
    code = "request_timeout"
    title = "The request was not received in time"

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


class HeadersTooLarge(SignalsError):
    """The request line and headers together exceed what the server reads (service.server)."""

    status = 431
    code = "headers_too_large"
    title = "Request header fields too large"

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


# --- pipeline errors: a job fails with one of these ---------------------------------------------


class TopicsChanged(Conflict):
    """A topic a new signal was being linked to was merged away in the meantime."""

    code = "topics_changed"
    title = "A topic changed while the signal was stored"


class PipelineError(SignalsError):
    """A failure of one article's pipeline: recorded on the job, never a crash."""

    status = 422
    code = "pipeline_failed"
    title = "The article could not be analysed"


class FetchRefused(PipelineError):
    code = "fetch_refused"
    title = "The URL may not be fetched"


class FetchFailed(PipelineError):
    status = 502
    code = "fetch_failed"
    title = "The page could not be fetched"


class FetchTimeout(PipelineError):
    status = 504
    code = "fetch_timeout"
    title = "Fetching the page took too long"


class FetchTooLarge(PipelineError):
    code = "fetch_too_large"
    title = "The page is larger than the fetch limit"


class UnsupportedContent(PipelineError):
    code = "unsupported_content_type"
    title = "The page is not HTML or plain text"


class ExtractionFailed(PipelineError):
    """``reason``: too_short, paywall, not_article, empty, too_large, not_html, parser_error,
    extractor_crashed, unreadable."""

    code = "extraction_failed"
    # One title for every input kind (RFC 9457: a type's title does not vary): a page that was
    # fetched or sent as HTML, and text sent as it is; the detail says what was wrong.
    title = "The page or text is not an article that can be analysed"


class LLMError(PipelineError):
    status = 502
    code = "llm_error"
    title = "The language model failed"


class LLMUnavailable(LLMError):
    status = 503
    code = "llm_unavailable"
    title = "The language model server could not be reached or failed"


class LLMRateLimited(LLMError):
    status = 503
    code = "llm_rate_limited"
    title = "The language model server is rate limiting us"


class LLMTimeout(LLMError):
    status = 504
    code = "llm_timeout"
    title = "The language model did not answer in time"


class LLMTruncated(LLMError):
    code = "llm_truncated"
    title = "The language model's answer was cut off"


class LLMInvalidOutput(LLMError):
    code = "llm_invalid_output"
    title = "The language model's answer did not fit the signal schema"


class AnalysisUngrounded(LLMError):
    status = 422
    code = "analysis_ungrounded"
    title = "No key detail could be grounded in the article"


# --- sync, feeds and webhooks ------------------------------------------------------------------------


class WebhookUrlRefused(InvalidRequest):
    """A webhook URL the delivery client would refuse to connect to (``reason`` as the fetcher's:
    ``address_not_allowed``, ``scheme``, ``credentials``, ``invalid_url``, ``dns``)."""

    code = "webhook_url_refused"
    title = "Webhooks cannot be delivered to this URL"


class SecretKeyMissing(ServiceUnavailable):
    """No SIGNALS_SECRET_KEY while the database is not the embedded one."""

    code = "secret_key_missing"
    title = "No key to encrypt webhook secrets is configured"


class SecretKeyInvalid(ServiceUnavailable):
    """SIGNALS_SECRET_KEY is not a list of Fernet keys, or cannot open a stored secret."""

    code = "secret_key_invalid"
    title = "The key that encrypts webhook secrets is not usable"


# --- startup errors -------------------------------------------------------------------------------


class StartupError(SignalsError):
    """The service cannot start as configured; the detail says what to change."""

    status = 503
    code = "startup_failed"
    title = "The service cannot start"


def error_for_code(code: str, detail: str, reason: str | None = None) -> SignalsError:
    """Rebuild the error a job stored by its code (to answer a request with it)."""
    stack: list[type[SignalsError]] = [SignalsError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls(detail, reason=reason)
        stack.extend(cls.__subclasses__())
    return SignalsError(detail, reason=reason)
