"""`signals llm-stub`: an OpenAI-compatible development and test LLM over real HTTP.

It answers the request shapes of the analysis client and of instructor (tools, with a named
or "required" tool_choice; response_format json_schema; plain JSON) with schema-valid, clearly
labelled stub output built from the article (key details cite the prompt's numbered
sentences), serves deterministic embeddings, and plays scripted faults (POST /_stub/faults)
so failure handling can be tested with the real openai client. POST /_stub/behaviour makes
it behave like another server until reset: no json_schema, a named tool_choice ignored, a
reasoning model's parameter refusals, llama.cpp's /props and context limit. It never reads
or logs the Authorization header.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from service.analysis.probe import PROBE_SCHEMA_NAME
from service.listening import bound_url, listen, serve_on
from service.llmstub.behaviour import call_written_as_text, choice_kind, digest, refusal, too_long
from service.llmstub.errors import (
    StubError,
    decode_body,
    on_http_error,
    on_stub_error,
    on_unexpected_error,
)
from service.llmstub.faults import Fault, StubState, faulty_answer, normal_answer
from service.llmstub.generate import (
    DEFAULT_DIMENSIONS,
    STUB_MODEL,
    ChatRequest,
    EmbeddingRequest,
    answer_value,
    chat_completion_body,
    embedding_inputs,
    embeddings_body,
    estimate_tokens,
    prompt_tokens,
    read_ask,
)

log = logging.getLogger("service.llmstub")

MODEL_CREATED = 1_767_225_600  # 2026-01-01: a fixed date keeps /v1/models deterministic
MAX_DIMENSIONS = 8192


def _fault_error(fault: Fault) -> StubError:
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        seconds = fault.retry_after
        headers["retry-after"] = str(int(seconds)) if seconds == int(seconds) else str(seconds)
    messages = {
        429: "Rate limit reached for signals-stub (scripted fault).",
        500: "The server had an error while processing your request (scripted fault).",
        503: "The engine is currently overloaded, please try again later (scripted fault).",
    }
    message = messages.get(fault.status, f"Scripted fault: HTTP {fault.status}.")
    return StubError(fault.status, message, headers=headers)


async def _wait_unless_disconnected(request: Request[Any, Any, Any], seconds: float) -> bool:
    """Sleep ``seconds``; return True early if the client hung up (e.g. its timeout fired).

    Without this a delay fault would keep the server busy, and its shutdown waiting, after
    the test that asked for it has already moved on.
    """

    async def disconnected() -> None:
        # Once the body is read, the server's receive() only returns when the client leaves.
        message = await request.receive()
        while message["type"] != "http.disconnect":
            message = await request.receive()

    watcher = asyncio.ensure_future(disconnected())
    sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
    done, pending = await asyncio.wait({watcher, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return watcher in done


@post("/v1/chat/completions", status_code=200)
async def chat_completions(
    request: Request[Any, Any, Any], stub: NamedDependency[StubState]
) -> Response[Any]:
    """Answer a chat completion, applying the next scripted fault if one is queued (never to
    the analysis client's structured-output probe: faults are scripted for the work itself)."""
    started = time.perf_counter()
    summary: dict[str, Any] = {"model": None, "shape": None, "schema": None, "messages": 0, "fault": None}
    fault: Fault | None = None
    try:
        raw = await request.body()
        summary["probe"] = _is_probe(raw)
        fault = None if summary["probe"] else stub.next_fault()
        summary["fault"] = fault.kind if fault else None
        chat = decode_body(raw, ChatRequest)
        summary.update(model=chat.model, messages=len(chat.messages))
        if not chat.messages:
            raise StubError(400, "'messages' must contain at least one message")
        if chat.stream:
            raise StubError(400, "stream=true is not supported by the stub", code="unsupported")
        behaviour = stub.behaviour
        refused = refusal(chat, behaviour)
        if refused is not None:
            raise StubError(400, refused[1], code=refused[0])
        ask = read_ask(chat, honour_json_schema=behaviour.json_schema == "enforced")
        summary.update(
            shape=ask.shape,
            schema=ask.schema_name,
            tool_choice=choice_kind(chat.tool_choice) if chat.tools else None,
            temperature=chat.temperature,
            token_limit="max_completion_tokens" if chat.max_completion_tokens is not None else "max_tokens",
            repeat_penalty=chat.repeat_penalty or chat.repetition_penalty,
            message_hashes=[digest(m) for m in chat.messages],
        )
        if too_long(chat, behaviour):
            raise StubError(
                400, "the request exceeds the available context size, try increasing it",
                code="exceed_context_size_error",
            )  # fmt: skip
        if fault is not None and fault.kind == "status":
            raise _fault_error(fault)
        if (
            fault is not None
            and fault.kind == "delay"
            and await _wait_unless_disconnected(request, fault.seconds)
        ):
            summary["status"] = 499  # nginx's "client closed request": nobody is listening
            return Response(content=b"", status_code=499)
        value = answer_value(ask)
        answer = faulty_answer(ask, value, fault) if fault else normal_answer(ask, value)
        usage_prompt = prompt_tokens(chat)
        limit = chat.max_completion_tokens or chat.max_tokens
        usage_completion = estimate_tokens(answer.text)
        if answer.finish_reason == "length" and limit:
            usage_completion = limit  # a cut-off answer used up its whole token budget
        summary.update(status=200, prompt_tokens=usage_prompt, completion_tokens=usage_completion)
        body = chat_completion_body(
            completion_id=f"chatcmpl-stub{uuid.uuid4().hex[:24]}",
            created=int(time.time()),
            model=chat.model,
            ask=ask,
            text=answer.text,
            finish_reason=answer.finish_reason,
            usage_prompt=usage_prompt,
            usage_completion=usage_completion,
        )
        if ask.shape == "tools" and not behaviour.named_tool_choice and isinstance(chat.tool_choice, dict):
            call_written_as_text(body, answer.text)
        return Response(content=body, status_code=200)
    except StubError as exc:
        summary["status"] = exc.status
        raise
    finally:
        stub.record_chat(summary, probe=bool(summary.pop("probe", False)))
        log.info(
            "chat.completions model=%s shape=%s schema=%s messages=%d fault=%s status=%s "
            "prompt_tokens=%s completion_tokens=%s ms=%d",
            summary["model"], summary["shape"], summary["schema"], summary["messages"],
            summary["fault"], summary.get("status"), summary.get("prompt_tokens"),
            summary.get("completion_tokens"), (time.perf_counter() - started) * 1000,
        )  # fmt: skip


@get("/props")
async def props(stub: NamedDependency[StubState]) -> Response[Any]:
    """llama.cpp's server properties, when the stub plays llama.cpp (a context is set)."""
    context = stub.behaviour.context_tokens
    if context is None:
        raise StubError(404, "Unknown request URL: GET /props.")
    return Response(
        content={"default_generation_settings": {"n_ctx": context}, "total_slots": 1},
        status_code=200,
    )


@post("/_stub/behaviour", status_code=200)
async def set_behaviour(request: Request[Any, Any, Any], stub: NamedDependency[StubState]) -> Any:
    """Change how the stub behaves (the fields given); answers the behaviour now."""
    changes = decode_body(await request.body(), dict[str, Any])
    try:
        behaviour = stub.set_behaviour(changes)
    except (msgspec.ValidationError, ValueError) as exc:
        raise StubError(400, f"invalid behaviour: {exc}") from exc
    log.info("stub.behaviour %s", msgspec.json.encode(behaviour).decode())
    return msgspec.to_builtins(behaviour)


@get("/_stub/behaviour")
async def get_behaviour(stub: NamedDependency[StubState]) -> Any:
    """How the stub behaves now."""
    return msgspec.to_builtins(stub.behaviour)


class _ProbeRequest(msgspec.Struct):
    response_format: dict[str, Any] | None = None


def _is_probe(body: bytes) -> bool:
    try:
        shape = msgspec.json.decode(body, type=_ProbeRequest).response_format or {}
    except msgspec.DecodeError:
        return False
    spec = shape.get("json_schema")
    return isinstance(spec, dict) and spec.get("name") == PROBE_SCHEMA_NAME


@post("/v1/embeddings", status_code=200)
async def embeddings(request: Request[Any, Any, Any], stub: NamedDependency[StubState]) -> Response[Any]:
    """Deterministic feature-hashed embeddings, as floats or base64 float32."""
    summary: dict[str, Any] = {"model": None, "inputs": 0, "status": 200}
    try:
        embed = decode_body(await request.body(), EmbeddingRequest)
        summary["model"] = embed.model
        try:
            texts = embedding_inputs(embed)
        except ValueError as exc:
            raise StubError(400, str(exc)) from exc
        dimensions = embed.dimensions or DEFAULT_DIMENSIONS
        if not 1 <= dimensions <= MAX_DIMENSIONS:
            raise StubError(400, f"'dimensions' must be between 1 and {MAX_DIMENSIONS}")
        summary.update(inputs=len(texts), dimensions=dimensions)
        body = embeddings_body(embed, texts, dimensions)
        summary["prompt_tokens"] = body["usage"]["prompt_tokens"]
        return Response(content=body, status_code=200)
    except StubError as exc:
        summary["status"] = exc.status
        raise
    finally:
        stub.record_embeddings(summary)
        log.info(
            "embeddings model=%s inputs=%d dimensions=%s status=%s prompt_tokens=%s",
            summary["model"], summary["inputs"], summary.get("dimensions"),
            summary["status"], summary.get("prompt_tokens"),
        )  # fmt: skip


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "signals"}


