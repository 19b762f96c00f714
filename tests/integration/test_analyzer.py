"""Our analysis client against the stub over HTTP: every mode, the auto probe, models and
servers that differ, the context budget, and weak-model answers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ValidationInfo, model_validator

from service.analysis.client import Analyzer, usage_of
from service.analysis.language import wrong_language_fields
from service.analysis.prompt import ArticleForPrompt
from service.analysis.translation import Card
from service.errors import AnalysisUngrounded, LLMError, LLMInvalidOutput, LLMNotConfigured, LLMTruncated
from service.settings import LLMMode, Settings
from tests.support.articles import article_text

TODAY = date(2026, 12, 7)
SHAPES = {LLMMode.tools: "tools", LLMMode.json_schema: "json_schema", LLMMode.json: "json_object"}

GERMAN = (
    "Die Stadtwerke Kornfeld bauen bis 2028 einen Batteriespeicher mit 200 Megawatt.\n"
    "Das Projekt kostet nach Angaben des Unternehmens rund 140 Millionen Euro. Der Stadtrat hat "
    "den Plänen am 3. Oktober mit großer Mehrheit zugestimmt.\n"
    "Geschäftsführerin Dr. Anna Brüggemann sagte, der Speicher solle überschüssigen Windstrom "
    "aufnehmen und am Abend wieder abgeben. Anwohner befürchten dagegen mehr Lastwagenverkehr "
    "während der zweijährigen Bauzeit.\n"
    "Nach Schätzungen des Verbands könnte sich die Speicherkapazität im Land bis 2030 "
    "verdreifachen. Netzanschlüsse gelten aber weiterhin als größtes Hindernis für neue Projekte."
)
JAPANESE = (
    "北浜電力は火曜日、旧石炭火力発電所の跡地に大型蓄電池施設を建設すると発表した。\n"
    "総事業費は約四百億円で、二〇二七年春に着工し、二〇二八年末の運転開始を目指す。"
    "社長の山田花子氏は「風力発電の余剰電力をためて、夕方の需要の山に供給する」と説明した。\n"
    "市議会は先月、九対二の賛成多数で計画を承認した。一方で、工事期間中の大型車両の通行を"
    "懸念する住民の声も上がっている。\n"
    "専門家は、国内の蓄電容量が二〇三〇年までに三倍に増える可能性があると指摘した。"
)


def article(seed: int = 70, *, text: str | None = None, language: str = "en") -> ArticleForPrompt:
    title, paragraphs = article_text(seed)
    return ArticleForPrompt(
        text=text if text is not None else "\n".join(paragraphs),
        title=title,
        site_name="Courier",
        url=None,
        published=date(2026, 11, 20),
        language=language,
    )


@pytest.fixture(autouse=True)
def _fresh_stub(stub: SimpleNamespace) -> None:
    stub.state.reset()


@pytest.fixture
async def analyzer(stub: SimpleNamespace) -> AsyncIterator[Callable[..., Analyzer]]:
    made: list[Analyzer] = []

    def make(**overrides: Any) -> Analyzer:
        values: dict[str, Any] = {
            "openai_base_url": f"{stub.base}/v1",
            "openai_api_key": "k",
            "llm_model": "signals-stub",
            "llm_mode": LLMMode.json_schema,
            "llm_http_retries": 0,
            "llm_max_retries": 2,
        }
        values.update(overrides)
        made.append(Analyzer(Settings(**values)))
        return made[-1]

    yield make
    for one in made:
        await one.aclose()


def requests(stub: SimpleNamespace) -> list[dict[str, Any]]:
    return [
        r for r in stub.state.stats()["requests"] if r["endpoint"] == "chat.completions" and not r["probe"]
    ]


def sent_bodies(client: Analyzer) -> list[dict[str, Any]]:
    """Every chat request body ``client`` sends from now on, as it goes on the wire."""
    bodies: list[dict[str, Any]] = []

    async def record(request: Any) -> None:
        if request.url.path.endswith("/chat/completions"):
            bodies.append(json.loads(request.content))

    client.openai._client.event_hooks["request"].append(record)
    return bodies


def assert_quoted_by_offsets(result: Any, text: str) -> None:
    for detail in result.key_details:
        assert detail.evidence == " … ".join(text[a:b] for a, b in detail.offsets)
        assert detail.sentences and detail.unsupported is not None


# --- every mode, one call -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [LLMMode.tools, LLMMode.json_schema, LLMMode.json])
async def test_every_mode_yields_key_details_quoted_from_the_cited_sentences(stub, analyzer, mode):
    source = article()
    result = await analyzer(llm_mode=mode).analyze(source, today=TODAY)
    assert_quoted_by_offsets(result, source.text)
    assert result.grounding_checked == result.grounding_grounded == len(result.key_details) >= 3
    assert all(d.unsupported == [] for d in result.key_details)
    assert result.attempts == 1 and result.model == "signals-stub" and result.prompt_version == "2026-12-08.1"
    (only,) = requests(stub)
    assert only["shape"] == SHAPES[mode] and only["schema"] == "SignalDraft"
    assert result.input_tokens == only["prompt_tokens"] and result.output_tokens == only["completion_tokens"]


REFUSED = ("minLength", "maxLength", "pattern", "format", "$ref", "$defs", "allOf", "default")


@pytest.mark.parametrize("mode", [LLMMode.tools, LLMMode.json_schema, LLMMode.json])
async def test_instructor_sends_the_wire_schema_numbering_this_articles_sentences(stub, analyzer, mode):
    client = analyzer(llm_mode=mode)
    bodies = sent_bodies(client)
    await client.analyze(article(), today=TODAY)
    (body,) = bodies
    if mode is LLMMode.tools:
        schema = body["tools"][0]["function"]["parameters"]
        assert body["tool_choice"] == {"type": "function", "function": {"name": "SignalDraft"}}
    elif mode is LLMMode.json_schema:
        shape = body["response_format"]["json_schema"]
        schema, strict = shape["schema"], shape["strict"]
        assert shape["name"] == "SignalDraft" and strict is True  # OpenAI enforces only with strict
    else:  # instructor writes the schema into the system message
        assert body["response_format"] == {"type": "json_object"}
        system = body["messages"][0]["content"]
        schema = json.loads(system[system.index("{") : system.rindex("}") + 1])
    assert not [word for word in REFUSED if f'"{word}"' in json.dumps(schema)]
    numbers = schema["properties"]["key_details"]["items"]["properties"]["sentences"]["items"]
    shown = max(int(n) for n in re.findall(r"^\[S(\d+)\]", body["messages"][1]["content"], re.M))
    if mode is LLMMode.json_schema:  # a constrained decoder cannot cite a sentence not shown
        assert numbers == {"type": "integer", "enum": list(range(1, shown + 1))}
    else:
        assert numbers == {"type": "integer", "minimum": 1, "maximum": shown}


class Echo(BaseModel):
    """An answer whose validation needs the prompt's data."""

    answer: str

    @model_validator(mode="after")
    def _knows_the_refs(self, info: ValidationInfo) -> Echo:
        if not info.context or info.context.get("refs") != ["s1", "s2"]:
            raise ValueError("the validation context did not arrive")
        return self


