"""The extraction quality gate: is this text a whole article worth analysing?

Two steps. ``read_page`` looks at the parsed page once (structured data, paywall
markup, error titles, headline cards, link labels); ``check_article`` weighs those
signals against the text trafilatura extracted and raises ``ExtractionFailed`` with
one of the reasons ``paywall``, ``not_article``, ``empty`` or ``too_short``.

The heuristics refuse only on agreement between the page and the text: markup alone
never refuses a long prose article, and text shape alone needs many lines to judge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no stubs

from service.errors import ExtractionFailed

# --- thresholds (why each value is what it is) ----------------------------------------------

MAX_HTML_CHARS = 10_000_000
"""Pages above this are refused before parsing: an lxml tree takes ~10x its input in memory."""

TEASER_MAX_WORDS = 400
"""Paywall evidence refuses only texts shorter than this: teasers run one to four
paragraphs, while sites that mark an article paid yet serve it whole (to crawlers, or
metered) deliver the full length, which we keep."""

ERROR_PAGE_MAX_WORDS = 300
"""An error title refuses only short texts, so an article *about* a 404 survives."""

MIN_CARDS = 5
"""Headline cards (a heading that links elsewhere, in its own small container) before a
page can count as a listing; article pages carry a few "related" cards, not a grid."""

CARD_MAX_CHARS = 600
"""A headline card's container stops growing at this much text (headline, dek, byline)."""

LISTING_SHARE = 0.5
"""Share of the extracted words coming from cards, or from lines that are whole link
labels, above which the text is about other pages rather than being one."""

MIN_LINK_LINES = 5
"""Lines that are whole link labels before the link-share rule applies."""

PROSE_LINE_WORDS = 15
"""A prose line has at least this many words and sentence punctuation."""

FRAGMENT_MIN_LINES = 8
FRAGMENT_MAX_PROSE = 0.3
"""With at least this many lines and under this share of words in prose lines, the
text is fragments: menus, link lists, tables, captions."""

DECLARED_LISTING_MAX_PROSE = 0.5
"""A page that declares itself a collection or search page is refused below this prose
share; a declared listing with real prose (an essay-style hub page) is kept."""

# --- patterns -----------------------------------------------------------------------------

ARTICLE_TYPES = frozenset(
    {
        *("article", "newsarticle", "blogposting", "report", "reportagenewsarticle"),
        *("analysisnewsarticle", "opinionnewsarticle", "backgroundnewsarticle"),
        *("reviewnewsarticle", "scholarlyarticle", "techarticle", "satiricalarticle"),
        *("socialmediaposting", "liveblogposting", "review"),
    }
)
LISTING_TYPES = frozenset({"collectionpage", "searchresultspage", "itemlist", "profilepage"})
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")

_STRONG_STUB = re.compile(
    r"""(?:subscribe|sign\ up|register|log\ ?in|sign\ in)(?:\ now|\ today)?
          \ to\ (?:continue|keep|start)\ reading
    | to\ (?:continue|keep)\ reading,?\ (?:please\ )?
          (?:subscribe|sign\ in|log\ ?in|register|become\ a\ member)
    | (?:this|the\ rest\ of\ this|the\ full)\ (?:article|story|content)\ is\ (?:only\ )?
          (?:available|reserved|exclusive)(?:\ only)?\ (?:to|for)\ (?:paying\ |our\ )?
          (?:subscribers|members|premium)
    | subscribers?[-\ ]only\ (?:article|content|story)
    | you(?:'|’ve|\ have)\ (?:reached|used)\ (?:your|all(?:\ of)?\ your)\ (?:limit\ of\ )?
          (?:\d+\ )?free\ (?:articles|stories)
    | (?:unlock|read)\ (?:this|the\ full|the\ rest\ of\ this)\ (?:article|story)\ (?:with|by|for)
    | create\ a\ free\ account\ to\ (?:continue|keep)\ reading""",
    re.IGNORECASE | re.VERBOSE,
)
_WEAK_STUB = re.compile(r"already an? (?:subscriber|member)\?", re.IGNORECASE)
_PAYWALL_MARKUP = re.compile(
    r"pay-?wall|reg-?wall|subscribers?-?only|premium-(?:content|article|gate)"
    r"|piano-(?:paywall|offer)|meter(?:ed)?-(?:wall|gate)"
    r"|(?:content|article)-locked|locked-(?:content|article)",
    re.IGNORECASE,
)
_ERROR_TITLE = re.compile(
    r"\b(?:error|http)\s*404\b|\b404\s*(?:error|[-–—:|]?\s*(?:page\s+)?not\s+found)"
    r"|^\s*(?:404|410)\s*(?:[|–—:-].*)?$"
    r"|\bpage\s+(?:was\s+|could\s+)?not\s+(?:be\s+)?found\b"
    r"|\b(?:page|content)\s+(?:does\s+not|doesn['’]t|no\s+longer)\s+exists?\b"
    r"|\bcan(?:no|['’])t\s+(?:find|locate)\s+(?:that|this|the|your)\s+page\b"
    r"|^\s*(?:403\s+)?forbidden\b|\baccess\s+denied\b|\binternal\s+server\s+error\b"
    r"|\bservice\s+(?:temporarily\s+)?unavailable\b|\bbad\s+gateway\b|\bgateway\s+time-?out\b",
    re.IGNORECASE | re.MULTILINE,
)
_MARKUP = re.compile(
    r"<(?:!doctype\s+html|html|head|body|main|article|section|div|p|h[1-6]|title|meta)\b", re.I
)
_FEED = re.compile(r"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.S | re.I)
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_SEARCH_URL = re.compile(r"/search\b|[?&](?:q|s|query|search)=", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’“»«)\]]*$|[.!?…][\"'”’»)\]]*\s+\S")
_BULLET = re.compile(r"^[-•*·▪]\s+")
_IDEOGRAPH = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
_JSON_FALSE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(?:false|no)"?', re.IGNORECASE)
_JSON_TYPE = re.compile(r'"@type"\s*:\s*"([^"]+)"')


