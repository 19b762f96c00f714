"""What kind of model server this is and how much context it gives, asked once at start-up.

Cheap GETs, each allowed to fail: llama.cpp's ``/props`` reports the context it was started
with (``n_ctx``), vLLM's ``/v1/models`` the model's ``max_model_len``, Ollama's ``/api/ps`` and
``/api/show`` the running model's context. A server that reports nothing gets
SIGNALS_LLM_CONTEXT_TOKENS' default. Whether the server enforces a JSON schema is a chat
request for ``PROBE_SCHEMA``, made by the Analyzer (service.analysis.client).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx

log = logging.getLogger(__name__)

ServerKind = Literal["llama.cpp", "vllm", "ollama", "openai-compatible"]
PROBE_TIMEOUT_SECONDS = 5.0

PROBE_SCHEMA_NAME = "SignalsProbe"
PROBE_VALUE = "signals-probe-7k"
PROBE_SCHEMA: dict[str, Any] = {
    "description": "The structured-output probe's answer.",
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": [PROBE_VALUE]}},
    "required": ["probe"],
    "additionalProperties": False,
}
"""A schema no model answers by chance: only a server that enforces it returns the value. The
Analyzer asks for it as ``SignalsProbe`` (service.analysis.client), whose wire schema this is;
spelt out here so the stub reads it without importing instructor."""
PROBE_MESSAGES = [{"role": "user", "content": "Reply with a JSON object."}]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    kind: ServerKind
    context_tokens: int | None
    reachable: bool = True
    """False when no probe got an HTTP answer at all (the server is down: ask again later)."""


def server_root(base_url: str) -> str:
    """``http://host:port/v1`` → ``http://host:port`` (where llama.cpp and Ollama answer)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


async def probe_server(base_url: str, model: str, api_key: str | None) -> ServerInfo:
    """Ask the server what it is and what context it has; never raises."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    root = server_root(base_url)
    answered: list[bool] = []
    async with httpx.AsyncClient(
        timeout=PROBE_TIMEOUT_SECONDS, headers=headers, follow_redirects=False
    ) as http:
        props = await _get_json(http, f"{root}/props", answered)
        if isinstance(props, dict) and ("default_generation_settings" in props or "n_ctx" in props):
            settings = props.get("default_generation_settings") or {}
            return ServerInfo("llama.cpp", _positive(settings.get("n_ctx") or props.get("n_ctx")))
        models = await _get_json(http, f"{base_url.rstrip('/')}/models", answered)
        for item in models.get("data", []) if isinstance(models, dict) else []:
            if isinstance(item, dict) and "max_model_len" in item and item.get("id") in (model, None):
                return ServerInfo("vllm", _positive(item.get("max_model_len")))
        version = await _get_json(http, f"{root}/api/version", answered)
        if isinstance(version, dict) and "version" in version:
            return ServerInfo("ollama", await _ollama_context(http, root, model))
    return ServerInfo("openai-compatible", None, reachable=any(answered))


async def _ollama_context(http: httpx.AsyncClient, root: str, model: str) -> int | None:
    running = await _get_json(http, f"{root}/api/ps", [])
    for item in running.get("models", []) if isinstance(running, dict) else []:
        if isinstance(item, dict) and item.get("name") in (model, f"{model}:latest"):
            found = _positive(item.get("context_length"))
            if found:
                return found
    try:
        response = await http.post(f"{root}/api/show", json={"model": model})
        shown = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return None
    for line in str(shown.get("parameters") or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx":
            return _positive(parts[1])
    return None


async def _get_json(http: httpx.AsyncClient, url: str, answered: list[bool]) -> Any:
    """The JSON a GET answers with status 200, else None; ``answered`` records whether any
    HTTP answer came back."""
    try:
        response = await http.get(url)
    except httpx.HTTPError:
        answered.append(False)
        return None
    answered.append(True)
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def repetition_penalty(kind: ServerKind, value: float) -> dict[str, float]:
    """The extra body field that carries a repetition penalty on this kind of server, if any
    (OpenAI's frequency_penalty grows with every repeated JSON quote and comma: not used)."""
    if value == 1.0:
        return {}
    if kind == "llama.cpp":
        return {"repeat_penalty": value}
    if kind == "vllm":
        return {"repetition_penalty": value}
    return {}
