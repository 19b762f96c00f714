"""Structured LLM calls through instructor over the openai client: one analysis per article
(``Analyzer.analyze``), and ``Analyzer.complete`` for any other response model (briefings).

instructor shapes each request for its mode (TOOLS, JSON_SCHEMA, JSON), validates the answer
as the response model (with ``context`` for validators that need the prompt's data) and
re-asks the whole answer in the same conversation when it fails. Two retry budgets, kept
separate and small: the openai client's own ``max_retries`` (SIGNALS_LLM_HTTP_RETRIES) covers
429 with Retry-After and 5xx; instructor's ``max_retries`` (SIGNALS_LLM_MAX_RETRIES) counts
re-asks. Every request instructor makes goes through ``Analyzer._send``, which holds a pacing
slot and adapts the request and the answer to this server and model (what instructor does
not do: service.analysis.structured). instructor's hooks count what every completion cost,
so each failure leaves here as one of our LLM errors carrying ``extra["llm_usage"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Literal, TypeVar

import instructor
import openai
from instructor.core.hooks import Hooks
from instructor.utils import dump_message
from pydantic import BaseModel, ValidationError

from service.analysis import language
from service.analysis.analysis import Analysis, analyze_article
from service.analysis.connections import model_http_client
from service.analysis.failures import first_line, llm_error
from service.analysis.probe import (
    PROBE_MESSAGES,
    ServerInfo,
    probe_server,
    repetition_penalty,
)
from service.analysis.prompt import ArticleForPrompt
from service.analysis.schema import WireModel, wire_model
from service.analysis.structured import (
    LLMUsage,
    Parameters,
    Usage,
    as_jinja_literals,
    call_from_text,
    failed_fields,
    json_only,
    looks_like_reasoning_model,
)
from service.errors import LLMError, LLMInvalidOutput, LLMNotConfigured, LLMTruncated
from service.llm_settings import LLMMode
from service.settings import Settings

__all__ = ["Analysis", "Analyzer", "Completion", "usage_of"]

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 32_768
"""The context assumed when neither SIGNALS_LLM_CONTEXT_TOKENS nor the server says: every
current hosted model has at least this much."""
MAX_ADAPTATIONS = 3

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
    conversation: list[dict[str, Any]]
    """The messages as sent, ending with the answer: a follow-up question continues it."""


class SignalsProbe(WireModel):
    """The structured-output probe's answer."""

    probe: Literal["signals-probe-7k"]


class _Recorder:
    """What one instructor call did, from its hooks."""

    def __init__(self, usage: Usage) -> None:
        self.usage = usage
        self.first_sent: list[dict[str, Any]] | None = None
        self.last_sent: list[dict[str, Any]] = []
        self.last_response: Any = None

    def hooks(self) -> Hooks:
        hooks = Hooks()
        hooks.on("completion:kwargs", self._sent)
        hooks.on("completion:response", self._answered)
        hooks.on("parse:error", self._rejected)
        return hooks

    @property
    def turns(self) -> list[dict[str, Any]]:
        """The re-ask turns instructor appended after the first request's messages."""
        return self.last_sent[len(self.first_sent or []) :]

    def _sent(self, *_args: Any, **request: Any) -> None:
        sent = list(request.get("messages") or [])  # a copy: instructor extends its list in place
        if self.first_sent is None:
            self.first_sent = sent
        self.last_sent = sent

    def _answered(self, response: Any) -> None:
        self.usage.add(response)
        self.last_response = response

    def _rejected(self, error: Exception, **attempt: Any) -> None:
        # A re-ask that then succeeds leaves no other trace of what the model got wrong.
        problems = failed_fields(error, limit=3) if isinstance(error, ValidationError) else [str(error)]
        log.info(
            "answer %s of at most %s failed validation: %s",
            attempt.get("attempt_number"), attempt.get("max_attempts"), first_line("; ".join(problems)),
        )  # fmt: skip