@dataclass(frozen=True, slots=True)
class PageSignals:
    """What the page's markup says about itself, read once from the parsed tree."""

    declared_listing: bool
    """A collection/search/profile type, or a search URL, and no article type
    (og:type ``article`` or a schema.org Article type)."""
    paid_markup: bool
    """``isAccessibleForFree`` false, or ``article:content_tier`` locked/metered."""
    paywall_classes: bool
    """An element whose class/id names a paywall: weak evidence, many free pages carry one."""
    error_title: bool
    """Title, og:title or h1 reads like an HTTP error page."""
    card_count: int
    cards_text: str
    """Headline cards' text, lower-cased, one card per line."""
    link_labels: frozenset[str]
    """Lower-cased text of links of two words or more."""
    link_share: float
    """Share of the body's visible words that sit inside links."""


def read_page(tree: HtmlElement, url: str | None) -> PageSignals:
    """Collect the page-level signals the gate needs from a parsed (hidden-text-free) tree."""
    types, json_unpaid = _structured_data(tree)
    og_type = _meta(tree, "og:type")
    declared_article = bool(types & ARTICLE_TYPES) or (og_type or "").lower() == "article"
    searchy = bool(url and _SEARCH_URL.search(url))
    declared_listing = not declared_article and (bool(types & LISTING_TYPES) or searchy)
    tier = (_meta(tree, "article:content_tier") or "").strip().lower()
    cards = _headline_cards(tree)
    return PageSignals(
        declared_listing=declared_listing,
        paid_markup=json_unpaid or tier in {"locked", "metered"},
        paywall_classes=_has_paywall_classes(tree),
        error_title=_has_error_title(tree),
        card_count=len(cards),
        cards_text="\n".join(cards),
        link_labels=_link_labels(tree),
        link_share=_link_share(tree),
    )


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
    teaser_limit = max(TEASER_MAX_WORDS, min_words)
    strong_stub = bool(_STRONG_STUB.search(text))
    if words < teaser_limit and (page.paid_markup or strong_stub):
        raise ExtractionFailed(
            f"the page is paywalled: only a {words}-word teaser is visible", reason="paywall"
        )
    if words < min_words and (page.paywall_classes or _WEAK_STUB.search(text)):
        raise ExtractionFailed(f"the page looks paywalled: only {words} words are visible", reason="paywall")
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
    link_lines = [n for line, n in zip(lines, counts, strict=True) if line.lower() in page.link_labels]
    if len(link_lines) >= MIN_LINK_LINES and sum(link_lines) / words >= LISTING_SHARE:
        return "the page is navigation: most of its text is link labels"
    if page.declared_listing and prose_share < DECLARED_LISTING_MAX_PROSE:
        return "the page declares itself a collection or search page and has little prose"
    if len(lines) >= FRAGMENT_MIN_LINES and prose_share < FRAGMENT_MAX_PROSE:
        return "the page has no running prose, only short fragments (menus, lists or tables)"
    return None


def _is_prose(line: str, words: int) -> bool:
    return words >= PROSE_LINE_WORDS and bool(_SENTENCE_END.search(line))


# --- page reading ------------------------------------------------------------------------------


