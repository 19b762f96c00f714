"""Scripted failures for the LLM stub, how the stub behaves as a server, and its counters.

Tests queue faults (in-process or over HTTP); each chat-completion request takes the next
one, so a test can say "the first call gets a 429, the second answers" and watch the real
client handle it. Output faults make the stub answer like a weak model (quotes instead of
sentence numbers, an ellipsis of single words, a quote starting mid-word, every detail on one
sentence, odd entity types, a looping analysis, prose in the article's language instead of
English). A ``StubBehaviour`` makes it behave like
another kind of server for every request (no json_schema, a named tool_choice ignored, a
reasoning model's parameter refusals, llama.cpp's context limit). The counters let tests
prove how many model calls a feature made; the structured-output probe is counted apart.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from service.analysis.prompt import SENTENCE_LINE
from service.llmstub.behaviour import StubBehaviour
from service.llmstub.generate import ChatAsk, render_answer
from service.llmstub.schema_fill import resolve

FaultKind = Literal[
    "status",
    "delay",
    "truncate",
    "invalid_schema",
    "ungrounded",
    "ungrounded_one",
    "malformed_json",
    "invented_ids",
    "quotes",
    "lead_in_quotes",
    "ellipsis_quotes",
    "neighbour_quotes",
    "same_sentences",
    "unsupported_detail",
    "odd_entity_types",
    "looping",
    "wrong_language",
]
QUOTE_FAULTS = frozenset({"quotes", "lead_in_quotes", "ellipsis_quotes", "neighbour_quotes"})

MAX_DELAY_SECONDS = 300.0
RECENT_REQUESTS = 50


class Fault(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One scripted failure, consumed by one chat-completion request."""

    kind: FaultKind
    status: int = 500
    """For ``status``: the HTTP status to answer with (400-599)."""
    retry_after: float | None = None
    """For ``status``: the Retry-After header value in seconds."""
    seconds: float = 0.0
    """For ``delay``: how long to wait before answering normally."""

    def __post_init__(self) -> None:
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError("a status fault needs a status between 400 and 599")
        if not 0 <= self.seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"seconds must be between 0 and {MAX_DELAY_SECONDS:g}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")


def parse_faults(items: Iterable[Fault | Mapping[str, Any]]) -> list[Fault]:
    """Faults from Fault objects or plain dicts; raise msgspec.ValidationError on a bad one."""
    return [f if isinstance(f, Fault) else msgspec.convert(dict(f), Fault) for f in items]


