"""extract_article and article_from_text: text, metadata, hidden text and the hash.

The quality gate's refusals are tests/unit/test_quality_gate.py's.
"""

from __future__ import annotations

import datetime
import re

import pytest

from service.errors import ExtractionFailed
from service.ingest.extract import article_from_text, content_hash
from tests.support.extraction import MIN_WORDS, URL, extract, page

# --- the long news article: body in, boilerplate out ---------------------------------------------


def test_news_article_text_is_the_body_paragraphs_one_per_line():
    article = extract(page("news_article.html"))
    lines = article.text.split("\n")
    assert lines[0] == (
        "Cruise ships calling at Callowmere will be able to switch off their diesel generators "
        "at the quayside from the summer of 2028, after the port authority board voted on "
        "Tuesday to fund a shore power connection at the two deep-water berths on the North Mole."
    )
    assert "Who pays" in lines
    assert "Residents want measurements" in lines
    assert lines[-1].startswith("Construction of the substation is due to begin next spring")
    assert "“We should reward the lines that invest, not punish the ones that cannot yet,”" in (article.text)
    assert all(line == line.strip() and "  " not in line for line in lines)


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Dock Street for twenty years",  # comments
        "Forty one million pounds for a plug socket",
        "nearly ready",
        "Join the conversation",
        "We use cookies",  # cookie banner
        "Accept all cookies",
        "Get the Harbour Briefing",  # newsletter box inside the article
        "Sign me up",
        "Ferry timetable changes",  # related links
        "More on this story",
        "Independent news for the Callowmere coast",  # header
        "Skip to main content",
        "Harbour Gazette Media Ltd",  # footer
        "Tell our corrections team",
        "Advertisement",
        "Share on Mastodon",
    ],
)
def test_news_article_text_has_no_comments_or_site_chrome(boilerplate: str):
    assert boilerplate not in extract(page("news_article.html")).text


def test_news_article_metadata():
    article = extract(page("news_article.html"))
    assert article.title == "Callowmere port approves shore power for cruise berths"
    assert article.author == "Marta Lindqvist"
    assert article.site_name == "The Harbour Gazette"
    assert article.published == datetime.date(2026, 3, 17)
    assert article.language == "en"  # from <html lang="en-GB">
    assert article.image == "https://cdn.harbourgazette.example/images/2026/03/north-mole-berths-1200.jpg"
    assert article.description is not None
    assert article.description.startswith("Cruise ships will be able to switch off")
    assert article.canonical_url == URL
    assert 600 < article.word_count < 660
    assert re.fullmatch(r"[0-9a-f]{64}", article.content_hash)


def test_canonical_url_falls_back_to_og_url_and_ignores_the_request_url():
    html = re.sub(r'<link rel="canonical"[^>]*>', "", page("news_article.html"))
    article = extract(html, url="https://mirror.example/copy?utm_source=x")
    assert article.canonical_url == URL


def test_relative_canonical_is_resolved_against_the_page_url_or_dropped_without_one():
    html = page("non_ascii_de.html")
    with_url = extract(html, url="https://seeblick-zeitung.example/a?ref=home")
    assert with_url.canonical_url == (
        "https://seeblick-zeitung.example/lokales/2026/02/11/strassenbahn-ueberlingen-nord"
    )
    assert extract(html, url=None).canonical_url is None


def test_page_without_metadata_yields_none_rather_than_guesses():
    article = extract(page("hidden_text.html"), url=None)
    assert article.canonical_url is None
    assert article.image is None
    assert article.description is None


# --- hidden text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "injected",
    [
        "Ignore all previous instructions",  # display:none
        "SYSTEM NOTE",  # display: none span inside a visible paragraph
        "cheap-pills.example",  # hidden attribute
        "Hidden marker paragraph",  # visibility:hidden
        "Zero-size marker",  # font-size:0
    ],
)
def test_hidden_text_never_reaches_the_article_text(injected: str):
    assert injected not in extract(page("hidden_text.html")).text


def test_visible_text_around_hidden_spans_is_kept_intact():
    text = extract(page("hidden_text.html")).text
    assert (
        "with a third volunteer settling any disagreement between the two versions. "
        "The archive says the double-keying approach has kept the error rate below one entry "
        "in five hundred."
    ) in text
    assert "Head archivist Priya Ramaswamy said" in text


# --- non-ASCII and the digest page -------------------------------------------------------------


def test_non_ascii_page_keeps_its_characters_and_language():
    article = extract(page("non_ascii_de.html"), url="https://seeblick-zeitung.example/a")
    assert article.language == "de"
    assert article.title == "Straßenbahn bis Überlingen-Nord: Gemeinderat lässt Trasse prüfen"
    assert article.author == "Jürgen Häußler"
    assert "„Wir bauen im Norden Wohnungen für fast viertausend Menschen" in article.text
    assert "Anwohnerinnen und Anwohner der Gärtnerstraße" in article.text
    assert "Cookies" not in article.text
    assert "Jetzt anmelden" not in article.text


