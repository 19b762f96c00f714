"""The extraction quality gate: paywalls, listings, error pages, short and non-article input."""

from __future__ import annotations

import re

import pytest

from service.ingest.quality import MAX_HTML_CHARS, count_words
from tests.support.extraction import MIN_WORDS, extract, page, refusal


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
