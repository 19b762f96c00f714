"""Pure functions behind the development LLM stub: what a request asks for, and the answer.

Nothing here does I/O. A chat request is read into a ``ChatAsk`` (which of instructor's
request shapes it is, which schema it wants, where the article is); the answer object comes
from a generator registered for that schema name, or from the JSON schema itself, and is then
fitted to the schema so a changed field limit never makes the stub invalid.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from service.analysis.prompt import ARTICLE_PATTERN
from service.digests.prompt import SIGNALS_PATTERN
from service.llmstub.article_reading import STOPWORDS
from service.llmstub.digest_draft import draft_from_prompt, plan_from_prompt
from service.llmstub.schema_fill import fit_to_schema, minimal_instance, resolve
from service.llmstub.signal_draft import STUB_LABEL, draft_from_article, replacement_details
from service.llmstub.translate import translation

Shape = Literal["tools", "json_schema", "json_object", "json_prompt", "text"]

STUB_MODEL = "signals-stub"
DEFAULT_DIMENSIONS = 384
MAX_SCHEMA_SCAN_CHARS = 1_000_000
MAX_SCHEMA_SCAN_ATTEMPTS = 200


class ChatRequest(msgspec.Struct, kw_only=True):
    """The part of an OpenAI chat-completion request the stub reads; other fields are ignored."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    """llama.cpp's repetition penalty (an extra body field the openai client passes through)."""
    repetition_penalty: float | None = None
    """vLLM's repetition penalty."""
    stream: bool = False


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    """An OpenAI embeddings request; ``input`` is checked by ``embedding_inputs``."""

    model: str
    input: str | list[Any]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ChatAsk:
    """What one chat-completion request wants back."""

    shape: Shape
    schema_name: str | None
    schema: dict[str, Any] | None
    fenced: bool
    """MD_JSON asks for the JSON inside a ```json block."""
    article: str | None
    prompt: str
    """The last user message: what a generator falls back on when no article is marked."""
    user_texts: tuple[str, ...] = ()
    """Every user message, oldest first (a re-ask appends the error after the input)."""
    conversation: tuple[str, ...] = ()
    """Every message's text (tool results included), oldest first."""


@dataclass(frozen=True, slots=True)
class GenerationContext:
    """What a content-aware generator gets."""

    schema_name: str | None
    schema: Mapping[str, Any]
    article: str | None
    prompt: str
    user_texts: tuple[str, ...] = ()
    """Every user message, oldest first."""
    conversation: tuple[str, ...] = ()
    """Every message's text (tool results included), oldest first."""


Generator = Callable[[GenerationContext], Any]
_GENERATORS: dict[str, Generator] = {}


def register_generator(schema_name: str, generator: Generator) -> None:
    """Make ``generator`` answer requests for ``schema_name`` (the tool or schema name).

    Its result is still fitted to the request's schema, so it only has to get content right.
    """
    _GENERATORS[schema_name] = generator


def cites_sentences(schema: Mapping[str, Any]) -> bool:
    """True when the schema's key details carry sentence numbers (the current contract)."""
    root = resolve(schema, schema)
    details = resolve((root.get("properties") or {}).get("key_details") or {}, schema)
    item = resolve(details.get("items") or {}, schema)
    return "sentences" in (item.get("properties") or {})


def _signal_draft(context: GenerationContext) -> Any:
    draft = draft_from_article(context.article or context.prompt)
    if not cites_sentences(context.schema):
        for detail in draft["key_details"]:
            detail.pop("sentences", None)  # the contract before prompt 2026-12-07.1: quotes
    else:
        for detail in draft["key_details"]:
            detail.pop("evidence", None)
    return draft


register_generator("SignalDraft", _signal_draft)
register_generator("KeyDetailsFix", lambda ctx: replacement_details(ctx.article, ctx.conversation))
register_generator("CardTranslation", lambda ctx: translation(ctx.schema, ctx.conversation))
register_generator("DigestPlan", lambda context: plan_from_prompt(list(context.user_texts)))
register_generator("DigestDraft", lambda context: draft_from_prompt(list(context.user_texts)))


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message whose content is a string or a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def find_article(messages: list[dict[str, Any]]) -> str | None:
    """The article between the boundary markers of the latest user message that has one.

    A re-ask appends the validation error as a later user (or tool) message, so the
    article is looked for from the end rather than in the last message only.
    """
    for message in reversed(messages):
        if message.get("role") == "user":
            match = ARTICLE_PATTERN.search(message_text(message))
            if match:
                return match.group("text")
    return None


