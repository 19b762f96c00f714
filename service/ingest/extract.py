"""Article extraction: trafilatura behind a quality gate, pure and synchronous.

``extract_article`` runs inside worker processes (``service.ingest.pool.Extractor``) so
that parsing (CPU-bound, seconds on a bad page) never blocks the event loop. Every failure
leaves as ``ExtractionFailed`` with a ``reason``: ``too_large``, ``not_html``, ``empty``,
``too_short``, ``paywall``, ``not_article`` or ``parser_error`` (the pool adds
``extractor_crashed``).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no stubs

from service.errors import ExtractionFailed
from service.ingest.article_meta import read_metadata
from service.ingest.metadata import image_url, strip_markup
from service.ingest.page_signals import PageSignals
from service.ingest.quality import (
    check_article,
    check_length,
    count_words,
    read_page,
    refuse_non_html,
)
from service.ingest.readings import SECOND_OPINION_REASONS, extract_document, parse_page, second_opinions

LOGGER = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
# trafilatura logs each page it gives up on at WARNING/ERROR; every such outcome leaves
# this module as an ExtractionFailed the caller records, so its records are noise (and
# worker processes have no logging set up, so they would go straight to stderr).
for _name in ("trafilatura", "htmldate", "courlan", "justext"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """An article's text and metadata as the page gives them."""

    text: str
    """The article text, paragraphs separated by "\\n"."""
    title: str | None
    author: str | None
    site_name: str | None
    published: datetime.date | None
    language: str | None
    """Primary language subtag ("en", "de"), from trafilatura or the page's markup."""
    image: str | None
    description: str | None
    canonical_url: str | None
    """The page's own canonical link or og:url; the caller decides whether to trust it."""
    word_count: int
    content_hash: str
    """sha256 hex of the whitespace-normalised text: same text, same hash."""


def extract_article(html: str, url: str | None, *, min_words: int) -> ExtractedArticle:
    """Extract the main article from ``html`` or raise ``ExtractionFailed``.

    Pure and synchronous (it runs inside pool workers). Boilerplate, comments and hidden
    text (display:none, visibility:hidden, zero-size, off-screen, ``hidden``) are dropped;
    the quality gate then refuses paywall teasers, listings, error pages and texts under
    ``min_words`` words.
    """
    refuse_non_html(html)
    try:
        return _extract(html, url, min_words)
    except ExtractionFailed:
        raise
    except Exception as exc:  # a trafilatura/lxml/htmldate bug on an odd page fails that page only
        LOGGER.warning("extraction crashed on %s", url or "<html>", exc_info=True)
        detail = f"the page could not be parsed ({type(exc).__name__}: {exc})"[:300]
        raise ExtractionFailed(detail, reason="parser_error") from None


def article_from_text(text: str, *, title: str | None, url: str | None, min_words: int) -> ExtractedArticle:
    """Wrap text the caller already has (partners, paywalled sources) as an article.

    Whitespace and control characters are normalised exactly as for extracted pages, so
    the same article reaches the same hash by either path; only the length is gated.
    ``url`` is where the caller got the text, not a canonical link the page declared, so
    ``canonical_url`` stays None.
    """
    clean = normalize_text(text)
    words = count_words(clean)
    check_length(words, min_words=min_words)
    return ExtractedArticle(
        text=clean,
        title=_clean_field(title),
        author=None,
        site_name=None,
        published=None,
        language=None,
        image=None,
        description=None,
        canonical_url=None,
        word_count=words,
        content_hash=content_hash(clean),
    )


def normalize_text(text: str) -> str:
    """NFC, no control or zero-width characters, single spaces, one paragraph per line."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    lines = (" ".join(_CONTROL.sub(" ", line).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def content_hash(text: str) -> str:
    """sha256 hex of ``text`` with every whitespace run (newlines included) made one space."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _extract(html: str, url: str | None, min_words: int) -> ExtractedArticle:
    tree, hidden_wrapper = parse_page(html)
    page = read_page(tree, url)
    doc = extract_document(tree, url, focus="precision")
    meta = read_metadata(tree, url)
    text = normalize_text(doc.text or "")
    words = count_words(text)
    try:
        check_article(text, words, page, min_words=min_words)
    except ExtractionFailed as refusal:
        if refusal.reason not in SECOND_OPINION_REASONS:
            raise
        text, words = _second_opinion(html, tree, url, page, refusal, min_words, hidden_wrapper)
    return ExtractedArticle(
        text=text,
        # Metadata is text (service.ingest.metadata): pages put markup in it.
        title=_clean_field(strip_markup(meta.title)),
        author=_clean_field(strip_markup(meta.author)),
        site_name=_clean_field(strip_markup(meta.sitename)),
        published=_parse_date(meta.date),
        language=_language_tag(meta.language) or _page_language(tree),
        image=image_url(meta.image, url),
        description=_clean_field(strip_markup(meta.description)),
        canonical_url=_canonical_url(tree, url),
        word_count=words,
        content_hash=content_hash(text),
    )


def _second_opinion(
    html: str,
    tree: HtmlElement,
    url: str | None,
    page: PageSignals,
    refusal: ExtractionFailed,
    min_words: int,
    hidden_wrapper: bool,
) -> tuple[str, int]:
    """The first other reading the gate accepts; ``refusal`` when every reading is refused."""
    readings = second_opinions(html, tree, url, page, hidden_wrapper=hidden_wrapper, min_words=min_words)
    for raw, judged_by in readings:
        text = normalize_text(raw)
        words = count_words(text)
        try:
            check_article(text, words, judged_by, min_words=min_words)
        except ExtractionFailed:
            continue
        return text, words
    raise refusal


def _clean_field(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(_CONTROL.sub(" ", value).split())
    return value or None


def _parse_date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _language_tag(value: str | None) -> str | None:
    """The primary subtag of a language tag or locale ("en-GB", "de_DE" -> "en", "de")."""
    primary = re.split(r"[-_]", (value or "").strip().lower(), maxsplit=1)[0]
    if len(primary) in (2, 3) and primary.isascii() and primary.isalpha():
        return None if primary in {"und", "mul", "zxx"} else primary
    return None


def _page_language(tree: HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    candidates = [root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "content-language" or meta.get(
            "property"
        ) == "og:locale":
            candidates.append(meta.get("content"))
    return next((tag for c in candidates if (tag := _language_tag(c))), None)


def _canonical_url(tree: HtmlElement, url: str | None) -> str | None:
    hrefs = [
        link.get("href")
        for link in tree.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    hrefs += [m.get("content") for m in tree.iter("meta") if m.get("property") == "og:url"]
    for href in hrefs:
        candidate = urljoin(url, href.strip()) if url and href else (href or "").strip()
        parts = urlsplit(candidate)
        if parts.scheme in ("http", "https") and parts.netloc and len(candidate) <= 2048:
            return candidate
    return None