class StubState:
    """The fault queue and request counters of one stub app; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._chat_completions = 0
        self._probes = 0
        self._embeddings = 0
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
        self._behaviour = StubBehaviour()

    @property
    def behaviour(self) -> StubBehaviour:
        with self._lock:
            return self._behaviour

    def set_behaviour(self, changes: StubBehaviour | Mapping[str, Any]) -> StubBehaviour:
        """Change how the stub behaves (given fields only); return the behaviour now."""
        with self._lock:
            if isinstance(changes, StubBehaviour):
                self._behaviour = changes
            else:
                merged = {**msgspec.structs.asdict(self._behaviour), **dict(changes)}
                self._behaviour = msgspec.convert(merged, StubBehaviour)
            return self._behaviour

    def push_faults(self, faults: Iterable[Fault | Mapping[str, Any]]) -> int:
        """Queue faults in order (all or none); return how many are now pending."""
        parsed = parse_faults(faults)
        with self._lock:
            self._faults.extend(parsed)
            return len(self._faults)

    def clear_faults(self) -> int:
        """Drop pending faults; return how many were dropped."""
        with self._lock:
            dropped = len(self._faults)
            self._faults.clear()
            return dropped

    def pending_faults(self) -> list[Fault]:
        """The faults not yet consumed, next first."""
        with self._lock:
            return list(self._faults)

    def next_fault(self) -> Fault | None:
        """Take the fault for the current chat-completion request, if any."""
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def record_chat(self, summary: dict[str, Any], *, probe: bool = False) -> None:
        """Count one chat-completion request (or structured-output probe) and remember it."""
        with self._lock:
            if probe:
                self._probes += 1
            else:
                self._chat_completions += 1
            self._recent.append({"endpoint": "chat.completions", "probe": probe, **summary})

    def record_embeddings(self, summary: dict[str, Any]) -> None:
        """Count one embeddings request and remember its summary."""
        with self._lock:
            self._embeddings += 1
            self._recent.append({"endpoint": "embeddings", **summary})

    def stats(self) -> dict[str, Any]:
        """Counters and the most recent request summaries, oldest first."""
        with self._lock:
            return {
                "chat_completions": self._chat_completions,
                "probes": self._probes,
                "embeddings": self._embeddings,
                "pending_faults": len(self._faults),
                "requests": [dict(r) for r in self._recent],
            }

    def reset(self) -> None:
        """Zero the counters, forget recent requests, drop pending faults and behave as default."""
        with self._lock:
            self._faults.clear()
            self._chat_completions = 0
            self._probes = 0
            self._embeddings = 0
            self._recent.clear()
            self._behaviour = StubBehaviour()


@dataclass(frozen=True, slots=True)
class Answer:
    """What the stub 'writes' for one request, before it is wrapped in a completion."""

    text: str
    finish_reason: str


def normal_answer(ask: ChatAsk, value: Any) -> Answer:
    """The answer with no fault applied."""
    return Answer(render_answer(ask, value), "tool_calls" if ask.shape == "tools" else "stop")


def faulty_answer(ask: ChatAsk, value: Any, fault: Fault) -> Answer:
    """The answer changed by an output fault (truncate, invalid_schema, ungrounded...).

    Transport faults (status, delay) are the server's business and leave the answer alone.
    """
    normal = normal_answer(ask, value)
    if fault.kind == "truncate":
        # Cut mid-object: the text is no longer JSON, and finish_reason says why.
        return Answer(normal.text[: max(1, len(normal.text) * 3 // 5)], "length")
    if fault.kind == "malformed_json":
        text = normal.text
        if ask.schema is not None:
            text = json.dumps(value, ensure_ascii=False)[:-1] + ', "stub_note": not quoted}'
            text = f"```json\n{text}\n```" if ask.fenced else text
        return Answer(text, normal.finish_reason)
    if ask.schema is None:
        return normal
    if fault.kind == "invalid_schema":
        return Answer(render_answer(ask, violate_schema(value, ask.schema)), normal.finish_reason)
    if fault.kind in ("ungrounded", "ungrounded_one"):
        changed = replace_evidence(value, only_last=fault.kind == "ungrounded_one")
        return Answer(render_answer(ask, changed), normal.finish_reason)
    if fault.kind == "invented_ids":
        return Answer(render_answer(ask, invent_citation(value)), normal.finish_reason)
    changed = weaken(value, fault.kind, sentence_texts(ask.article))
    return Answer(render_answer(ask, changed), normal.finish_reason)


def violate_schema(value: Any, schema: Mapping[str, Any]) -> Any:
    """Valid JSON that breaks ``schema``: the first required list emptied, else a key dropped."""
    root = resolve(schema, schema)
    if not isinstance(value, dict):
        return {"stub_note": "invalid on purpose"}
    changed = dict(value)
    properties = root.get("properties") or {}
    for key, prop in properties.items():
        if int(resolve(prop, schema).get("minItems", 0)) >= 1 and key in changed:
            changed[key] = []
            return changed
    required = root.get("required") or []
    if required:
        changed.pop(required[0], None)
        return changed
    return [changed]


INVENTED_EVIDENCE = "{label} This invented sentence number {n} appears nowhere in the article."


def replace_evidence(value: Any, *, only_last: bool) -> Any:
    """``value`` with every ``evidence`` string (or only the last) replaced by an invented one,
    and every sentence citation (or only the last) pointing past the article's end."""
    changed = copy.deepcopy(value)
    slots: list[dict[str, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("evidence"), str):
                slots.append(node)
            for item in node.values():
                collect(item)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(changed)
    targets = slots[-1:] if only_last else slots
    for number, slot in enumerate(targets, start=1):
        slot["evidence"] = INVENTED_EVIDENCE.format(label="[stub]", n=number)
    cited = _details(changed)
    for number, detail in enumerate(cited[-1:] if only_last else cited, start=1):
        detail["sentences"] = [INVENTED_SENTENCE + number]
    return changed


INVENTED_SENTENCE = 9000
"""Sentence numbers the ungrounded faults cite: past the end of any test article."""


def sentence_texts(article: str | None) -> dict[int, str]:
    """The numbered sentences of a prompt's article block."""
    return {int(m.group("number")): m.group("text") for m in SENTENCE_LINE.finditer(article or "")}


def _details(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("key_details"), list):
        return []
    return [d for d in value["key_details"] if isinstance(d, dict) and isinstance(d.get("sentences"), list)]


def _quoting_details(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("key_details"), list):
        return []
    return [
        d for d in value["key_details"]
        if isinstance(d, dict) and isinstance(d.get("evidence"), str) and "sentences" not in d
    ]  # fmt: skip


def weaken(value: Any, kind: str, sentences: dict[int, str]) -> Any:
    """``value`` answered the way a weak model answers (see the module docstring)."""
    changed = copy.deepcopy(value)
    details = _details(changed)
    quoted = _quoting_details(changed)  # the contract before sentence numbers
    if kind in QUOTE_FAULTS:
        for detail in details:
            text = " ".join(sentences.get(n, "") for n in detail["sentences"]).strip()
            detail["evidence"] = _weak_quote(kind, text)
            detail["sentences"] = []
        for detail in quoted:
            detail["evidence"] = _weak_quote(kind, detail["evidence"])
    elif kind == "same_sentences" and (details or quoted):
        for detail in details[1:]:
            detail["sentences"] = list(details[0]["sentences"])
        for detail in quoted[1:]:
            detail["evidence"] = quoted[0]["evidence"]
    elif kind == "unsupported_detail" and details:
        details[0]["text"] = details[0]["text"].rstrip(".") + ", costing 987,654 dollars."
    elif kind == "odd_entity_types" and isinstance(changed.get("entities"), list):
        odd = ["journal", "company", "event", "Location"]
        for index, entity in enumerate(changed["entities"]):
            entity["type"] = odd[index % len(odd)]
    elif kind == "looping" and isinstance(changed.get("analysis"), str):
        changed["analysis"] = " ".join(["[stub] The plant will store wind power for the evening peak."] * 80)
    elif kind == "wrong_language" and sentences and isinstance(changed, dict):
        # A small model writing in the article's language: prose copied from the article (in a
        # card, or in the translation asked for after it).
        texts = [sentences[n] for n in sorted(sentences)]
        for index, field in enumerate(("summary", "analysis", "impact")):
            if field in changed:
                changed[field] = " ".join(texts[index:] + texts[:index])[:1200]
        asked = changed.get("key_details")
        if isinstance(asked, list) and all(isinstance(t, str) for t in asked):
            changed["key_details"] = [texts[i % len(texts)] for i in range(len(asked))]
        for detail in details:  # a detail's text: its first cited sentence, copied
            if detail["sentences"]:
                detail["text"] = sentences.get(detail["sentences"][0], detail["text"])
    return changed


def _weak_quote(kind: str, sentence: str) -> str:
    if kind == "lead_in_quotes":
        return f"The article states: '{sentence}'"
    if kind == "ellipsis_quotes":
        words = sentence.split()
        return " \u2026 ".join(words[i] for i in range(0, min(len(words), 12), 3))
    if kind == "neighbour_quotes":
        return sentence[1:].lower()  # "She said on Tuesday" becomes "he said on tuesday"
    return sentence


INVENTED_REF = "s999"
_REF = re.compile(r"^s[1-9][0-9]*$")
_MARKER = re.compile(r"\[s[1-9][0-9]*\]")


def invent_citation(value: Any) -> Any:
    """``value`` with its first citation pointing at a signal the prompt never gave: the first
    string that is a ref (``s3``), else the first ``[s3]`` marker in a text, becomes ``s999``."""
    changed = copy.deepcopy(value)

    def visit(node: Any) -> bool:
        items: list[tuple[Any, Any]] = []
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        for key, item in items:
            if isinstance(item, str) and _REF.match(item):
                node[key] = INVENTED_REF
                return True
            if isinstance(item, str) and _MARKER.search(item):
                node[key] = _MARKER.sub(f"[{INVENTED_REF}]", item, count=1)
                return True
            if visit(item):
                return True
        return False

    visit(changed)
    return changed
