"""The answer model: lenient where leniency costs nothing, exact where it matters."""

import pytest
from pydantic import ValidationError

from service.analysis.model import KeyDetail, SignalDraft, tidy_text


def card(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "title": "Battery plant for an old coal site",
        "summary": "A coal site becomes a battery plant.",
        "eli5": "Think of a big rechargeable battery for the town.",
        "analysis": "The company plans a large battery plant. It would store wind power. Work starts soon.",
        "impact": "More storage means steadier wind power.",
        "key_details": [{"text": "The plant stores 400 MW.", "sentences": [1]}],
        "optimistic_outlook": "It opens on time and works.",
        "pessimistic_outlook": "Grid delays hold it back.",
        "topics": ["Energy storage"],
        "sentiment": 0.4,
        "entities": [],
    }
    values.update(changes)
    return values


def test_an_entity_type_outside_the_list_is_mapped_or_the_entity_dropped():
    draft = SignalDraft.model_validate(
        card(
            entities=[
                {"name": "The Lancet", "type": "journal"},
                {"name": "Northwind Energy", "type": "Company"},
                {"name": "Callowmere", "type": "location"},
                {"name": "COP31", "type": "event"},
                {"name": "  ", "type": "person"},
                {"name": "Dana Whitfield", "type": "person"},
                {"name": "Dana  Whitfield", "type": "person"},
            ]
        )
    )
    assert [(e.name, e.type) for e in draft.entities] == [
        ("The Lancet", "organization"),
        ("Northwind Energy", "organization"),
        ("Callowmere", "place"),
        ("Dana Whitfield", "person"),
    ]


def test_over_long_prose_is_cut_at_a_sentence_and_a_looping_sentence_kept_once():
    looping = "The plant will store wind power for the evening peak. " * 200
    draft = SignalDraft.model_validate(
        card(analysis=looping + "It opens in 2028, the council says.", title="word " * 100)
    )
    assert (
        draft.analysis
        == "The plant will store wind power for the evening peak. It opens in 2028, the council says."
    )
    assert len(draft.title) <= 160 and draft.title.endswith("…")
    long = " ".join(f"Sentence number {n} of a long analysis goes on for a while." for n in range(100))
    cut = SignalDraft.model_validate(card(analysis=long)).analysis
    assert len(cut) <= 2500 and cut.endswith("while.")


def test_an_analysis_that_only_loops_is_too_short_to_be_a_card():
    with pytest.raises(ValidationError, match="analysis"):
        SignalDraft.model_validate(
            card(analysis="The plant will store wind power for the evening peak. " * 200)
        )


def test_tidy_text_keeps_paragraphs_and_short_repeats():
    assert tidy_text("Yes. Yes.\n\nNew paragraph.", 100) == "Yes. Yes.\n\nNew paragraph."


def test_extra_topics_and_key_details_are_left_out_not_refused():
    details = [{"text": f"Fact number {n} is here.", "sentences": [n]} for n in range(1, 12)]
    draft = SignalDraft.model_validate(card(topics=[f"Topic {n}" for n in range(8)], key_details=details))
    assert len(draft.topics) == 5 and len(draft.key_details) == 8


def test_sentence_numbers_are_read_from_what_small_models_write():
    assert KeyDetail.model_validate({"text": "A fact here.", "sentences": "[S3], [S4]"}).sentences == [3, 4]
    assert KeyDetail.model_validate({"text": "A fact here.", "sentences": ["S7", 8]}).sentences == [7, 8]
    assert KeyDetail.model_validate({"text": "A fact here.", "sentences": 5}).sentences == [5]
    quoted = KeyDetail.model_validate({"text": "A fact here.", "evidence": "the plant opens"})
    assert quoted.sentences == [] and quoted.quote == "the plant opens"
    prose = KeyDetail.model_validate({"text": "A fact here.", "sentences": "The article states: x"})
    assert prose.sentences == [] and prose.quote == "The article states: x"


def test_sentiment_is_clamped_and_may_be_missing():
    assert SignalDraft.model_validate(card(sentiment=3)).sentiment == 1.0
    values = card()
    del values["sentiment"]
    assert SignalDraft.model_validate(values).sentiment is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("analysis", "Too short."), ("key_details", []), ("topics", ["  "]), ("title", None)],
)
def test_what_a_card_cannot_do_without_is_still_refused(field: str, value: object):
    with pytest.raises(ValidationError) as info:
        SignalDraft.model_validate(card(**{field: value}))
    assert info.value.errors()[0]["loc"][0] == field


def test_minimums_mean_the_same_in_japanese_as_in_english():
    # Two full sentences of analysis: 62 characters in Japanese, about 190 in English.
    japanese = (
        "新工場は来年春に稼働し、地元で約三百人を雇用する予定だ。"
        "市は送電網の増強費用の半分を負担すると発表し、住民説明会を三回開く。"
    )
    assert len(japanese) < 80
    assert SignalDraft.model_validate(card(analysis=japanese)).analysis == japanese
    with pytest.raises(ValidationError, match="analysis"):
        SignalDraft.model_validate(card(analysis="The plant opens next spring and hires 300 people."))
    with pytest.raises(ValidationError, match="eli5"):
        SignalDraft.model_validate(card(eli5="電池の話。"))


def test_the_schema_still_tells_the_model_each_minimum():
    properties = SignalDraft.model_json_schema()["properties"]
    assert properties["analysis"]["description"].endswith("At least 80 characters.")
    assert properties["title"]["description"].endswith("At least 5 characters.")


def test_a_key_detail_too_short_to_read_costs_that_detail_not_the_card():
    details = [
        {"text": "The plant stores 400 MW.", "sentences": [1]},
        {"text": "Bauzeit", "sentences": [2]},  # 7 characters: what a small model wrote
        {"text": "Work starts in spring 2027.", "sentences": [3]},
    ]
    draft = SignalDraft.model_validate(card(key_details=details))
    assert [d.sentences for d in draft.key_details] == [[1], [3]]
    with pytest.raises(ValidationError, match=r"key_details\.0\.text"):  # none readable: named
        SignalDraft.model_validate(card(key_details=[{"text": "Bauzeit", "sentences": [2]}]))
