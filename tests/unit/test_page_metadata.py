"""Page metadata as extract_article keeps it: plain text, and an image only as an http(s) URL."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from service.ingest.extract import extract_article
from service.ingest.metadata import MAX_IMAGE_URL, image_url

PAGE = (Path(__file__).parents[1] / "fixtures" / "pages" / "hostile_metadata.html").read_text()
URL = "https://news.example/local/ferries"


def with_image(value: str) -> str:
    return PAGE.replace("javascript:alert(document.cookie)", html.escape(value))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("javascript:alert(document.cookie)", None),
        ("  JaVaScRiPt:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("vbscript:msgbox(1)", None),
        ("data:image/svg+xml,<svg onload=alert(1)>", None),
        ("https://user:pw@cdn.example/a.jpg", None),
        ("https://cdn.example/" + "a" * MAX_IMAGE_URL + ".jpg", None),
        ("ftp://cdn.example/a.jpg", None),
        ("/img/a.jpg", "https://news.example/img/a.jpg"),
        ("a.jpg", "https://news.example/local/a.jpg"),
        ("//cdn.example/a.jpg", "https://cdn.example/a.jpg"),
        ("https://cdn.example/a.jpg?w=800", "https://cdn.example/a.jpg?w=800"),
    ],
)
def test_the_image_is_kept_only_as_an_http_url(image, expected):
    assert extract_article(with_image(image), URL, min_words=50).image == expected


def test_a_relative_image_without_a_page_url_is_dropped():
    assert extract_article(with_image("/img/a.jpg"), None, min_words=50).image is None


def test_metadata_is_plain_text():
    article = extract_article(PAGE, URL, min_words=50)
    assert article.site_name == "The Estuary Gazette & Post"
    assert article.title == "Kestwick ferry operator orders two battery-electric boats"
    assert article.author == "Priya Lindqvist"
    assert article.description == "A ferry operator commits to electric boats on the estuary crossing."


def test_characters_that_could_close_an_attribute_are_percent_encoded() -> None:
    image = image_url('https://example.com/x.png"onerror="alert(1)', None)
    assert image == "https://example.com/x.png%22onerror=%22alert(1)"
    assert image_url("https://example.com/a b.png", None) is None  # whitespace: dropped
    assert (
        image_url("https://example.com/caf\u00e9/<b>.png", None)
        == "https://example.com/caf%C3%A9/%3Cb%3E.png"
    )
