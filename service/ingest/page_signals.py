"""What a parsed page says about itself, read once for the quality gate (service.ingest.quality).

Structured data, paywall markup and messages, error titles, headline cards, link labels,
consent dialogs. Element scans select their candidates with XPath (in C) and look at those
in Python: walking every element of a 100 KB page in Python costs more than extracting it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no stubs

from service.ingest.stubs import PAYWALL_MESSAGE

LEAD_WORDS = 3
"""A line starting with a link label of this many words is led by that link."""

CARD_MAX_CHARS = 600
"""A headline card's container stops growing at this much text (headline, dek, byline)."""

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

_PAYWALL_MARKUP = re.compile(
    r"pay-?wall|reg-?wall|subscribers?-?only|premium-(?:content|article|gate)"
    r"|piano-(?:paywall|offer)|meter(?:ed)?-(?:wall|gate)"
    r"|(?:content|article)-locked|locked-(?:content|article)",
    re.IGNORECASE,
)
_CONSENT = re.compile(
    r"\b(?:cmp|consent|cookie|gdpr|privacy-(?:wall|notice|banner)|sp_message)", re.IGNORECASE
)
_DIALOGS = etree.XPath("//*[@role='dialog' or @role='alertdialog' or @aria-modal='true']")
_MARKS = etree.XPath("//@class|//@id", smart_strings=False)
"""Every class and id value, as plain strings: one regex over them all is far cheaper than
looking at each element from Python."""
_PAYWALL_ATTR = etree.XPath("//@data-paywall", smart_strings=False)
_LABELLED_LINKS = etree.XPath("//body//a[@href][contains(substring-after(normalize-space(.), ' '), ' ')]")
"""Links whose label has LEAD_WORDS (three) words or more: headlines, not menu entries."""
_LINK_TEXT = etree.XPath("//body//a//text()", smart_strings=False)
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
_SEARCH_URL = re.compile(r"/search\b|[?&](?:q|s|query|search)=", re.IGNORECASE)
_JSON_FALSE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(?:false|no)"?', re.IGNORECASE)
_JSON_TYPE = re.compile(r'"@type"\s*:\s*"([^"]+)"')
_CLASS_SELECTOR = re.compile(r"^\s*\.([A-Za-z_][\w-]*)\s*$")
_BODY_TEXT = etree.XPath("string(//body)")


@dataclass(frozen=True, slots=True)
class PageSignals:
    """What the page's markup says about itself, read once from the parsed tree."""

    declared_listing: bool
    """A collection/search/profile type, or a search URL, and no article type
    (og:type ``article`` or a schema.org Article type)."""
    paid_markup: bool
    """``isAccessibleForFree`` false, or ``article:content_tier`` locked/metered."""
    paid_part_words: int | None
    """Words inside the element that the structured data names as the paid part (its
    ``hasPart.cssSelector``, a class); None when it names none or the page lacks it."""
    paywall_attribute: bool
    """An element carries ``data-paywall``."""
    marks: str
    """Every class and id value on the page, one per line."""
    visible_text: str
    """The body's text, boxes the extraction drops included."""
    error_title: bool
    """Title, og:title or h1 reads like an HTTP error page."""
    card_count: int
    cards_text: str
    """Headline cards' text, lower-cased, one card per line."""
    link_labels: frozenset[str]
    """Lower-cased text of links of LEAD_WORDS words or more (menu entries of one or two words
    never make a line of extracted text on their own; a page of them has no prose either)."""
    link_leads: tuple[str, ...]
    """The same labels, longest first: lines that start with one are a listing's "headline –
    date – dek" lines."""
    link_share: float
    """Share of the body's visible words that sit inside links."""
    unlinked_words: int
    """Visible words outside links: no reading of the page can find a longer article."""
    consent_text: str
    """Lower-cased text of cookie/consent dialogs, one paragraph per line."""

    # Asked only of short texts (paywall rules): a regex over a whole page costs milliseconds.

    def paywall_classes(self) -> bool:
        """An element whose class/id names a paywall: weak evidence, many free pages carry one."""
        return self.paywall_attribute or bool(_PAYWALL_MARKUP.search(self.marks))

    def paywall_message(self) -> bool:
        """The page's visible text (boxes the extraction drops included) asks the reader to
        subscribe, register or sign in to read on."""
        return bool(PAYWALL_MESSAGE.search(" ".join(self.visible_text.split())))


