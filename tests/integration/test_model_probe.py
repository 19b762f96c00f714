"""What kind of server answers and what context it reports: llama.cpp (the stub plays it),
and vLLM and Ollama as small fakes of their documented endpoints on loopback sockets."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from service.analysis.probe import probe_server, repetition_penalty
from tests.support.servers import running_asgi

Json = dict[str, Any]


def fake_server(routes: dict[tuple[str, str], Json]) -> Callable[..., Awaitable[None]]:
    """An ASGI app answering the given (method, path) with JSON, anything else 404."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        body = routes.get((scope["method"], scope["path"]))
        status = 200 if body is not None else 404
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(body or {}).encode()})

    return app


async def test_llama_cpp_reports_the_context_it_was_started_with(stub: SimpleNamespace):
    stub.state.reset()
    assert (await probe_server(f"{stub.base}/v1", "m", "k")).kind == "openai-compatible"
    stub.state.set_behaviour({"context_tokens": 8192})
    info = await probe_server(f"{stub.base}/v1", "m", "k")
    assert (info.kind, info.context_tokens, info.reachable) == ("llama.cpp", 8192, True)
    stub.state.reset()


async def test_vllm_reports_max_model_len_for_the_model():
    models = {"object": "list", "data": [{"id": "qwen", "object": "model", "max_model_len": 32768}]}
    with running_asgi(fake_server({("GET", "/v1/models"): models})) as base:
        info = await probe_server(f"{base}/v1", "qwen", None)
    assert (info.kind, info.context_tokens) == ("vllm", 32768)


@pytest.mark.parametrize(
    ("routes", "context"),
    [
        ({("GET", "/api/ps"): {"models": [{"name": "llama3:latest", "context_length": 4096}]}}, 4096),
        (
            {("POST", "/api/show"): {"parameters": 'num_ctx                        6144\nstop "<|eot|>"'}},
            6144,
        ),
        ({}, None),
    ],
)
async def test_ollama_reports_the_running_models_context(
    routes: dict[tuple[str, str], Json], context: int | None
):
    routes = {("GET", "/api/version"): {"version": "0.12.3"}, **routes}
    with running_asgi(fake_server(routes)) as base:
        info = await probe_server(f"{base}/v1", "llama3", None)
    assert (info.kind, info.context_tokens) == ("ollama", context)


async def test_a_server_that_does_not_answer_is_unreachable_not_a_kind():
    info = await probe_server("http://127.0.0.1:9/v1", "m", None)
    assert not info.reachable and info.context_tokens is None


def test_only_servers_that_take_a_repetition_penalty_get_one():
    assert repetition_penalty("llama.cpp", 1.1) == {"repeat_penalty": 1.1}
    assert repetition_penalty("vllm", 1.1) == {"repetition_penalty": 1.1}
    assert repetition_penalty("openai-compatible", 1.1) == repetition_penalty("llama.cpp", 1.0) == {}