def find_schema_in_text(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` that looks like a JSON schema (Mode.JSON / MD_JSON)."""
    decoder = json.JSONDecoder()
    text = text[:MAX_SCHEMA_SCAN_CHARS]
    index = text.find("{")
    # Each failed attempt may read to the end of the text; a cap keeps prose full of braces cheap.
    for _attempt in range(MAX_SCHEMA_SCAN_ATTEMPTS):
        if index < 0:
            break
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict) and ("properties" in value or "$defs" in value):
            return value
        index = text.find("{", end)
    return None


def read_ask(request: ChatRequest, *, honour_json_schema: bool = True) -> ChatAsk:
    """Classify a chat request into one of the shapes the analysis client (and instructor)
    sends. ``honour_json_schema`` False: a server that ignores ``response_format`` json_schema."""
    messages = request.messages
    article = find_article(messages)
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    conversation = tuple(message_text(m) for m in messages)
    prompt = users[-1] if users else ""
    tools = request.tools or []
    if tools and request.tool_choice != "none":
        function = _chosen_function(tools, request.tool_choice)
        return ChatAsk(
            "tools",
            str(function.get("name") or "tool"),
            dict(function.get("parameters") or {}),
            False,
            article,
            prompt,
            tuple(users),
            conversation,
        )
    response_format = request.response_format or {}
    if response_format.get("type") == "json_schema" and honour_json_schema:
        spec = response_format.get("json_schema") or {}
        schema = dict(spec.get("schema") or {})
        name = spec.get("name") or schema.get("title")
        return ChatAsk("json_schema", name, schema, False, article, prompt, tuple(users), conversation)
    schema_found = None
    # The latest schema wins: a follow-up question asks for its own answer in its own message.
    for role in ("system", "developer", "user"):
        for message in reversed(messages):
            if message.get("role") == role and schema_found is None:
                # The article is data: a JSON object inside it must not pick the schema.
                text = ARTICLE_PATTERN.sub("", message_text(message))
                text = SIGNALS_PATTERN.sub("", text)  # briefing input is data too
                schema_found = find_schema_in_text(text)
    shape: Shape = "json_object" if response_format.get("type") == "json_object" else "text"
    if schema_found is not None and shape == "text":
        shape = "json_prompt"
    fenced = shape == "json_prompt" and any("```json" in message_text(m) for m in messages)
    name = schema_found.get("title") if schema_found else None
    return ChatAsk(shape, name, schema_found, fenced, article, prompt, tuple(users), conversation)


def _chosen_function(tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any]:
    functions = [t.get("function") or t for t in tools]
    if isinstance(tool_choice, Mapping):
        wanted = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        for function in functions:
            if function.get("name") == wanted:
                return dict(function)
    return dict(functions[0])


def answer_value(ask: ChatAsk) -> Any:
    """The schema-valid object (or plain text) the stub answers ``ask`` with."""
    if ask.schema is None:
        if ask.shape == "json_object":
            return {"content": f"{STUB_LABEL} No schema was given; this is stub output."}
        source = (ask.article or ask.prompt).split()
        return f"{STUB_LABEL} Stub reply to a message of {len(source)} words (stub output)."
    generator = _GENERATORS.get(ask.schema_name or "")
    context = GenerationContext(
        ask.schema_name, ask.schema, ask.article, ask.prompt, ask.user_texts, ask.conversation
    )
    value = generator(context) if generator else minimal_instance(ask.schema)
    return fit_to_schema(value, ask.schema)


def render_answer(ask: ChatAsk, value: Any) -> str:
    """The text the model 'writes': JSON for schema requests, fenced when asked for."""
    if isinstance(value, str) and ask.schema is None and ask.shape == "text":
        return value
    text = json.dumps(value, ensure_ascii=False)
    return f"```json\n{text}\n```" if ask.fenced else text


def estimate_tokens(text: str) -> int:
    """About four characters a token, as for English text with OpenAI's tokenizers."""
    return max(1, math.ceil(len(text) / 4))


def prompt_tokens(request: ChatRequest) -> int:
    """Estimated prompt tokens: message texts plus tool and format definitions."""
    total = sum(estimate_tokens(message_text(m)) + 4 for m in request.messages)
    if request.tools:
        total += estimate_tokens(json.dumps(request.tools))
    if request.response_format:
        total += estimate_tokens(json.dumps(request.response_format))
    return total


def chat_completion_body(
    *,
    completion_id: str,
    created: int,
    model: str,
    ask: ChatAsk,
    text: str,
    finish_reason: str,
    usage_prompt: int,
    usage_completion: int,
) -> dict[str, Any]:
    """A chat.completion object carrying ``text`` as tool arguments or message content."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if ask.shape == "tools":
        call_id = "call_" + hashlib.sha256(completion_id.encode()).hexdigest()[:24]
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": ask.schema_name, "arguments": text},
            }
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_signals_stub",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {
            "prompt_tokens": usage_prompt,
            "completion_tokens": usage_completion,
            "total_tokens": usage_prompt + usage_completion,
        },
    }


# --- embeddings -----------------------------------------------------------------------------

_EMBED_WORD = re.compile(r"[^\W_]+")


def embedding_inputs(request: EmbeddingRequest) -> list[str]:
    """The request's texts; raise ValueError for token arrays, empty strings or no input."""
    items = [request.input] if isinstance(request.input, str) else request.input
    if not items:
        raise ValueError("'input' must not be empty")
    if not all(isinstance(item, str) for item in items):
        raise ValueError("token arrays are not supported by the stub; send strings as 'input'")
    if any(item == "" for item in items):
        raise ValueError("'input' must not contain empty strings")
    if len(items) > 2048:
        raise ValueError("'input' may hold at most 2048 strings")
    return [str(item) for item in items]


def embed_text(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A deterministic, L2-normalised feature-hashed bag of word unigrams and bigrams.

    Stopwords are left out when anything else remains, so two unrelated texts do not look
    alike just because both use 'the' and 'of'.
    """
    words = _EMBED_WORD.findall(text.casefold())
    content = [w for w in words if w not in STOPWORDS] or words
    features = content + [f"{a} {b}" for a, b in itertools.pairwise(content)]
    vector = [0.0] * dimensions
    if not features:
        # No words at all (punctuation only): still a stable unit vector, one per text.
        features = [text]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        # A hashed sign makes colliding features cancel out on average instead of piling up.
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    return [v / norm for v in vector]


def encode_embedding(vector: list[float], encoding_format: str) -> list[float] | str:
    """Floats, or base64 of little-endian float32 (what the openai client asks for by default)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def embeddings_body(request: EmbeddingRequest, texts: list[str], dimensions: int) -> dict[str, Any]:
    """A list of embedding objects with usage, in the order of ``texts``."""
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": encode_embedding(embed_text(text, dimensions), request.encoding_format),
        }
        for index, text in enumerate(texts)
    ]
    tokens = sum(estimate_tokens(text) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