@contextlib.asynccontextmanager
async def _no_pacing() -> AsyncIterator[None]:
    yield


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
        self._api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._openai = openai.AsyncOpenAI(
            base_url=settings.openai_base_url,
            api_key=self._api_key or "unset",
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_http_retries,
            http_client=model_http_client(),
        )
        self.pacing: Callable[[], AbstractAsyncContextManager[None]] = _no_pacing
        """Wraps every model request: the place for a shared backoff (issue 22)."""
        self.mode: LLMMode | None = None if settings.llm_mode is LLMMode.auto else settings.llm_mode
        self.server = ServerInfo("openai-compatible", None)
        self.params = Parameters()
        if looks_like_reasoning_model(self.model):
            self.params = Parameters(completion_tokens_name="max_completion_tokens", temperature=False)
        self.tool_choice_required = False
        """Learnt once per server: it ignores a named tool_choice, so TOOLS asks with "required"."""
        self._clients: dict[LLMMode, Any] = {}
        self._prepared = False
        self._prepare_lock = asyncio.Lock()

    @property
    def openai(self) -> openai.AsyncOpenAI:
        """The underlying client (embeddings use it too)."""
        return self._openai

    @property
    def context_tokens(self) -> int:
        """The context window prompts are fitted into."""
        return self.settings.llm_context_tokens or self.server.context_tokens or DEFAULT_CONTEXT_TOKENS

    async def aclose(self) -> None:
        await self._openai.close()

    async def prepare(self) -> None:
        """Learn the server once: its kind and context, and (SIGNALS_LLM_MODE=auto) whether it
        enforces a JSON schema. A server that cannot be reached is asked again next time."""
        if self._prepared:
            return
        async with self._prepare_lock:
            if self._prepared:
                return
            base = str(self.settings.openai_base_url)
            await asyncio.to_thread(language.preload)  # the card language check's model
            self.server = await probe_server(base, self.model, self._api_key)
            if not self.server.reachable:
                log.warning("the model server at %s did not answer; asking again at the next call", base)
                return
            if self.params.temperature:  # reasoning models take no sampling penalties either
                self.params.penalty = repetition_penalty(self.server.kind, self.settings.llm_repeat_penalty)
            if self.mode is None:
                self.mode = await self._probe_mode()
            if self.mode is None:
                return
            self._prepared = True
            log.info(
                "LLM %s on a %s server: mode %s, context %d tokens%s",
                self.model, self.server.kind, self.mode.value, self.context_tokens,
                " (reported by the server)" if self.server.context_tokens and not
                self.settings.llm_context_tokens else "",
            )  # fmt: skip

    async def prepare_within(self, seconds: float) -> None:
        """``prepare``, waiting at most ``seconds`` (start-up must not hang on a busy server)."""
        try:
            await asyncio.wait_for(self.prepare(), seconds)
        except TimeoutError:
            log.warning("the model server did not answer the start-up probe in %gs; asking later", seconds)

    def describe(self) -> tuple[str | None, int | None]:
        """The structured-output mode in use (None until decided) and the context prompts fit."""
        return (self.mode.value if self.mode else None), (self.context_tokens if self._prepared else None)

    async def _probe_mode(self) -> LLMMode | None:
        """json_schema when the server returns the one value ``SignalsProbe`` allows, else tools."""
        try:
            await self._call(
                LLMMode.json_schema, messages=PROBE_MESSAGES, response_model=SignalsProbe, context=None,
                max_tokens=32 if self.params.temperature else 1024,  # reasoning tokens count too
                temperature=0.0, usage=Usage(self.model), max_reasks=0,
            )  # fmt: skip
        except (LLMInvalidOutput, LLMTruncated):
            log.info("the model server answered outside a json_schema response format: using tools")
            return LLMMode.tools
        except LLMError as exc:
            if exc.reason == "http_400":
                log.info("the model server refused a json_schema response format: using tools")
                return LLMMode.tools
            log.warning(
                "could not ask the model server about structured output (%s); asking later", exc.detail
            )
            return None
        return LLMMode.json_schema

    def _instructor(self, mode: LLMMode) -> Any:
        """The instructor client of ``mode``, whose requests go through ``_send``."""
        if mode not in self._clients:
            chosen = _MODES[mode]

            async def send(**request: Any) -> Any:
                return await self._send(chosen, request)

            create = instructor.patch(create=send, mode=chosen)
            self._clients[mode] = instructor.AsyncInstructor(client=None, create=create, mode=chosen)
        return self._clients[mode]

    async def _send(self, mode: instructor.Mode, request: dict[str, Any]) -> Any:
        """One request as instructor shaped it, adapted to this server: a named tool_choice it
        ignores becomes "required"; json_schema says ``strict`` (instructor leaves it out, and
        OpenAI enforces a schema only with it; other servers ignore it). The answer is read
        leniently before instructor parses it: a tool call written as text becomes the call,
        JSON inside prose or a code fence becomes the whole content."""
        if mode is instructor.Mode.TOOLS and self.tool_choice_required:
            request["tool_choice"] = "required"
        if mode is instructor.Mode.JSON_SCHEMA:
            shape = request["response_format"]
            request["response_format"] = {**shape, "json_schema": {**shape["json_schema"], "strict": True}}
        response = await self._create(request)
        if mode is not instructor.Mode.TOOLS:
            json_only(response)
            return response
        written_as_text = call_from_text(response, request["tools"][0]["function"]["name"])
        if written_as_text and not self.tool_choice_required:
            log.info("the server ignored a named tool_choice; asking with tool_choice=required from now on")
            self.tool_choice_required = True
        return response

    async def _create(self, request: dict[str, Any]) -> Any:
        """One chat completion; a 400 about a parameter the model does not take (reasoning
        models: temperature, max_tokens) teaches ``params`` and the request goes again."""
        for _ in range(MAX_ADAPTATIONS + 1):
            try:
                async with self.pacing():
                    return await self._openai.chat.completions.create(**self.params.apply(request))
            except openai.BadRequestError as exc:
                if not self.params.adapt(str(exc)):
                    raise
                log.info("the model refused a parameter; adapted (%s)", first_line(str(exc)))
        raise LLMError("the model server kept refusing the request's parameters", reason="http_400")

    async def complete(
        self,
        *,
        messages: list[Any],
        response_model: type[ModelT],
        context: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.2,
        usage: Usage | None = None,
        max_reasks: int | None = None,
    ) -> Completion[ModelT]:
        """One structured call: the answer is validated as ``response_model`` with ``context``;
        an answer that fails is asked again in the same conversation, up to ``max_reasks``
        (default SIGNALS_LLM_MAX_RETRIES) times. Failures leave as our LLM errors, with
        ``extra["llm_usage"]``."""
        await self.prepare()
        return await self._call(
            self.mode or LLMMode.tools, messages=messages, response_model=response_model,
            context=context, max_tokens=max_tokens or self.settings.llm_max_output_tokens,
            temperature=temperature, usage=usage or Usage(self.model),
            max_reasks=self.settings.llm_max_retries if max_reasks is None else max_reasks,
        )  # fmt: skip

    async def _call(
        self,
        mode: LLMMode,
        *,
        messages: list[Any],
        response_model: type[ModelT],
        context: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        usage: Usage,
        max_reasks: int,
    ) -> Completion[ModelT]:
        recorder = _Recorder(usage)
        before = usage.attempts
        try:
            value, completion = await self._instructor(mode).create_with_completion(
                messages=as_jinja_literals(messages) if context else list(messages),
                response_model=wire_model(response_model),
                context=context or None,
                max_retries=max_reasks,
                strict=False,  # lax types: "12" is a sentence number too
                hooks=recorder.hooks(),
                model=self.model,
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except Exception as exc:
            error = llm_error(exc, recorder.last_response)
            error.extra["llm_usage"] = usage.snapshot()
            raise error from exc
        spent = usage.snapshot()
        answer: dict[str, Any] = dict(dump_message(completion.choices[0].message))
        return Completion(
            value=value,
            model=str(getattr(completion, "model", None) or self.model),
            input_tokens=spent.input_tokens,
            output_tokens=spent.output_tokens,
            latency_ms=spent.latency_ms,
            attempts=usage.attempts - before,
            conversation=[*messages, *recorder.turns, answer],
        )

    async def analyze(self, article: ArticleForPrompt, *, today: date) -> Analysis:
        """Analyse one article; raise an LLMError subclass (with ``extra["llm_usage"]``) on any
        failure."""
        await self.prepare()
        usage = Usage(self.model)
        try:
            return await analyze_article(self, article, today, usage)
        except LLMError as exc:
            exc.extra["llm_usage"] = usage.snapshot()
            raise


def usage_of(exc: BaseException) -> LLMUsage | None:
    """What the model calls behind a failure cost, when the failure came from here."""
    extra = getattr(exc, "extra", None)
    found = extra.get("llm_usage") if isinstance(extra, dict) else None
    return found if isinstance(found, LLMUsage) else None
