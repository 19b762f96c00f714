"""The extraction quality gate: is this text a whole article worth analysing?

Two steps. ``read_page`` (service.ingest.page_signals) looks at the parsed page once
(structured data, paywall markup and messages, error titles, headline cards, link labels,
consent dialogs); ``check_article`` weighs those signals against the text extracted and
raises ``ExtractionFailed`` with one of the reasons ``paywall``, ``not_article``, ``empty``
or ``too_short``.

The heuristics refuse only on agreement between the page and the text: markup alone
never refuses a long prose article, and text shape alone needs many lines to judge.
A refusal is not the last word either: the extractor asks other readings of the page
(service.ingest.readings) before it gives up on a page.
"""

from __future__ import annotations

import re

from service.errors import ExtractionFailed
from service.ingest.page_signals import PageSignals, read_page
from service.ingest.stubs import STRONG_STUB, WEAK_STUB

__all__ = ["PageSignals", "check_article", "check_length", "count_words", "read_page", "refuse_non_html"]

# --- thresholds (why each value is what it is) ----------------------------------------------

MAX_HTML_CHARS = 10_000_000
"""Pages above this are refused before parsing: an lxml tree takes ~10x its input in memory."""

TEASER_MAX_WORDS = 400
"""Paywall evidence refuses only texts shorter than this: teasers run one to four
paragraphs, while sites that mark an article paid yet serve it whole (to crawlers, or
metered) deliver the full length, which we keep."""

TEASER_FLOOR_WORDS = 200
"""Paid markup alone (no subscribe message, no paywall element, no paid part to measure)
refuses only texts under this: a metered site marks every article paid and serves short
ones whole, and a teaser longer than this with nothing asking to subscribe is rare."""

ERROR_PAGE_MAX_WORDS = 300
"""An error title refuses only short texts, so an article *about* a 404 survives."""

MIN_CARDS = 5
"""Headline cards (a heading that links elsewhere, in its own small container) before a
page can count as a listing; article pages carry a few "related" cards, not a grid."""

LISTING_SHARE = 0.5
"""Share of the extracted words coming from cards, from lines led by a link label, or from
a consent dialog, above which the text is about other pages (or cookies) rather than being one."""

MIN_LINK_LINES = 5
"""Lines led by a link label before the link-share rule applies."""

PROSE_LINE_WORDS = 10
"""A prose line has at least this many words (CJK: two characters a word) and sentence
punctuation; bullet points of full sentences ("- Talks broke down on Friday after eleven
hours.") are prose, menu entries and captions (no full stop) are not."""

FRAGMENT_MIN_LINES = 8
FRAGMENT_MAX_PROSE = 0.3
"""With at least this many lines and under this share of words in prose lines, the
text is fragments: menus, link lists, tables, captions."""

DECLARED_LISTING_MAX_PROSE = 0.5
"""A page that declares itself a collection or search page is refused below this prose
share; a declared listing with real prose (an essay-style hub page) is kept."""

# --- patterns -----------------------------------------------------------------------------