@get("/v1/models")
async def list_models() -> dict[str, Any]:
    """The stub's one advertised model (requests may name any model)."""
    log.info("models.list")
    return {"object": "list", "data": [_model_object(STUB_MODEL)]}


@get("/v1/models/{model_id:path}")
async def retrieve_model(model_id: FromPath[str]) -> dict[str, Any]:
    """Any model name exists: the stub answers for all of them."""
    log.info("models.retrieve model=%s", model_id.lstrip("/"))
    return _model_object(model_id.lstrip("/"))


@post("/_stub/faults", status_code=200)
async def push_faults(request: Request[Any, Any, Any], stub: NamedDependency[StubState]) -> dict[str, Any]:
    """Queue a JSON list of faults; each later chat completion consumes one, in order."""
    faults = decode_body(await request.body(), list[Fault])
    pending = stub.push_faults(faults)
    log.info("stub.faults queued=%d pending=%d", len(faults), pending)
    return {"queued": len(faults), "pending": pending}


@get("/_stub/faults")
async def list_faults(stub: NamedDependency[StubState]) -> dict[str, Any]:
    """The faults not yet consumed, next first."""
    return {"pending": msgspec.to_builtins(stub.pending_faults())}


@delete("/_stub/faults", status_code=200)
async def clear_faults(stub: NamedDependency[StubState]) -> dict[str, Any]:
    """Drop every pending fault."""
    cleared = stub.clear_faults()
    log.info("stub.faults cleared=%d", cleared)
    return {"cleared": cleared}


