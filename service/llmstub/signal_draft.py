"""The stub's SignalDraft-shaped answer, written from its reading of the article.

Key details cite the numbers of the sentences the prompt numbered ([S12]), as the analysis
contract asks; for a prompt of the older contract (a plain article) they quote the sentence
instead. Each detail's text is its sentence's first words, so the service's support check
finds its names and numbers. Prose fields say they are stub output; topics and entity names
do not, because they become stored labels and keys. The pieces come from
service/llmstub/article_reading.py.
"""

from __future__ import annotations

import re
from typing import Any

from service.analysis.language import CARD_LANGUAGE, language_name, reads_as
from service.analysis.prompt import METADATA_HEADING
from service.llmstub.article_reading import (
    ArticleReading,
    find_entities,
    pick_cited,
    pick_evidence,
    pick_topics,
    read_article,
    read_numbered,
    tone,
)

STUB_LABEL = "[stub]"
STUB_NOTE = "(stub output)"
_FIGURE = re.compile(r"\d[\d.,]*\d|\d")


def detail_text(sentence: str, point: int, foreign: str | None = None) -> str:
    """A key detail's text made of its sentence's first words (names and numbers included),
    numbered as the stub always numbered them (related coverage tests are calibrated on it).
    For an article not in English (``foreign``: its language) the text is English and names
    only the sentence's numbers, as the service asks every card to be written in English."""
    if foreign:
        numbers = _join_words(_FIGURE.findall(sentence)[:3])
        figures = f", with the figures {numbers}" if numbers else ""
        return f"{STUB_LABEL} Point {point}: the article states a fact here{figures}."
    return f"{STUB_LABEL} Point {point}: {_sentence(_clip_words(sentence, 16))}"


def _english_draft(
    reading: ArticleReading,
    language: str,
    details: list[dict[str, Any]],
    topics: list[str],
    entities: list[dict[str, str]],
) -> dict[str, Any]:
    """The card for an article in another language: English prose that quotes none of it
    (the stub cannot translate), its topics, entities and key details as usual."""
    tongue = language_name(language)
    topic_phrase = _join_words(topics)
    names = _join_words([e["name"] for e in entities[:4]]) or "no names the stub could detect"
    about = f"an article in {tongue} of about {reading.word_count} words on {topic_phrase}"
    return {
        "title": f"{STUB_LABEL} {tongue} report on {topics[0]}",
        "summary": f"{STUB_LABEL} This is {about}; the stub does not translate it.",
        "eli5": (
            f"{STUB_LABEL} Think of a letter written in {tongue}: you can see who it names and "
            f"which numbers it gives, but not what it says. {STUB_NOTE}"
        ),
        "analysis": (
            f"{STUB_LABEL} This is {about}. The development stub writes cards in English and "
            f"cannot translate, so it does not quote the article here.\n\nNamed in the text: "
            f"{names}. {STUB_NOTE} Written by the Signals development LLM stub from the article "
            "text, not by a language model."
        ),
        "impact": (
            f"{STUB_LABEL} If the article is accurate, the consequences mainly concern "
            f"{topic_phrase}. {STUB_NOTE} No real impact assessment was made."
        ),
        "key_details": details,
        "optimistic_outlook": (
            f"{STUB_LABEL} Best case: what the article reports about {topics[0]} happens as "
            f"described, and the people it names see it through. {STUB_NOTE}"
        ),
        "pessimistic_outlook": (
            f"{STUB_LABEL} Worst case: what the article reports about {topics[0]} stalls or "
            f"turns out smaller than the article describes. {STUB_NOTE}"
        ),
        "topics": topics,
        "sentiment": 0.0,
        "entities": entities,
    }


def replacement_details(article: str | None, conversation: tuple[str, ...]) -> dict[str, Any]:
    """Replacement key details for a follow-up question: as many as it asks for, citing
    sentences it does not list as already cited."""
    numbered = read_numbered(article or "")
    asked = " ".join(conversation[-2:])
    wanted = re.search(r"Send (\d+) replacement", asked)
    cited = re.search(r"already cited: ([\d, ]+)", asked)
    taken = {int(n) for n in re.findall(r"\d+", cited.group(1))} if cited else set()
    free = [(n, s) for n, s in (numbered.sentences if numbered else []) if n not in taken]
    count = int(wanted.group(1)) if wanted else 1
    picked = pick_cited(free, limit=count)
    return {
        "key_details": [{"text": detail_text(s, i), "sentences": [n]} for i, (n, s) in enumerate(picked, 1)]
    }


def draft_from_article(text: str) -> dict[str, Any]:
    """A SignalDraft-shaped dict built from the article; the caller fits it to the schema.

    Key details carry both ``sentences`` (the current contract) and ``evidence`` (the older
    one); the caller keeps the one its schema asks for."""
    numbered = read_numbered(text)
    if numbered is not None:
        text = numbered.text
    elif METADATA_HEADING in text:
        text = ""
    reading = read_article(text)
    body = reading.sentences or [text.strip() or "The article text was empty."]
    foreign = reads_as(text, CARD_LANGUAGE)
    if numbered is not None:
        cited = pick_cited(numbered.sentences)
        details = [
            {"text": detail_text(s, i, foreign), "sentences": [n], "evidence": s}
            for i, (n, s) in enumerate(cited, 1)
        ]
    else:
        details = [
            {"text": detail_text(q, i, foreign), "evidence": q}
            for i, q in enumerate(pick_evidence(reading), 1)
        ]
    topics = pick_topics(text)
    entities = find_entities(reading.sentences)
    if foreign:
        return _english_draft(reading, foreign, details, topics, entities)
    opening = body[0]
    headline = " ".join((reading.title_line or opening).split()[:12]).rstrip(".!?:;, ")
    topic_phrase = _join_words([t.lower() for t in topics])
    names = _join_words([e["name"] for e in entities[:4]])
    follow_up = " ".join(_clip_words(s, 40) for s in body[1:3])
    analysis = [
        f"{STUB_LABEL} This article of about {reading.word_count} words is mostly about "
        f"{topic_phrase}. It opens with: {_clip_words(opening, 60)}",
        f"It goes on to report: {follow_up}" if follow_up else "It makes no further points.",
        (f"Named in the text: {names}. " if names else "No named organisations were detected. ")
        + f"{STUB_NOTE} Written by the Signals development LLM stub from the article text, "
        "not by a language model.",
    ]
    return {
        "title": f"{STUB_LABEL} {headline}",
        "summary": f"{STUB_LABEL} {_sentence(_clip_words(opening, 50))}",
        "eli5": (
            f"{STUB_LABEL} Think of a note passed around a classroom that says: "
            f"{_sentence(_clip_words(opening, 25))} {STUB_NOTE} A real model would explain "
            "this with an everyday analogy."
        ),
        "analysis": "\n\n".join(analysis),
        "impact": (
            f"{STUB_LABEL} If the article is accurate, the consequences mainly concern "
            f"{topic_phrase}. {STUB_NOTE} No real impact assessment was made."
        ),
        "key_details": details,
        "optimistic_outlook": (
            f"{STUB_LABEL} Best case: what the article reports about {topics[0].lower()} "
            f"happens as described. {STUB_NOTE}"
        ),
        "pessimistic_outlook": (
            f"{STUB_LABEL} Worst case: what the article reports about {topics[0].lower()} "
            f"stalls or turns out smaller than described. {STUB_NOTE}"
        ),
        "topics": topics,
        "sentiment": tone(reading.sentences),
        "entities": entities,
    }


def _clip_words(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", "...")) else text.rstrip(",;:") + "."


def _join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
