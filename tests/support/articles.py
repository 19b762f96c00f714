"""Original, realistic article pages for tests: distinct per seed, deterministic."""

from __future__ import annotations

import html

_COMPANIES = [
    "Northwind Energy",
    "Halvorsen Robotics",
    "Corvid Analytics",
    "Tallgrass Foods",
    "Meridian Rail",
    "Bluefin Semiconductors",
    "Oakridge Health",
    "Larkspur Media",
    "Quillon Aerospace",
    "Saltmarsh Water",
]
_CITIES = [
    "Callowmere",
    "Fennick",
    "Port Aldous",
    "Wrenfield",
    "Marrowgate",
    "Easthaven",
    "Tolbridge",
    "Kestwick",
]
_PEOPLE = [
    "Dana Whitfield",
    "Tomas Reyes",
    "Ingrid Solberg",
    "Amara Okafor",
    "Felix Brandt",
    "Mei Lin Zhou",
    "Rafael Duarte",
    "Hannah Kowalski",
]


def article_text(seed: int, *, revision: int = 0) -> tuple[str, list[str]]:
    """(title, paragraphs) of a ~350-word news story that differs by seed (and by revision)."""
    company = _COMPANIES[seed % len(_COMPANIES)]
    city = _CITIES[seed % len(_CITIES)]
    person = _PEOPLE[seed % len(_PEOPLE)]
    rival = _COMPANIES[(seed + 3) % len(_COMPANIES)]
    amount = 120 + 37 * seed
    jobs = 40 + 11 * seed
    title = f"{company} commits {amount} million to a new plant in {city} (story {seed})"
    paragraphs = [
        f"{company} will spend {amount} million dollars on a new manufacturing plant in {city}, "
        f"the company announced on Monday, in what executives described as the largest single "
        f"investment in its history.",
        f"Chief executive {person} said the plant would open in the second half of next year and "
        f"employ about {jobs} people once it reaches full production, with more jobs during the "
        f"construction phase.",
        f'"We chose {city} because the workforce is skilled and the port gives us direct access to '
        f'our suppliers," {person} told reporters at a press conference outside the town hall.',
        "The regional council approved the planning application last month after a consultation "
        "that drew several hundred responses, most of them in favour of the project.",
        "Critics on the council warned that heavy lorries would crowd residential streets during "
        "construction, and asked the company to fund road repairs along the harbour route.",
        f"Analysts said the move puts pressure on {rival}, which has delayed its own expansion "
        f"plans twice this year citing high borrowing costs and uncertain demand.",
        f"Shares in {company} rose four percent in early trading after the announcement, while the "
        f"wider market was little changed.",
        "The company said it would publish an apprenticeship plan before construction begins and "
        "that at least a third of the new roles would go to people hired from the local area.",
        "Union representatives welcomed the investment but said they would watch closely whether "
        "the promised training places actually materialise over the next two years.",
    ]
    if revision:
        paragraphs.append(
            f"Update {revision}: the company later confirmed that the first phase of the plant "
            f"will be powered entirely by a new solar farm built on adjacent land."
        )
    return title, paragraphs


def article_page(seed: int, *, revision: int = 0, canonical: str | None = None) -> str:
    """The story inside realistic site chrome: nav, cookie banner, newsletter box, footer."""
    title, paragraphs = article_text(seed, revision=revision)
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    canonical_tag = f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | The Harbour Courier</title>
<meta property="og:site_name" content="The Harbour Courier">
<meta property="og:type" content="article">
<meta name="author" content="Staff Reporter">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
{canonical_tag}
</head><body>
<header><nav><a href="/">Home</a> <a href="/business">Business</a> <a href="/sport">Sport</a>
<a href="/weather">Weather</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<main><article>
<h1>{html.escape(title)}</h1>
<p class="byline">By Staff Reporter, 20 November 2026</p>
{body}
</article>
<aside class="newsletter">Sign up for our morning briefing. Enter your email address.</aside>
</main>
<footer>© 2026 The Harbour Courier. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""