@get("/_stub/stats")
async def stats(stub: NamedDependency[StubState]) -> dict[str, Any]:
    """Request counters and the latest request summaries."""
    return stub.stats()


@post("/_stub/reset", status_code=200)
async def reset(stub: NamedDependency[StubState]) -> dict[str, Any]:
    """Zero the counters and drop pending faults."""
    stub.reset()
    log.info("stub.reset")
    return {"reset": True}


def create_stub_app(state: StubState | None = None) -> Litestar:
    """The stub as an ASGI app; pass a StubState to script faults and read counters in-process."""
    stub_state = state or StubState()

    def provide_state() -> StubState:
        return stub_state

    return Litestar(
        route_handlers=[
            chat_completions,
            embeddings,
            props,
            set_behaviour,
            get_behaviour,
            list_models,
            retrieve_model,
            push_faults,
            list_faults,
            clear_faults,
            stats,
            reset,
        ],
        dependencies={"stub": Provide(provide_state, sync_to_thread=False)},
        exception_handlers={
            StubError: on_stub_error,
            HTTPException: on_http_error,
            Exception: on_unexpected_error,
        },
        openapi_config=None,
        # Logging belongs to the host (the CLI, or pytest): do not reconfigure the root logger.
        logging_config=None,
    )


def run_stub(host: str, port: int) -> bool:
    """Serve the stub with uvicorn until interrupted; False if it could not start.

    The port is bound first (a port in use raises ``ListenFailed`` before anything is
    announced); the "LLM stub on …" line follows once it accepts connections. Logging is
    the caller's (the CLI: one format, one request line each with -v).
    """
    sock = listen(host, port)
    base = bound_url(sock, "/v1")

    def announce() -> None:
        logging.getLogger("signals").info(
            "LLM stub on %s: set OPENAI_BASE_URL=%s and SIGNALS_LLM_MODEL=%s", base, base, STUB_MODEL
        )

    # Our own one-line request log replaces uvicorn's access log.
    config = uvicorn.Config(create_stub_app(), log_config=None, access_log=False)
    return serve_on(sock, config, announce)
