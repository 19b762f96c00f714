"""How the stub behaves as a server (StubBehaviour), and what that changes in its answers."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import msgspec

from service.llmstub.generate import ChatRequest, prompt_tokens


class StubBehaviour(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """How the stub behaves as a server, for every request until changed or reset."""

    json_schema: Literal["enforced", "rejected", "ignored"] = "enforced"
    """rejected: a json_schema response_format is a 400; ignored: answered as plain chat."""
    named_tool_choice: bool = True
    """False: a named tool_choice is ignored and the 'model' writes the call as text
    (tool_choice="required" still gets a tool call), as llama.cpp does with some templates."""
    reasoning: bool = False
    """True: refuse max_tokens and a temperature other than 1, as OpenAI's reasoning models do."""
    context_tokens: int | None = None
    """Set: serve llama.cpp's GET /props with this n_ctx and refuse a request whose prompt and
    answer budget do not fit, as llama.cpp does."""

    def __post_init__(self) -> None:
        if self.context_tokens is not None and not 256 <= self.context_tokens <= 10_000_000:
            raise ValueError("context_tokens must be between 256 and 10000000")


def refusal(chat: ChatRequest, behaviour: StubBehaviour) -> tuple[str | None, str] | None:
    """The 400 (code, message) a real server of this behaviour answers before generating."""
    if behaviour.reasoning and chat.max_tokens is not None:
        return (
            "unsupported_parameter",
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
        )
    if behaviour.reasoning and chat.temperature is not None and chat.temperature != 1:
        return (
            "unsupported_value",
            f"Unsupported value: 'temperature' does not support {chat.temperature:g} with this model. "
            "Only the default (1) value is supported.",
        )
    wants_schema = (chat.response_format or {}).get("type") == "json_schema"
    if wants_schema and behaviour.json_schema == "rejected":
        return None, "response_format type 'json_schema' is not supported by this server"
    return None


def too_long(chat: ChatRequest, behaviour: StubBehaviour) -> bool:
    """True when the prompt and the answer budget exceed llama.cpp's context (a response_format
    schema becomes a grammar there, not prompt tokens)."""
    if behaviour.context_tokens is None:
        return False
    budget = chat.max_completion_tokens or chat.max_tokens or 0
    without_format = msgspec.structs.replace(chat, response_format=None)
    return prompt_tokens(without_format) + budget > behaviour.context_tokens


def choice_kind(choice: str | dict[str, Any] | None) -> str | None:
    return "named" if isinstance(choice, dict) else choice


def digest(message: dict[str, Any]) -> str:
    """A short hash of one message, so tests can see that a follow-up resends the same prefix."""
    return hashlib.sha256(msgspec.json.encode(message)).hexdigest()[:12]


def call_written_as_text(body: dict[str, Any], text: str) -> None:
    """The answer as a model writes a tool call when the server did not force one."""
    choice = body["choices"][0]
    choice["message"] = {"role": "assistant", "content": text, "refusal": None}
    choice["finish_reason"] = "stop"
