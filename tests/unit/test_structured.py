"""What we do around instructor: reading answers leniently before it parses them, keeping page
text out of its Jinja rendering, and learning what a model's parameters are."""

import json
from typing import Any

import pytest
from jinja2.sandbox import SandboxedEnvironment
from openai.types.chat import ChatCompletion

from service.analysis.structured import (
    Parameters,
    as_jinja_literals,
    call_from_text,
    follow_up,
    json_only,
    looks_like_reasoning_model,
)


def completion(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> ChatCompletion:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return ChatCompletion.model_validate(
        {
            "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        }
    )  # fmt: skip


WRAPPED = [
    '{"a": 1}',
    '```json\n{"a": 1}\n```',
    '<think>The user wants {json}.</think>\n{"a": 1}',
    'Here is the object you asked for: {"a": 1} Hope it helps.',
    'SignalDraft({"a": 1})',
]


@pytest.mark.parametrize("text", WRAPPED)
def test_json_modes_keep_only_the_object_where_models_put_it(text: str):
    answer = completion(text)
    json_only(answer)
    assert json.loads(answer.choices[0].message.content or "") == {"a": 1}


def test_an_answer_without_json_is_left_for_validation_to_refuse():
    answer = completion("no json here")
    json_only(answer)
    assert answer.choices[0].message.content == "no json here"


@pytest.mark.parametrize("text", WRAPPED)
def test_a_tool_call_written_as_text_becomes_the_call(text: str):
    answer = completion(text)
    assert call_from_text(answer, "SignalDraft")
    message = answer.choices[0].message
    (call,) = message.tool_calls or []
    assert call.function.name == "SignalDraft" and json.loads(call.function.arguments) == {"a": 1}  # type: ignore[union-attr]
    assert call.id.startswith("call_") and message.content is None


def test_a_real_tool_call_is_left_alone():
    call = {"id": "x", "type": "function", "function": {"name": "SignalDraft", "arguments": "{}"}}
    answer = completion(None, [call])
    assert not call_from_text(answer, "SignalDraft")
    assert answer.choices[0].message.tool_calls[0].id == "x"  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    [
        "use {{ refs }} and {% if x %}y{% endif %} {# note #}\n",
        "ends {% endraw %}, {%- endraw -%} and {%endraw%} too",
        "tab\t{%  endraw\n %} and 'quotes' \"too\" \\ back",
        "a trailing newline\n",
    ],
)
def test_page_text_survives_jinja_rendering_unchanged(text: str):
    (wrapped,) = as_jinja_literals([{"role": "user", "content": text}])
    rendered = SandboxedEnvironment().from_string(wrapped["content"]).render(refs=["s1"], x=True)
    assert rendered == text


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [("o1", True), ("o3-mini", True), ("o4-mini-2025-04-16", True), ("gpt-5", True), ("gpt-5-mini", True),
     ("openai/gpt-5.1", True), ("gpt-4o-mini", False), ("qwen2.5-1.5b-instruct", False), ("llama3", False)],
)  # fmt: skip
def test_reasoning_models_are_known_by_name(model: str, reasoning: bool):
    assert looks_like_reasoning_model(model) is reasoning


def test_parameters_learn_from_a_reasoning_models_refusals():
    params = Parameters(penalty={"repeat_penalty": 1.1})
    asked = {"messages": [], "max_tokens": 100, "temperature": 0.2}
    assert params.apply(asked) == {
        "messages": [], "max_tokens": 100, "temperature": 0.2, "extra_body": {"repeat_penalty": 1.1},
    }  # fmt: skip
    assert params.adapt("Unsupported parameter: 'max_tokens' is not supported with this model. "
                        "Use 'max_completion_tokens' instead.")  # fmt: skip
    assert params.adapt("Unsupported value: 'temperature' does not support 0.2 with this model.")
    assert params.adapt("Unrecognized request argument supplied: repeat_penalty")
    assert not params.adapt("Invalid schema for response_format")
    assert params.apply(asked) == {"messages": [], "max_completion_tokens": 100}
    assert asked["max_tokens"] == 100  # instructor's request is not changed in place


def test_a_follow_up_answers_each_tool_call_or_speaks_as_the_user():
    called = [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}, {"id": "c2"}]}]
    assert [m["role"] for m in follow_up(called, "fix")[1:]] == ["tool", "tool"]
    assert follow_up(called, "fix")[2]["tool_call_id"] == "c2"
    said = [{"role": "assistant", "content": "{}"}]
    assert follow_up(said, "fix")[1] == {"role": "user", "content": "fix"}