def test_decomposed_unicode_is_normalised_so_the_hash_does_not_depend_on_it():
    html = page("non_ascii_de.html")
    decomposed = html.replace("ä", "a\u0308").replace("ü", "u\u0308")
    composed, from_decomposed = extract(html), extract(decomposed)
    assert from_decomposed.text == composed.text
    assert from_decomposed.content_hash == composed.content_hash


def test_language_comes_from_og_locale_when_html_has_no_lang():
    html = page("non_ascii_de.html").replace('<html lang="de-DE">', "<html>")
    assert extract(html).language == "de"


def test_digest_page_text_is_found_among_navigation_and_signup_boxes():
    article = extract(page("daily_digest.html"), url="https://tidewater-ai.example/digests/2026-09-18")
    text = article.text
    assert article.word_count > 800
    assert article.title == "Cheaper Inference Meets a Power Bill Nobody Budgeted For"
    assert article.published == datetime.date(2026, 9, 18)
    assert text.count("\n") > 20
    for heading in (
        "Smaller Models, Sharper Focus",
        "The Power Question Returns",
        "Tooling Matures, Supply Chains Wobble",
        "Where the Money Is Moving",
        "Quick Hits",
    ):
        assert heading in text.split("\n")
    assert text.split("\n").index("Quick Hits") < text.index("Ferrite Systems raised $45M")
    assert "Two stories pulled in opposite directions today." in text
    for chrome in (
        "Stay in the Loop",
        "We never share your address",
        "Recent digests",
        "Agents Leave the Demo Stage",
        "Made in Halifax",
        "autumn workshop series",
        "Join the collective",
    ):
        assert chrome not in text


# --- content hash ------------------------------------------------------------------------------


def test_same_article_in_a_different_site_design_has_the_same_hash():
    old, new = extract(page("news_article.html")), extract(page("news_article_redesign.html"))
    assert old.title != new.title  # the chrome and metadata really differ
    assert new.text == old.text
    assert new.content_hash == old.content_hash


def test_an_edited_sentence_changes_the_hash():
    original = extract(page("news_article_redesign.html"))
    edited = extract(page("news_article_redesign.html").replace("six votes to two", "five votes to three"))
    assert edited.content_hash != original.content_hash


def test_hash_ignores_whitespace_but_not_words():
    assert content_hash("One  paragraph.\nTwo\tparagraphs.") == content_hash("One paragraph. Two paragraphs.")
    assert content_hash("One paragraph.") != content_hash("One paragraph!")


def test_repeated_extraction_of_one_page_is_identical():
    # trafilatura's default duplicate filter is process-wide and would start dropping this
    # page's paragraphs (then the whole page) after a few runs in the same worker.
    html = page("news_article.html")
    results = {extract(html) for _ in range(5)}
    assert len(results) == 1


# --- article_from_text -------------------------------------------------------------------------


def test_article_from_text_normalises_whitespace_and_control_characters():
    body = " ".join(["word"] * 130)
    raw = f"  First\x00 para\u200bgraph\twith   spaces.\r\n\r\n\r\n{body}\x0c\n\n  Last\u00a0line. \n"
    article = article_from_text(
        raw, title="  A  title\n", url="https://partner.example/x", min_words=MIN_WORDS
    )
    assert article.text == f"First paragraph with spaces.\n{body}\nLast line."
    assert article.title == "A title"
    assert article.word_count == 136
    assert article.content_hash == content_hash(article.text)
    assert article.canonical_url is None


def test_article_from_text_hash_matches_the_extracted_page_with_the_same_text():
    extracted = extract(page("news_article.html"))
    partner_copy = extracted.text.replace("\n", "\n\n  ")
    supplied = article_from_text(partner_copy, title=None, url=None, min_words=MIN_WORDS)
    assert supplied.text == extracted.text
    assert supplied.content_hash == extracted.content_hash


def test_article_from_text_gates_on_length_only():
    with pytest.raises(ExtractionFailed) as info:
        article_from_text("Too few words here.", title="t", url=None, min_words=MIN_WORDS)
    assert info.value.reason == "too_short"
    assert info.value.extra["words"] == 4
    with pytest.raises(ExtractionFailed) as info:
        article_from_text(" \x00\u200b\n ", title=None, url=None, min_words=MIN_WORDS)
    assert info.value.reason == "empty"
    # No paywall or listing judgement: the caller vouches for this text.
    stub = "Subscribe to continue reading. " + "word " * 150
    assert article_from_text(stub, title=None, url=None, min_words=MIN_WORDS).word_count > 150