async def test_a_context_reaches_validators_and_page_text_is_never_rendered_as_a_template(stub, analyzer):
    client = analyzer(llm_mode=LLMMode.tools)
    bodies = sent_bodies(client)
    messages = [
        {"role": "system", "content": "Cite signals as [s1]. Rules end here.\n"},
        {"role": "user", "content": "A signal quoting a template: {{ refs }} and {% if x %} unclosed."},
    ]
    result = await client.complete(messages=messages, response_model=Echo, context={"refs": ["s1", "s2"]})
    assert isinstance(result.value, Echo) and result.attempts == 1
    assert bodies[0]["messages"] == messages  # as written: instructor renders messages with Jinja
    assert result.conversation[:2] == messages


# --- SIGNALS_LLM_MODE=auto ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enforcement", "chosen"), [("enforced", "json_schema"), ("rejected", "tools"), ("ignored", "tools")]
)
async def test_auto_asks_the_server_once_whether_it_enforces_a_schema(stub, analyzer, enforcement, chosen):
    stub.state.set_behaviour({"json_schema": enforcement})
    client = analyzer(llm_mode=LLMMode.auto)
    assert client.describe() == (None, None)
    await client.prepare()
    assert client.describe() == (chosen, 32_768)
    result = await client.analyze(article(), today=TODAY)
    await client.analyze(article(71), today=TODAY)
    stats = stub.state.stats()
    assert stats["probes"] == 1 and stats["chat_completions"] == 2
    assert {r["shape"] for r in requests(stub)} == {"tools" if chosen == "tools" else "json_schema"}
    assert result.grounding_grounded >= 3


