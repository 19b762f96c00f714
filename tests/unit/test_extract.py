"""extract_article and article_from_text: text, metadata, the quality gate and the hash."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from service.errors import ExtractionFailed
from service.ingest.extract import (
    ExtractedArticle,
    article_from_text,
    content_hash,
    extract_article,
)
from service.ingest.quality import MAX_HTML_CHARS, count_words

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
MIN_WORDS = 120
URL = "https://www.harbourgazette.example/news/2026/03/17/callowmere-shore-power-approved"


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def extract(html: str, url: str | None = URL, min_words: int = MIN_WORDS) -> ExtractedArticle:
    return extract_article(html, url, min_words=min_words)


def refusal(html: str, url: str | None = URL, min_words: int = MIN_WORDS) -> ExtractionFailed:
    with pytest.raises(ExtractionFailed) as info:
        extract_article(html, url, min_words=min_words)
    return info.value


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


# --- the quality gate --------------------------------------------------------------------------


def test_paywall_teaser_is_refused_as_paywall():
    exc = refusal(page("paywall_teaser.html"))
    assert exc.reason == "paywall"


def test_paywall_is_recognised_from_the_subscribe_stub_alone():
    html = re.sub(
        r'<script type="application/ld\+json">.*?</script>',
        "",
        page("paywall_teaser.html"),
        flags=re.S,
    )
    html = html.replace('<meta property="article:content_tier" content="locked">', "")
    assert "isAccessibleForFree" not in html
    assert refusal(html).reason == "paywall"


def test_full_text_marked_not_free_is_kept_because_it_is_not_a_teaser():
    html = page("news_article.html").replace('"isAccessibleForFree": true', '"isAccessibleForFree": false')
    assert extract(html).word_count > 600


def test_short_page_is_too_short_and_the_detail_says_how_many_words():
    exc = refusal(page("short_page.html"))
    assert exc.reason == "too_short"
    words = exc.extra["words"]
    assert 0 < words < MIN_WORDS
    assert f"{words} words" in exc.detail
    assert str(MIN_WORDS) in exc.detail


def test_min_words_is_the_callers_threshold():
    assert extract(page("short_page.html"), min_words=50).word_count < MIN_WORDS


def test_category_listing_is_not_an_article():
    exc = refusal(page("category_listing.html"), url="https://fenwickpost.example/technology")
    assert exc.reason == "not_article"
    assert "listing" in exc.detail


def test_listing_of_bare_headlines_is_not_an_article_rather_than_too_short():
    html = re.sub(r'<p class="teaser__dek">.*?</p>', "", page("category_listing.html"))
    assert refusal(html).reason == "not_article"


def test_not_found_page_is_not_an_article():
    exc = refusal(page("not_found.html"), url="https://www.harbourgazette.example/news/gone")
    assert exc.reason == "not_article"
    assert "error page" in exc.detail


def test_an_article_with_404_in_its_title_is_still_an_article():
    html = page("news_article.html").replace(
        "<title>Callowmere", "<title>Error 404 page not found? Callowmere"
    )
    assert extract(html).word_count > 600


def test_related_headline_cards_under_an_article_do_not_make_it_a_listing():
    cards = "".join(
        f'<div class="card"><h3><a href="/news/{i}">Another harbour story number {i} today</a></h3>'
        f"<p>A one-sentence summary of harbour story number {i} for the reader.</p></div>"
        for i in range(10)
    )
    html = page("news_article.html").replace(
        '<section id="comments"', f'<section>{cards}</section><section id="comments"'
    )
    assert extract(html).word_count > 600


def test_broken_json_ld_still_reveals_a_paywall():
    html = page("paywall_teaser.html").replace(
        '"cssSelector": ".article-locked"', '"cssSelector": ".article-locked",'
    )
    html = html.replace("Subscribe to continue reading", "Our journalism needs you")
    html = html.replace('<meta property="article:content_tier" content="locked">', "")
    assert refusal(html).reason == "paywall"


def test_hostile_json_ld_nesting_does_not_break_extraction():
    nested = "[" * 50_000 + "]" * 50_000
    html = page("news_article.html").replace(
        "</head>", f'<script type="application/ld+json">{nested}</script></head>'
    )
    assert extract(html).word_count > 600


def test_search_results_page_is_not_an_article():
    html = page("category_listing.html").replace("<title>Technology news", "<title>Search: fibre")
    exc = refusal(html, url="https://fenwickpost.example/search?q=fibre")
    assert exc.reason == "not_article"


def test_word_count_counts_words_not_punctuation_and_handles_unspaced_scripts():
    assert count_words("Don't stop — the stop-gap costs 42 € • really.") == 7
    assert count_words("中文没有空格") == 3  # six ideographs, about two characters a word
    assert count_words("") == 0


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("", "empty"),
        ("   \n\t  ", "empty"),
        ("<html><head><title>x</title></head><body><div></div></body></html>", "empty"),
        ("\x00\x01\x02PK\x03\x04" * 200, "not_html"),
        ("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >>", "not_html"),
        ('{"status": 404, "error": "not found"}', "not_html"),
        ("Just some plain text without any markup. " * 50, "not_html"),
        ("\ufffd" * 2000 + "<html><body><p>x</p></body></html>", "not_html"),
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title></channel></rss>',
            "not_article",
        ),
    ],
    ids=[
        "empty",
        "whitespace",
        "no-text",
        "binary",
        "pdf",
        "json",
        "plain-text",
        "mis-decoded",
        "rss",
    ],
)
def test_inputs_that_are_not_article_html_are_refused(html: str, reason: str):
    assert refusal(html).reason == reason


def test_oversized_input_is_refused_before_parsing():
    html = "<html><body><p>" + "x" * MAX_HTML_CHARS + "</p></body></html>"
    exc = refusal(html)
    assert exc.reason == "too_large"
    assert f"{MAX_HTML_CHARS:,}" in exc.detail


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
