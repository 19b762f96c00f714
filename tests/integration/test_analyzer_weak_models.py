"""Our analysis client against the stub over HTTP with weak models' answers: re-asks only for
what failed (unusable citations, quotes, other languages, loops), and the failures that remain."""

from __future__ import annotations

import json

import pytest

from service.analysis.client import Analyzer, usage_of
from service.analysis.language import wrong_language_fields
from service.errors import AnalysisUngrounded, LLMInvalidOutput, LLMNotConfigured, LLMTruncated
from service.llm_settings import LLMMode
from service.settings import Settings
from tests.support import analyzer as support
from tests.support.analyzer import (
    TODAY,
    article,
    assert_quoted_by_offsets,
    requests,
    sent_bodies,
)

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


# The stub cleared before each test, and analyzers on it: tests/support/analyzer.py's fixtures.
fresh_stub, analyzer = support.fresh_stub, support.analyzer


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
    assert wrong_language_fields(result.draft, detail_texts=[d.text for d in result.key_details]) == {}
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
