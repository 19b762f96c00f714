"""The pure parts of related coverage and stories: weights, scores, reasons, the story rule."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from service.db.queries import queries
from service.embeddings import sized, vector_literal
from service.similarity.features import (
    Candidate,
    Rarity,
    Subject,
    card_text,
    inverse_frequency,
    weighted_cosine,
    weighted_jaccard,
)
from service.similarity.scoring import SAME_STORY_FLOOR, describe, is_copy, rank_links, score_link
from service.stories.matching import StoryRule, choose_story, same_event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STORY = uuid4()


def subject(**changes: object) -> Subject:
    base = Subject(
        id=uuid4(),
        article_id=uuid4(),
        content_hash="subject-hash",
        created_at=NOW,
        published_date=date(2026, 11, 20),
        story_id=None,
        title="Copperleaf Bank says hackers stole data",
        summary="Hackers stole data of 1.2 million customers.",
        key_texts=("Names and addresses were taken.",),
        topic_labels={1: "Data breaches", 2: "Banking"},
        entity_names={"copperleaf bank": "Copperleaf Bank", "lena hartmann": "Lena Hartmann"},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def candidate(**changes: object) -> Candidate:
    base = Candidate(
        id=uuid4(),
        article_id=uuid4(),
        content_hash="other-hash",
        created_at=NOW - timedelta(hours=2),
        published_date=date(2026, 11, 20),
        story_id=STORY,
        title="Supplier hack exposes bank customers",
        url="https://valley-ledger.example/news/hack",
        entity_keys=frozenset({"copperleaf bank", "lena hartmann"}),
        topic_ids=frozenset({1}),
        text_similarity=0.4,
        cosine=0.7,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


RARITY = Rarity(
    total=1000, entity_counts={"copperleaf bank": 40, "lena hartmann": 3}, topic_counts={1: 30, 2: 200}
)
RULE = StoryRule(similarity=0.6, min_shared_entities=1, window=timedelta(hours=72))


# --- weights -----------------------------------------------------------------------------------------


def test_rarer_names_weigh_more():
    assert inverse_frequency(1, 1000) > inverse_frequency(10, 1000) > inverse_frequency(500, 1000) > 0
    assert inverse_frequency(0, 0) == pytest.approx(math.log(2))  # never divides by zero
    assert RARITY.entity_weight("lena hartmann") > RARITY.entity_weight("copperleaf bank")
    assert RARITY.entity_weight("never seen") == inverse_frequency(1, 1000)


def test_weighted_overlaps():
    w = {"a": 1.0, "b": 3.0, "c": 1.0}
    assert weighted_jaccard({"a", "b"}, {"b", "c"}, w) == pytest.approx(3 / 5)
    assert weighted_jaccard(set(), set(), w) == 0
    assert weighted_cosine({"a", "b"}, {"b", "c"}, w) == pytest.approx(3 / 4)
    assert weighted_cosine({"a"}, set(), w) == 0
    assert weighted_cosine({"a", "b"}, {"a", "b"}, w) == pytest.approx(1)


def test_the_embedded_text_is_the_card_not_the_article():
    text = card_text("Headline ", "The claim.", ["Fact one.", " "], ["Data breaches", "Banking"])
    assert text == "Headline\nThe claim.\nFact one.\nTopics: Data breaches, Banking"
    assert card_text("H", "S", [], []) == "H\nS"
    assert subject().card.startswith("Copperleaf Bank says hackers stole data\nHackers stole data")


def test_vectors_travel_in_pgvector_text_form():
    assert vector_literal([0.5, -1.0, 2]) == "[0.5,-1.0,2.0]"


def test_only_a_validated_int_sizes_a_template():
    query = sized(queries.nearest_signals_by_embedding, 384)
    assert "vector(384)" in query.sql and "{dims}" not in query.sql and "dims = 384" in query.sql
    for bad in (0, 2001, "384; DROP TABLE signals", 3.0, True):
        with pytest.raises(ValueError, match="embedding dimensions"):
            sized(queries.nearest_signals_by_embedding, bad)  # type: ignore[arg-type]


# --- related scores and reasons ----------------------------------------------------------------------


def test_a_same_story_link_names_what_is_shared_rarest_first():
    link = score_link(subject(story_id=STORY), candidate(), RARITY, use_meaning=True)
    assert link is not None and link.same_story
    assert link.reason == (
        "Same story · Both mention Lena Hartmann and Copperleaf Bank · Both about Data breaches · "
        "70% similar in meaning"
    )
    assert SAME_STORY_FLOOR < link.score <= 1


def test_scores_are_symmetric_and_same_story_ranks_first():
    s, c = subject(story_id=STORY), candidate()
    same = score_link(s, c, RARITY, use_meaning=True)
    other = score_link(replace(s, story_id=uuid4()), c, RARITY, use_meaning=True)
    assert same is not None and other is not None
    assert same.score > other.score and not other.reason.startswith("Same story")
    # swap the roles: the reverse link scores the same
    mirrored_subject = replace(
        s,
        id=c.id,
        article_id=c.article_id,
        content_hash=c.content_hash,
        entity_names={k: k for k in c.entity_keys},
        topic_labels={t: str(t) for t in c.topic_ids},
    )
    mirrored = candidate(
        id=s.id,
        article_id=s.article_id,
        content_hash=s.content_hash,
        entity_keys=s.entity_keys,
        topic_ids=s.topic_ids,
    )
    back = score_link(mirrored_subject, mirrored, RARITY, use_meaning=True)
    assert back is not None and back.score == same.score


def test_without_embeddings_meaning_plays_no_part():
    link = score_link(subject(), candidate(cosine=0.99 - 0.1), RARITY, use_meaning=False)
    assert link is not None and "in meaning" not in link.reason
    assert (
        link.reason
        == "Both mention Lena Hartmann and Copperleaf Bank · Both about Data breaches · Similar wording"
    )


def test_noise_alone_is_not_related():
    unrelated = candidate(
        story_id=None, entity_keys=frozenset(), topic_ids=frozenset(), text_similarity=0.1, cosine=0.4
    )
    assert score_link(subject(), unrelated, RARITY, use_meaning=True) is None
    assert score_link(subject(), replace(unrelated, cosine=0.62), RARITY, use_meaning=True) is not None
    assert (
        score_link(subject(), replace(unrelated, text_similarity=0.35), RARITY, use_meaning=False) is not None
    )


def test_versions_and_copies_are_not_coverage():
    s = subject()
    assert is_copy(s, candidate(article_id=s.article_id))
    assert is_copy(s, candidate(content_hash=s.content_hash))
    assert is_copy(s, candidate(cosine=0.98))
    assert is_copy(s, candidate(cosine=None, text_similarity=0.95))
    assert not is_copy(s, candidate())
    assert score_link(s, candidate(cosine=0.99), RARITY, use_meaning=True) is None
    assert score_link(s, candidate(id=s.id), RARITY, use_meaning=True) is None


def test_reasons_read_naturally():
    assert describe(same_story=False, names=[], topics=[], meaning=None, wording=0.1) == "Similar coverage"
    assert describe(
        same_story=False, names=["A", "B", "C", "D", "E"], topics=["T"], meaning=0.3, wording=0.5
    ) == ("Both mention A, B and C (+2 more) · Both about T · Similar wording")


def test_ranking_keeps_the_best_and_is_stable():
    links = [
        score_link(subject(), candidate(cosine=c, id=UUID(int=i)), RARITY, use_meaning=True)
        for i, c in enumerate([0.5, 0.9, 0.7, 0.7])
    ]
    kept = rank_links([link for link in links if link is not None], 3)
    assert [link.related_id for link in kept] == [UUID(int=1), UUID(int=2), UUID(int=3)]


# --- the story rule ----------------------------------------------------------------------------------------


def test_a_close_report_naming_the_same_cast_joins_its_story():
    assert choose_story(subject(), [candidate()], RARITY, RULE, use_meaning=True) == STORY


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"cosine": 0.55}, "not similar enough"),
        ({"created_at": NOW - timedelta(hours=73)}, "outside the window"),
        ({"published_date": date(2026, 11, 1)}, "published weeks apart"),
        ({"entity_keys": frozenset({"someone else"})}, "no shared names"),
        (
            {"entity_keys": frozenset({"copperleaf bank", "tobias wren", "mortgage desk"})},
            "the company's other news",
        ),
        ({"story_id": None}, "not in a story yet"),
    ],
)
def test_what_keeps_a_report_out(change, why):
    assert choose_story(subject(), [candidate(**change)], RARITY, RULE, use_meaning=True) is None, why


@pytest.mark.parametrize(
    ("copy", "why"),
    [
        ({"entity_keys": frozenset(), "cosine": 0.99}, "the model named no one in the copy"),
        ({"entity_keys": frozenset({"copperleaf bank"}), "cosine": 0.99}, "the copy names fewer"),
        ({"content_hash": "subject-hash", "cosine": None, "text_similarity": 0.1}, "the same text"),
        ({"entity_keys": frozenset(), "cosine": None, "text_similarity": 0.95}, "near-identical wording"),
    ],
)
def test_a_copy_of_the_report_joins_its_story_whatever_names_it_was_given(copy, why):
    # a republished wire story: kept out of related coverage as a copy, so it must share the story
    stand_in = candidate(**copy)
    assert is_copy(subject(), stand_in)
    assert same_event(subject(), stand_in, RARITY, RULE, use_meaning=True) is not None, why
    assert choose_story(subject(), [stand_in], RARITY, RULE, use_meaning=True) == STORY, why


def test_copies_naming_different_casts_stay_apart():
    # two templated reports ("X posts quarterly results") word for word alike, about other companies
    other = candidate(entity_keys=frozenset({"birch analytics"}), cosine=0.99, text_similarity=0.95)
    assert is_copy(subject(), other)
    assert same_event(subject(), other, RARITY, RULE, use_meaning=True) is None


def test_a_copy_outside_the_window_starts_its_own_story():
    late = candidate(content_hash="subject-hash", created_at=NOW - timedelta(hours=73))
    assert same_event(subject(), late, RARITY, RULE, use_meaning=True) is None


def test_min_shared_entities_zero_lets_content_alone_decide():
    stranger = candidate(entity_keys=frozenset())
    assert same_event(subject(), stranger, RARITY, RULE, use_meaning=True) is None
    assert (
        same_event(subject(), stranger, RARITY, replace(RULE, min_shared_entities=0), use_meaning=True)
        is not None
    )


def test_without_embeddings_wording_decides():
    close = candidate(cosine=None, text_similarity=0.3)
    far = candidate(cosine=None, text_similarity=0.2)
    assert same_event(subject(), close, RARITY, RULE, use_meaning=True) is not None
    assert same_event(subject(), far, RARITY, RULE, use_meaning=True) is None
    # a stored vector is ignored when the process has no embeddings endpoint
    assert same_event(subject(), candidate(cosine=0.1, text_similarity=0.3), RARITY, RULE, use_meaning=False)


def test_the_closest_report_wins_and_meaning_beats_wording():
    other_story = uuid4()
    best = choose_story(
        subject(),
        [
            candidate(cosine=0.7),
            candidate(cosine=0.9, story_id=other_story),
            candidate(cosine=None, text_similarity=0.9),
        ],
        RARITY,
        RULE,
        use_meaning=True,
    )
    assert best == other_story


def test_the_rule_reads_its_settings():
    from service.settings import Settings

    rule = StoryRule.from_settings(
        Settings(story_similarity=0.7, story_min_shared_entities=2, story_window_hours=24)  # type: ignore[call-arg]
    )
    assert (rule.similarity, rule.min_shared_entities, rule.window) == (0.7, 2, timedelta(hours=24))
