"""A labelled set for story clustering: original, hand-written articles (invented places,
companies and people) about six events, each told by two or three "outlets" in their own
words, plus decoys that share the entities of an event but report something else, or share
its topic but name other actors. ``event`` is the label: articles with the same event belong
in one story; every decoy is an event of its own. The texts are tests/support/story_texts.py.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import combinations

from tests.support.story_texts import DECOYS, EVENTS

OUTLETS = {
    "courier": ("The Harbour Courier", "harbour-courier.example"),
    "ledger": ("Valley Ledger", "valley-ledger.example"),
    "dispatch": ("Evening Dispatch", "evening-dispatch.example"),
}


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    key: str
    event: str
    outlet: str
    title: str
    paragraphs: tuple[str, ...]

    @property
    def url(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return f"https://{OUTLETS[self.outlet][1]}/news/{slug}"

    def page(self) -> str:
        """The article inside its outlet's page chrome."""
        site = OUTLETS[self.outlet][0]
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(self.title)} | {site}</title>
<meta property="og:site_name" content="{site}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
</head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/opinion">Opinion</a></nav></header>
<main><article><h1>{html.escape(self.title)}</h1>
<p class="byline">By a staff reporter</p>
{body}
</article>
<aside class="newsletter">Get our evening briefing in your inbox. Sign up today.</aside>
</main>
<footer>© 2026 {site}. All rights reserved.</footer>
</body></html>"""


ARTICLES: tuple[LabelledArticle, ...] = tuple(
    LabelledArticle(key, event, outlet, title, tuple(paragraphs))
    for key, event, outlet, title, *paragraphs in EVENTS + DECOYS
)

BY_KEY = {article.key: article for article in ARTICLES}


def true_pairs(keys: list[str]) -> set[frozenset[str]]:
    """Unordered pairs of ``keys`` that report the same event."""
    return {frozenset(p) for p in combinations(keys, 2) if BY_KEY[p[0]].event == BY_KEY[p[1]].event}


def pairwise_scores(clusters: dict[str, object]) -> tuple[float, float]:
    """(precision, recall) of a clustering {article key: cluster id} against the labels, pairwise."""
    keys = sorted(clusters)
    predicted = {frozenset(p) for p in combinations(keys, 2) if clusters[p[0]] == clusters[p[1]]}
    truth = true_pairs(keys)
    precision = len(predicted & truth) / len(predicted) if predicted else 1.0
    recall = len(predicted & truth) / len(truth) if truth else 1.0
    return precision, recall