async def test_a_server_that_cannot_be_reached_is_asked_again_later(stub, analyzer):
    client = analyzer(llm_mode=LLMMode.auto, openai_base_url="http://127.0.0.1:9/v1")
    await client.prepare()
    assert client.describe() == (None, None)
    client.settings = client.settings.model_copy(update={"openai_base_url": f"{stub.base}/v1"})
    client._openai = client._openai.with_options(base_url=f"{stub.base}/v1")
    await client.prepare()
    assert client.describe()[0] == "json_schema"


# --- models and servers that differ ---------------------------------------------------------------


async def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature(stub, analyzer):
    stub.state.set_behaviour({"reasoning": True})
    result = await analyzer().analyze(article(), today=TODAY)
    assert result.attempts == 1 and result.grounding_grounded >= 3
    answered = [r for r in requests(stub) if r.get("status") == 200]
    assert len(answered) == 1
    assert answered[0]["token_limit"] == "max_completion_tokens" and answered[0]["temperature"] is None
    assert [r["status"] for r in requests(stub)] == [400, 400, 200]  # learnt once, then kept


async def test_a_model_named_like_a_reasoning_model_is_asked_right_the_first_time(stub, analyzer):
    stub.state.set_behaviour({"reasoning": True})
    await analyzer(llm_model="o4-mini").analyze(article(), today=TODAY)
    assert [r["status"] for r in requests(stub)] == [200]


async def test_a_server_ignoring_a_named_tool_choice_is_asked_with_required(stub, analyzer):
    stub.state.set_behaviour({"named_tool_choice": False})
    client = analyzer(llm_mode=LLMMode.tools)
    first = await client.analyze(article(), today=TODAY)  # the call written as text is read anyway
    await client.analyze(article(71), today=TODAY)
    assert first.attempts == 1 and first.grounding_grounded >= 3
    assert [r["tool_choice"] for r in requests(stub)] == ["named", "required"]


async def test_llama_cpp_gets_its_repeat_penalty_and_others_none(stub, analyzer):
    await analyzer().analyze(article(), today=TODAY)
    stub.state.set_behaviour({"context_tokens": 16_384})  # the stub now answers /props like llama.cpp
    await analyzer().analyze(article(), today=TODAY)
    assert [r["repeat_penalty"] for r in requests(stub)] == [None, 1.1]


# --- the context budget ---------------------------------------------------------------------------


def long_article(paragraphs: int = 60) -> str:
    return "\n".join(
        f"In part {p} of the report, the council of Callowmere described the harbour plan in detail. "
        f"Officials said phase {p} would cost {10 + p} million pounds and take {p + 2} months."
        for p in range(paragraphs)
    )


async def test_the_prompt_and_answer_fit_the_context_the_server_reports(stub, analyzer):
    stub.state.set_behaviour({"context_tokens": 4096})
    client = analyzer()
    source = article(text=long_article())
    result = await client.analyze(source, today=TODAY)
    assert client.describe() == ("json_schema", 4096)
    (sent,) = requests(stub)
    assert sent["status"] == 200  # the stub refuses what does not fit, as llama.cpp does
    cited = max(n for d in result.key_details for n in d.sentences)
    assert cited < 120  # sentences past the cut were never numbered
    assert_quoted_by_offsets(result, source.text)


async def test_the_configured_context_wins_over_the_reported_one(stub, analyzer):
    stub.state.set_behaviour({"context_tokens": 4096})
    await analyzer().analyze(article(text=long_article()), today=TODAY)
    client = analyzer(llm_context_tokens=3000)
    await client.analyze(article(text=long_article()), today=TODAY)
    assert client.describe() == ("json_schema", 3000)
    reported, configured = requests(stub)
    assert configured["prompt_tokens"] < reported["prompt_tokens"] - 300  # 548 fewer by our estimate


async def test_a_context_too_small_for_any_prompt_fails_before_calling_the_model(stub, analyzer):
    with pytest.raises(LLMError) as info:
        await analyzer(llm_context_tokens=1024).analyze(article(text=long_article()), today=TODAY)
    assert info.value.reason == "context_too_small" and "1024" in info.value.detail
    assert requests(stub) == []


# --- weak models: re-asks only for what failed ----------------------------------------------------


