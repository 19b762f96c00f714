"""Readings of a page: the tree extraction starts from, and second opinions when the gate refuses.

The first reading is trafilatura with ``favor_precision`` on the page without its hidden
text. When the quality gate refuses that text as empty, short, fragments or a teaser, the
page may still hold a real article that the first reading missed: precision's stricter
pruning drops link-rich paragraphs, and a page revealed by script (an anti-flicker wrapper
at ``opacity:0``) hides everything at first. ``second_opinions`` yields the other readings
(trafilatura's balanced and recall modes, and the page with such a wrapper shown); the
extractor keeps the first the gate accepts, and refuses only what every reading refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no stubs
from trafilatura import bare_extraction
from trafilatura.deduplication import LRUCache
from trafilatura.settings import Document
from trafilatura.utils import load_html

from service.errors import ExtractionFailed
from service.ingest.page_signals import PageSignals, read_page

Focus = Literal["precision", "balanced", "recall"]

SECOND_OPINION_REASONS = frozenset({"empty", "too_short", "not_article", "paywall"})
"""Refusals another reading can overturn; the others (not_html, too_large…) are about the input."""

WRAPPER_SHARE = 0.5
"""A hidden element holding at least this share of the page's words is a wrapper that the
page reveals by script, not hidden text slipped into an article."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_HIDDEN_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden"
    r"|font-size\s*:\s*0(?:\.0*)?(?:px|em|rem|pt|%)?|opacity\s*:\s*0(?:\.0*)?"
    r"|(?:left|top|text-indent)\s*:\s*-\d{4,}(?:px)?)\s*(?:!important\s*)?(?:;|$)",
    re.I,
)
_HIDDEN_CANDIDATES = etree.XPath("//*[@hidden or @style]")
_SCRIPTS = etree.XPath("//script[not(contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json'))]")
_INERT = ("style", "svg", "noscript", "iframe", "object", "embed", "canvas", "template")
"""Elements that never hold article text. Removed before anything reads the tree: on real
pages they are a large share of the elements (icon sprites, inline CSS and scripts), and
trafilatura copies and walks the whole tree several times per page."""
_WORDS = etree.XPath("string(//body)")


def parse_page(html: str, *, reveal: bool = False) -> tuple[HtmlElement, bool]:
    """The page's tree without inert elements and hidden text, and whether a hidden wrapper
    holding most of the page was dropped. ``reveal``: keep such wrappers (shown) instead."""
    # A lone surrogate (from a surrogateescape decode) makes lxml drop the whole document.
    tree = load_html(_SURROGATE.sub("\ufffd", html))
    if tree is None:
        raise ExtractionFailed("the input could not be parsed as HTML", reason="not_html")
    for script in _SCRIPTS(tree):  # JSON-LD stays: metadata and the gate read it
        script.drop_tree()
    etree.strip_elements(tree, *_INERT, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return tree, _drop_hidden(tree, reveal=reveal)


def _drop_hidden(tree: HtmlElement, *, reveal: bool) -> bool:
    """Remove what a reader cannot see: hidden text is a prompt-injection vector.

    A hidden element holding most of the page's words is a wrapper the page shows by
    script; it is dropped like the rest (True is returned), or with ``reveal`` shown.
    """
    doomed = [
        el
        for el in _HIDDEN_CANDIDATES(tree)
        if el.get("hidden") is not None or _HIDDEN_STYLE.search(el.get("style") or "")
    ]
    if not doomed:
        return False
    page_words = len(_WORDS(tree).split())
    wrapper = False
    for el in doomed:
        if page_words and len(el.text_content().split()) >= WRAPPER_SHARE * page_words:
            wrapper = True
            if reveal:
                el.attrib.pop("hidden", None)
                el.attrib.pop("style", None)
                continue
        el.drop_tree()  # keeps the element's tail, which belongs to the visible parent
    return wrapper


def extract_document(tree: HtmlElement, url: str | None, *, focus: Focus, fast: bool = False) -> Document:
    """trafilatura's text of ``tree`` (left unchanged: trafilatura works on a copy), without
    metadata (service.ingest.article_meta reads that once). ``fast``: without its comparison
    with readability and jusText."""
    doc = bare_extraction(
        tree,
        url=url,
        fast=fast,
        favor_precision=focus == "precision",
        favor_recall=focus == "recall",
        include_comments=False,
        with_metadata=False,
        # Tables carry facts (results, budgets); trafilatura still drops layout tables.
        include_tables=True,
        # A fresh cache per page: the default one is process-wide, so a worker would start
        # dropping paragraphs it saw on earlier pages and the same page would extract differently.
        deduplicate=LRUCache(maxsize=4096),
    )
    return doc if isinstance(doc, Document) else Document()


def second_opinions(
    html: str, tree: HtmlElement, url: str | None, page: PageSignals, *, hidden_wrapper: bool, min_words: int
) -> Iterator[tuple[str, PageSignals]]:
    """Raw texts of the page under the other readings, with the page signals each is judged by.

    Cheapest first: balanced without the external comparison, then recall with it (it
    brings in readability's and jusText's readings). A page with fewer visible words outside
    links than an article needs is not read again, unless a hidden wrapper held most of it.
    """
    if page.unlinked_words >= min_words:
        yield extract_document(tree, url, focus="balanced", fast=True).text or "", page
        yield extract_document(tree, url, focus="recall").text or "", page
    if hidden_wrapper:
        shown, _ = parse_page(html, reveal=True)
        shown_page = read_page(shown, url)
        for focus in ("precision", "balanced"):
            yield extract_document(shown, url, focus=focus).text or "", shown_page