def _meta(tree: HtmlElement, name: str) -> str | None:
    for el in tree.iter("meta"):
        if name in (el.get("property"), el.get("name")):
            content = str(el.get("content") or "").strip()
            if content:
                return content
    return None


def _structured_data(tree: HtmlElement) -> tuple[frozenset[str], bool]:
    """schema.org types (lower-cased) and whether any part says isAccessibleForFree=false."""
    types: set[str] = set()
    unpaid = False
    for script in tree.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        raw = script.text
        try:
            data: Any = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            # Broken JSON-LD is common (trailing commas, HTML entities); the two facts we
            # need survive a plain text search.
            types.update(t.lower() for t in _JSON_TYPE.findall(raw))
            unpaid = unpaid or bool(_JSON_FALSE.search(raw))
            continue
        for node in _walk(data):
            kind = node.get("@type")
            for t in kind if isinstance(kind, list) else [kind]:
                if isinstance(t, str):
                    types.add(t.rsplit("/", 1)[-1].lower())
            unpaid = unpaid or _is_false(node.get("isAccessibleForFree"))
    for el in tree.iter():
        itemtype = el.get("itemtype")
        if itemtype:
            types.update(t.rstrip("/").rsplit("/", 1)[-1].lower() for t in itemtype.split())
        if el.get("itemprop") == "isAccessibleForFree":
            unpaid = unpaid or _is_false(el.get("content") or el.text_content())
    return frozenset(types), unpaid


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside ``data`` (iteratively: a page controls the nesting depth)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _is_false(value: Any) -> bool:
    if value is False:
        return True
    return isinstance(value, str) and value.strip().lower() in {"false", "no"}


def _has_paywall_classes(tree: HtmlElement) -> bool:
    for el in tree.iter():
        marks = f"{el.get('class') or ''} {el.get('id') or ''}"
        if el.get("data-paywall") is not None or (marks.strip() and _PAYWALL_MARKUP.search(marks)):
            return True
    return False


def _has_error_title(tree: HtmlElement) -> bool:
    titles = [el.text_content() for el in tree.iter("title", "h1")]
    titles.append(_meta(tree, "og:title") or "")
    return any(_ERROR_TITLE.search(" ".join(t.split())) for t in titles if t)


def _headline_cards(tree: HtmlElement) -> list[str]:
    """Text of each teaser card: a heading linking to another page, grown to its container."""
    # keyed by element: lxml proxies are only kept (and id()s only stable) while referenced
    cards: dict[HtmlElement, str] = {}
    for heading in tree.iter(*HEADINGS):
        if not _links_away(heading) or len(heading.text_content().split()) < 3:
            continue
        card = heading
        text = _text_within(card, CARD_MAX_CHARS) or ""
        parent = card.getparent()
        # Grow while the container stays small and holds no second heading: that is the
        # teaser's own box (headline, dek, byline), not the list that holds the teasers.
        while parent is not None and parent.tag != "body":
            parent_text = _text_within(parent, CARD_MAX_CHARS)
            if parent_text is None or sum(1 for _ in parent.iter(*HEADINGS)) > 1:
                break
            card, text = parent, parent_text
            parent = card.getparent()
        cards[card] = text.lower()
    return list(cards.values())


def _links_away(heading: HtmlElement) -> bool:
    anchors = list(heading.iter("a"))
    ancestor = heading.getparent()
    for _ in range(3):
        if ancestor is None:
            break
        if ancestor.tag == "a":
            anchors.append(ancestor)
        ancestor = ancestor.getparent()
    for a in anchors:
        href = (a.get("href") or "").strip()
        # "#section" permalinks on sub-headings are not links to other pages
        if href and not href.startswith(("#", "javascript:")):
            return True
    return False


def _text_within(el: HtmlElement, limit: int) -> str | None:
    """The element's normalised text, or None as soon as it passes ``limit`` characters."""
    parts: list[str] = []
    size = 0
    for chunk in el.itertext():
        words = chunk.split()
        size += sum(len(w) + 1 for w in words)
        if size > limit + 1:
            return None
        parts.extend(words)
    return " ".join(parts)


_VISIBLE_TEXT = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"


def _link_share(tree: HtmlElement) -> float:
    total = sum(len(chunk.split()) for chunk in tree.xpath(_VISIBLE_TEXT))
    linked = sum(len(chunk.split()) for chunk in tree.xpath(_VISIBLE_TEXT + "[ancestor::a]"))
    return linked / total if total else 0.0


def _link_labels(tree: HtmlElement) -> frozenset[str]:
    labels = set()
    for a in tree.iter("a"):
        if a.get("href") is None:
            continue
        label = " ".join(a.text_content().split()).lower()
        if len(label.split()) >= 2:
            labels.add(label)
    return frozenset(labels)