async def test_unusable_citations_get_replacement_key_details_in_the_same_conversation(stub, analyzer):
    stub.state.push_faults([{"kind": "ungrounded"}])
    result = await analyzer().analyze(article(), today=TODAY)
    first, fix = requests(stub)
    assert fix["schema"] == "KeyDetailsFix"
    # The follow-up resends the conversation unchanged (a server reuses its cached prefix) and
    # adds the answer and one correction; only key details come back.
    assert fix["message_hashes"][: len(first["message_hashes"])] == first["message_hashes"]
    assert len(fix["message_hashes"]) == len(first["message_hashes"]) + 2
    assert fix["completion_tokens"] < first["completion_tokens"] / 3
    assert result.attempts == 2 and result.grounding_grounded == 3
    assert result.grounding_checked == len(result.key_details) + 5  # five unusable, then three
    assert result.input_tokens == first["prompt_tokens"] + fix["prompt_tokens"]


async def test_nothing_usable_after_every_reask_fails_with_the_cost_attached(stub, analyzer):
    stub.state.push_faults([{"kind": "ungrounded"}] * 3)
    with pytest.raises(AnalysisUngrounded) as info:
        await analyzer().analyze(article(), today=TODAY)
    sent = requests(stub)
    assert len(sent) == 3 and "cites sentences 900" in info.value.detail
    usage = usage_of(info.value)
    assert usage is not None and usage.attempts == 3 and usage.model == "signals-stub"
    assert usage.input_tokens == sum(r["prompt_tokens"] for r in sent)
    assert usage.output_tokens == sum(r["completion_tokens"] for r in sent)


async def test_a_card_with_three_usable_details_is_not_asked_again(stub, analyzer):
    stub.state.push_faults([{"kind": "ungrounded_one"}])
    result = await analyzer().analyze(article(), today=TODAY)
    assert len(requests(stub)) == 1
    assert result.grounding_checked == result.grounding_grounded + 1


async def test_details_resting_on_one_sentence_keep_the_first_and_ask_for_the_rest(stub, analyzer):
    stub.state.push_faults([{"kind": "same_sentences"}])
    result = await analyzer().analyze(article(), today=TODAY)
    assert result.grounding_grounded == 3 and len({tuple(d.sentences) for d in result.key_details}) == 3
    assert [r["schema"] for r in requests(stub)] == ["SignalDraft", "KeyDetailsFix"]


@pytest.mark.parametrize(
    ("kind", "reasked"),
    [("quotes", False), ("lead_in_quotes", False), ("ellipsis_quotes", True), ("neighbour_quotes", True)],
)
async def test_quotes_given_instead_of_numbers_count_only_when_verbatim(stub, analyzer, kind, reasked):
    stub.state.push_faults([{"kind": kind}])
    source = article()
    result = await analyzer(llm_mode=LLMMode.json).analyze(source, today=TODAY)
    assert (len(requests(stub)) == 2) is reasked
    assert_quoted_by_offsets(result, source.text)
    if reasked:  # most of the five quotes were refused, and replacements asked for
        assert result.grounding_grounded == 3 and result.grounding_checked - result.grounding_grounded >= 4


async def test_a_japanese_article_quoted_by_a_model_keeps_its_japanese_evidence(stub, analyzer):
    stub.state.push_faults([{"kind": "quotes"}])
    source = article(text=JAPANESE, language="ja")
    result = await analyzer(llm_mode=LLMMode.json).analyze(source, today=TODAY)
    assert len(requests(stub)) == 1 and result.grounding_grounded >= 3
    assert all(d.evidence in JAPANESE and d.evidence.endswith("。") for d in result.key_details)


async def test_a_german_article_keeps_german_evidence_and_numbers_are_still_checked(stub, analyzer):
    stub.state.push_faults([{"kind": "unsupported_detail"}])
    result = await analyzer().analyze(article(text=GERMAN, language="de"), today=TODAY)
    assert all(d.evidence in GERMAN for d in result.key_details)
    assert any("Millionen Euro" in d.evidence or "Megawatt" in d.evidence for d in result.key_details)
    flagged = [d for d in result.key_details if d.unsupported]
    assert [d.unsupported for d in flagged] == [["987,654"]]


