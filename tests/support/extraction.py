"""The fixture pages and the calls the unit tests of extraction share (text and gate alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ExtractionFailed
from service.ingest.extract import ExtractedArticle, extract_article

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