_MARKUP = re.compile(
    r"<(?:!doctype\s+html|html|head|body|main|article|section|div|p|h[1-6]|title|meta)\b", re.I
)
_FEED = re.compile(r"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.S | re.I)
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’“»«)\]]*$|[.!?…][\"'”’»)\]]*\s+\S|[。！？]")
_BULLET = re.compile(r"^[-•*·▪]\s+")
_IDEOGRAPH = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+(?:['’\-]\w+)*")


def refuse_non_html(html: str) -> None:
    """Refuse, before parsing, inputs that are too large or are not HTML at all."""
    if len(html) > MAX_HTML_CHARS:
        raise ExtractionFailed(
            f"the page is {len(html):,} characters; the limit is {MAX_HTML_CHARS:,}",
            reason="too_large",
        )
    if not html.strip():
        raise ExtractionFailed("the page is empty", reason="empty")
    head = html[:65536]
    if head.lstrip().startswith("%PDF-") or len(_BINARY.findall(head)) > len(head) // 100:
        raise ExtractionFailed("the input is binary data, not HTML", reason="not_html")
    if head.count("\ufffd") > len(head) // 20:
        raise ExtractionFailed("the input is mis-decoded binary data, not HTML", reason="not_html")
    if _FEED.match(head):
        raise ExtractionFailed("the input is an RSS/Atom feed, not an article page", reason="not_article")
    if not _MARKUP.search(html):
        raise ExtractionFailed("the input has no HTML markup", reason="not_html")


def check_article(text: str, words: int, page: PageSignals, *, min_words: int) -> None:
    """Raise ``ExtractionFailed`` unless ``text`` is a whole article of ``min_words`` or more.

    Order matters: the specific reasons (paywall, not_article) win over the generic
    ones (empty, too_short) because they tell the caller what to do differently.
    """
    _check_paywall(text, words, page, min_words=min_words)
    if page.error_title and words < ERROR_PAGE_MAX_WORDS:
        raise ExtractionFailed("the page is an error page (not found or unavailable)", reason="not_article")
    if words < min_words:
        # Little text on a page made of headlines or links: the page is the listing,
        # not a short article, and saying so tells the caller to pick an article URL.
        if page.card_count >= MIN_CARDS:
            raise ExtractionFailed(
                f"the page is a listing of {page.card_count} headlines, not an article",
                reason="not_article",
            )
        if page.link_share >= LISTING_SHARE:
            raise ExtractionFailed("the page is navigation: most of its text is links", reason="not_article")
    if words == 0:
        raise ExtractionFailed("no article text was found on the page", reason="empty")
    verdict = _listing_verdict(text, words, page)
    if verdict:
        raise ExtractionFailed(verdict, reason="not_article")
    check_length(words, min_words=min_words)


def _check_paywall(text: str, words: int, page: PageSignals, *, min_words: int) -> None:
    """Refuse a teaser: a short text with a subscribe message in it, or paid markup that
    something corroborates (a subscribe box anywhere on the page, a paywall element, a paid
    part that holds no whole article, or a text too short to be one)."""
    if words >= max(TEASER_MAX_WORDS, min_words):
        return
    teaser = f"the page is paywalled: only a {words}-word teaser is visible"
    if STRONG_STUB.search(text):
        raise ExtractionFailed(teaser, reason="paywall")
    # The structured data names the paid part and the page holds it whole: a metered page
    # served in full, whatever the extraction made of it.
    served_whole = page.paid_part_words is not None and page.paid_part_words >= min_words
    if page.paid_markup and not served_whole:
        corroborated = page.paid_part_words is not None or page.paywall_classes() or page.paywall_message()
        if corroborated or words < TEASER_FLOOR_WORDS:
            raise ExtractionFailed(teaser, reason="paywall")
    if words < min_words and (WEAK_STUB.search(text) or page.paywall_classes() or page.paywall_message()):
        raise ExtractionFailed(f"the page looks paywalled: only {words} words are visible", reason="paywall")


def check_length(words: int, *, min_words: int) -> None:
    """Refuse an empty text (``empty``) or one under ``min_words`` words (``too_short``)."""
    if words == 0:
        raise ExtractionFailed("no article text was found", reason="empty")
    if words < min_words:
        raise ExtractionFailed(
            f"the article has {words} words; at least {min_words} are needed",
            reason="too_short",
            words=words,
            min_words=min_words,
        )


def count_words(text: str) -> int:
    """Words in ``text``; runs of Han/kana count one word per two characters (no spaces there)."""
    ideographs = len(_IDEOGRAPH.findall(text))
    return len(_WORD.findall(_IDEOGRAPH.sub(" ", text))) + (ideographs + 1) // 2


# --- text shape --------------------------------------------------------------------------------


def _listing_verdict(text: str, words: int, page: PageSignals) -> str | None:
    lines = [_BULLET.sub("", line) for line in text.splitlines() if line.strip()]
    counts = [count_words(line) for line in lines]
    prose = sum(n for line, n in zip(lines, counts, strict=True) if _is_prose(line, n))
    prose_share = prose / words
    if page.card_count >= MIN_CARDS:
        in_cards = sum(n for line, n in zip(lines, counts, strict=True) if line.lower() in page.cards_text)
        if in_cards / words >= LISTING_SHARE:
            return f"the page is a listing of {page.card_count} headlines and teasers, not an article"
    lowered = [line.lower() for line in lines]
    led = [n for line, n in zip(lowered, counts, strict=True) if _led_by_link(line, page)]
    if len(led) >= MIN_LINK_LINES and sum(led) / words >= LISTING_SHARE:
        return "the page is navigation: most of its text is link labels and the lines they lead"
    if page.consent_text:
        consent = sum(n for line, n in zip(lowered, counts, strict=True) if line in page.consent_text)
        if consent / words >= LISTING_SHARE:
            return "the page is a cookie consent wall: the article is not served before consent"
    if page.declared_listing and prose_share < DECLARED_LISTING_MAX_PROSE:
        return "the page declares itself a collection or search page and has little prose"
    if len(lines) >= FRAGMENT_MIN_LINES and prose_share < FRAGMENT_MAX_PROSE:
        return "the page has no running prose, only short fragments (menus, lists or tables)"
    return None


def _led_by_link(line: str, page: PageSignals) -> bool:
    """The line is a link label, or starts with one of several words (tag pages and search
    results list "headline – date – dek" lines)."""
    return line in page.link_labels or bool(page.link_leads and line.startswith(page.link_leads))


def _is_prose(line: str, words: int) -> bool:
    return words >= PROSE_LINE_WORDS and bool(_SENTENCE_END.search(line))