@pytest.mark.parametrize(
    ("text", "language", "named"), [(GERMAN, "de", "German"), (JAPANESE, "ja", "Japanese")]
)
async def test_fields_written_in_the_article_s_language_are_asked_for_in_english_alone(
    stub, analyzer, text, language, named
):
    stub.state.push_faults([{"kind": "wrong_language"}])
    client = analyzer()
    bodies = sent_bodies(client)
    result = await client.analyze(article(text=text, language=language), today=TODAY)
    assert [r["schema"] for r in requests(stub)] == ["SignalDraft", "CardTranslation"]
    asked = bodies[1]["messages"][-1]["content"]
    assert (
        f"not written in English: summary ({named}), analysis ({named}), impact ({named}), "
        f"key_details ({named})" in asked
    )
    # only the failing fields are asked for, in the same conversation
    assert bodies[1]["messages"][: len(bodies[0]["messages"])] == bodies[0]["messages"]
    sent = json.dumps(bodies[1].get("response_format") or bodies[1].get("tools"))
    assert '"summary"' in sent and '"key_details"' in sent and '"eli5"' not in sent
    assert "in English" in result.draft.summary
    assert all("in English" in d.text and d.evidence in text for d in result.key_details)
    assert wrong_language_fields(Card(result.draft, result.key_details)) == {}
    assert result.attempts == 2


async def test_a_model_that_never_writes_english_fails_with_the_fields_named(stub, analyzer):
    stub.state.push_faults([{"kind": "wrong_language"}] * 2)
    with pytest.raises(LLMInvalidOutput) as info:
        await analyzer().analyze(article(text=GERMAN, language="de"), today=TODAY)
    assert "even after asking for a translation: summary (reads as German)" in info.value.detail
    assert len(requests(stub)) == 2 and usage_of(info.value).attempts == 2


async def test_without_re_asks_a_card_in_another_language_fails_at_once(stub, analyzer):
    stub.state.push_faults([{"kind": "wrong_language"}])
    with pytest.raises(LLMInvalidOutput, match="not in English: summary"):
        await analyzer(llm_max_retries=0).analyze(article(text=JAPANESE, language="ja"), today=TODAY)
    assert len(requests(stub)) == 1


async def test_the_stub_writes_english_cards_for_articles_in_other_languages(stub, analyzer):
    for text, language in ((GERMAN, "de"), (JAPANESE, "ja"), (GERMAN, "unknown")):
        result = await analyzer().analyze(article(text=text, language=language), today=TODAY)
        assert result.attempts == 1 and wrong_language_fields(result.draft) == {}


async def test_odd_entity_types_are_mapped_not_fatal(stub, analyzer):
    stub.state.push_faults([{"kind": "odd_entity_types"}])
    result = await analyzer().analyze(article(), today=TODAY)
    assert result.attempts == 1
    assert {e.type for e in result.draft.entities} <= {"organization", "place"}


async def test_a_looping_analysis_is_asked_again_whole(stub, analyzer):
    stub.state.push_faults([{"kind": "looping"}])
    result = await analyzer().analyze(article(), today=TODAY)
    first, again = requests(stub)
    assert again["schema"] == "SignalDraft" and result.attempts == 2
    assert again["message_hashes"][: len(first["message_hashes"])] == first["message_hashes"]


# --- failures -------------------------------------------------------------------------------------


async def test_invalid_output_names_the_failing_fields(stub, analyzer):
    stub.state.push_faults([{"kind": "invalid_schema"}])
    with pytest.raises(LLMInvalidOutput) as info:
        await analyzer(llm_max_retries=0).analyze(article(), today=TODAY)
    assert "key_details: List should have at least 1 item" in info.value.detail
    assert info.value.extra["fields"] == ["key_details"]
    assert usage_of(info.value).attempts == 1  # type: ignore[union-attr]


async def test_a_truncated_answer_fails_at_once_with_its_tokens_counted(stub, analyzer):
    stub.state.push_faults([{"kind": "truncate"}])
    with pytest.raises(LLMTruncated) as info:
        await analyzer(llm_max_output_tokens=700).analyze(article(), today=TODAY)
    usage = usage_of(info.value)
    assert usage is not None and usage.attempts == 1 and usage.output_tokens == 700


def test_an_unconfigured_analyzer_names_what_to_set():
    with pytest.raises(LLMNotConfigured) as info:
        Analyzer(Settings(openai_base_url=None, llm_model=None))
    assert info.value.extra["missing"] == ["OPENAI_BASE_URL", "SIGNALS_LLM_MODEL"]
