"""What instructor does not do for us, kept small and used around it (service.analysis.client):

- reading a tool call a model wrote as text: a server that ignores a named ``tool_choice``
  (llama.cpp with some chat templates) lets the model answer in prose, and instructor's TOOLS
  parser reads only ``tool_calls``;
- JSON with a code fence, a ``<think>`` block or prose around it, in the JSON modes, where
  instructor's parsers take the message content as it is;
- a model's parameters, learnt from its refusals (reasoning models take no temperature and
  ``max_completion_tokens``), and a repetition penalty for servers that take one;
- a follow-up that continues a finished conversation with another response model (instructor
  re-asks only for the model it was given);
- message text that instructor's ``context=`` would render as a Jinja template;
- what the calls of one piece of work cost (fed by instructor's hooks), and a validation
  error's failing fields, named for the model and for the job.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from instructor.utils import extract_json_from_codeblock
from openai.types.chat.chat_completion_message_function_tool_call import (
    ChatCompletionMessageFunctionToolCall,
    Function,
)
from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """What a job's model calls cost, whether or not they made a signal."""

    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    attempts: int


@dataclass(slots=True)
class Usage:
    """Counts every completion of one piece of work (re-asks and replacement asks included)."""

    model: str
    started: float = field(default_factory=time.perf_counter)
    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = True
    attempts: int = 0

    def add(self, response: Any) -> None:
        self.attempts += 1
        usage = getattr(response, "usage", None)
        if usage is None or getattr(usage, "prompt_tokens", None) is None:
            self.reported = False
            return
        self.input_tokens += int(usage.prompt_tokens)
        self.output_tokens += int(usage.completion_tokens or 0)

    def snapshot(self) -> LLMUsage:
        # No answer arrived (429s, timeouts): what the server spent, if anything, is unknown.
        known = self.reported and self.attempts > 0
        return LLMUsage(
            model=self.model,
            input_tokens=self.input_tokens if known else None,
            output_tokens=self.output_tokens if known else None,
            latency_ms=round((time.perf_counter() - self.started) * 1000),
            attempts=self.attempts,
        )


def answer_message(response: Any) -> Any:
    """The assistant message of a chat completion (None when it has none)."""
    choices = getattr(response, "choices", None) or []
    return getattr(choices[0], "message", None) if choices else None


def call_from_text(response: Any, name: str) -> bool:
    """Turn a TOOLS answer that holds text instead of a tool call into the call instructor
    reads: the text's JSON object becomes the call to ``name`` (in place). True when it did."""
    message = answer_message(response)
    if message is None or message.tool_calls or not (message.content or "").strip():
        return False
    arguments = extract_json_from_codeblock(message.content)
    message.tool_calls = [
        ChatCompletionMessageFunctionToolCall(
            id=f"call_{uuid.uuid4().hex[:24]}",
            type="function",
            function=Function(name=name, arguments=arguments),
        )
    ]
    message.content = None
    return True


def json_only(response: Any) -> None:
    """Leave only the JSON of an answer whose content is not JSON as it stands (a code fence, a
    ``<think>`` block or prose around it): instructor's JSON parsers take the content as is."""
    message = answer_message(response)
    text = getattr(message, "content", None)
    if not text:
        return
    try:
        json.loads(text)
    except ValueError:
        message.content = extract_json_from_codeblock(text)


_RAW_END = re.compile(r"\{%-?\s*endraw\s*-?%\}")


def as_jinja_literals(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with each text wrapped so that Jinja renders it back unchanged. instructor
    renders every message as a Jinja template whenever ``context=`` is given (for validators),
    and page text is no template: ``{{ x }}`` in it would vanish, ``{%`` fail to parse. (It
    also dedents the rendered text; our prompts' lines start at column 0, so that is a no-op.)"""
    wrapped = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            inner = _RAW_END.sub(lambda m: "{% endraw %}{{ " + repr(m.group()) + " }}{% raw %}", content)
            message = {**message, "content": "{% raw %}" + inner + "{% endraw %}"}
        wrapped.append(message)
    return wrapped


def failed_fields(error: ValidationError, limit: int = 8) -> list[str]:
    """``key_details.2.text: String should have at least 8 characters``, one per failure."""
    lines = []
    for item in error.errors()[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "(answer)"
        lines.append(f"{where}: {item['msg']}")
    return lines


def follow_up(conversation: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``conversation`` (ending with the assistant's answer) plus ``text`` as the reply: a tool
    result for each tool call the answer made, else a user message."""
    last = conversation[-1] if conversation else {}
    calls = last.get("tool_calls") or []
    if calls:
        return [*conversation, *({"role": "tool", "tool_call_id": c["id"], "content": text} for c in calls)]
    return [*conversation, {"role": "user", "content": text}]


_REASONING_MODEL = re.compile(r"^(?:.*/)?(?:o\d[\w.-]*|gpt-5[\w.-]*)$", re.IGNORECASE)


def looks_like_reasoning_model(model: str) -> bool:
    """OpenAI's o-series and gpt-5 family: no temperature, ``max_completion_tokens``."""
    return bool(_REASONING_MODEL.match(model.strip()))


@dataclass(slots=True)
class Parameters:
    """Sampling parameters this server and model accept, learnt from its refusals."""

    completion_tokens_name: str = "max_tokens"
    temperature: bool = True
    penalty: dict[str, float] = field(default_factory=dict)
    """Extra body fields for a repetition penalty (llama.cpp ``repeat_penalty``, vLLM
    ``repetition_penalty``); empty where the server takes none."""

    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        """``request`` (as instructor sends it: ``max_tokens``, ``temperature``) as this model
        takes it."""
        out = dict(request)
        limit = out.pop("max_tokens", None)
        if limit is not None:
            out[self.completion_tokens_name] = limit
        if not self.temperature:
            out.pop("temperature", None)
        if self.penalty:
            out["extra_body"] = {**(out.get("extra_body") or {}), **self.penalty}
        return out

    def adapt(self, message: str) -> bool:
        """Learn from a 400's message; True when the request is worth sending again."""
        text = message.lower()
        if (
            "max_tokens" in text
            and "max_completion_tokens" in text
            and self.completion_tokens_name == "max_tokens"
        ):
            self.completion_tokens_name = "max_completion_tokens"
            return True
        if "temperature" in text and ("unsupported" in text or "not support" in text) and self.temperature:
            self.temperature = False
            return True
        if self.penalty and any(name in text for name in self.penalty):
            self.penalty = {}
            return True
        return False