def read_page(tree: HtmlElement, url: str | None) -> PageSignals:
    """Collect the page-level signals the gate needs from a parsed (script- and hidden-text-free) tree."""
    types, json_unpaid, paid_selector = _structured_data(tree)
    og_type = _meta(tree, "og:type")
    declared_article = bool(types & ARTICLE_TYPES) or (og_type or "").lower() == "article"
    searchy = bool(url and _SEARCH_URL.search(url))
    declared_listing = not declared_article and (bool(types & LISTING_TYPES) or searchy)
    tier = (_meta(tree, "article:content_tier") or "").strip().lower()
    cards = _headline_cards(tree)
    labels, linked_words = _links(tree)
    visible = _BODY_TEXT(tree)
    names = _MARKS(tree)
    marks = "\n".join(names)
    total_words = len(visible.split())
    return PageSignals(
        declared_listing=declared_listing,
        paid_markup=json_unpaid or tier in {"locked", "metered"},
        paid_part_words=_words_in_class(tree, paid_selector),
        paywall_attribute=bool(_PAYWALL_ATTR(tree)),
        marks=marks,
        visible_text=visible,
        error_title=_has_error_title(tree),
        card_count=len(cards),
        cards_text="\n".join(cards),
        link_labels=frozenset(labels),
        link_leads=tuple(sorted(labels, key=len, reverse=True)),
        link_share=linked_words / total_words if total_words else 0.0,
        unlinked_words=max(0, total_words - linked_words),
        consent_text=_consent_text(tree, names),
    )


def _meta(tree: HtmlElement, name: str) -> str | None:
    for el in tree.iter("meta"):
        if name in (el.get("property"), el.get("name")):
            content = str(el.get("content") or "").strip()
            if content:
                return content
    return None


def _structured_data(tree: HtmlElement) -> tuple[frozenset[str], bool, str | None]:
    """schema.org types (lower-cased), whether any part says isAccessibleForFree=false, and
    the class its paid part names (``hasPart.cssSelector`` ``.name``)."""
    types: set[str] = set()
    unpaid = False
    selector: str | None = None
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
            if _is_false(node.get("isAccessibleForFree")):
                unpaid = True
                css = node.get("cssSelector")
                if isinstance(css, str) and (m := _CLASS_SELECTOR.match(css)):
                    selector = m.group(1)
    for el in tree.xpath("//*[@itemtype]"):
        types.update(t.rstrip("/").rsplit("/", 1)[-1].lower() for t in el.get("itemtype").split())
    for el in tree.xpath("//*[@itemprop='isAccessibleForFree']"):
        unpaid = unpaid or _is_false(el.get("content") or el.text_content())
    return frozenset(types), unpaid, selector


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


def _words_in_class(tree: HtmlElement, name: str | None) -> int | None:
    if name is None:
        return None
    found = tree.xpath("//*[contains(concat(' ', normalize-space(@class), ' '), $c)]", c=f" {name} ")
    if not found:
        return None
    return sum(len(el.text_content().split()) for el in found)


def _has_error_title(tree: HtmlElement) -> bool:
    titles = [el.text_content() for el in tree.iter("title", "h1")]
    titles.append(_meta(tree, "og:title") or "")
    return any(_ERROR_TITLE.search(" ".join(t.split())) for t in titles if t)


def _consent_text(tree: HtmlElement, names: list[str]) -> str:
    """Text of dialogs and of elements whose class or id names a consent box."""
    boxes = list(_DIALOGS(tree))
    named = sorted({n for n in names if _CONSENT.search(n)})[:20]  # a few distinct values at most
    if named:
        test = " or ".join(f"@class=$n{i} or @id=$n{i}" for i in range(len(named)))
        boxes.extend(tree.xpath(f"//*[{test}]", **{f"n{i}": n for i, n in enumerate(named)}))
    lines: list[str] = []
    for el in dict.fromkeys(boxes):
        lines.extend(" ".join(t.split()).lower() for t in el.itertext() if t.strip())
    return "\n".join(lines)


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


def _links(tree: HtmlElement) -> tuple[set[str], int]:
    """Labels of links of LEAD_WORDS words or more (lower-cased), and the words inside links.

    Nested anchors (invalid HTML, but parsed) would count twice; the share is a rough signal.
    """
    labels = {" ".join(a.text_content().split()).lower() for a in _LABELLED_LINKS(tree)}
    return labels, len(" ".join(_LINK_TEXT(tree)).split())
