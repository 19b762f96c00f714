"""The sample article the README's first steps analyse (`signals sample`).

``leak-sensors.txt`` is a news-style article written for this project (MIT, like the rest of
it; the town, company and people are invented): long enough for the quality gate, with
quotes, figures and names, so that the development stub and real models alike have something
to work with. Its header lines (``Key: value``) are metadata; the paragraphs after the
first blank line are the article.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from importlib.resources import files

SAMPLE_FILE = "leak-sensors.txt"


@dataclass(frozen=True, slots=True)
class SampleArticle:
    title: str
    author: str
    site_name: str
    published: str
    language: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def load_sample() -> SampleArticle:
    """The sample article, read from the package."""
    raw = files("service.samples").joinpath(SAMPLE_FILE).read_text(encoding="utf-8")
    header, _, body = raw.partition("\n\n")
    meta = dict(line.split(": ", 1) for line in header.splitlines())
    return SampleArticle(
        title=meta["Title"],
        author=meta["Author"],
        site_name=meta["Site"],
        published=meta["Published"],
        language=meta["Language"],
        paragraphs=tuple(p.strip() for p in body.split("\n\n") if p.strip()),
    )


def sample_request() -> dict[str, str]:
    """A ``POST /v1/signals`` body that sends the sample as text."""
    sample = load_sample()
    return {"title": sample.title, "text": sample.text}


def sample_page() -> str:
    """The sample as a news page (HTML), for trying the fetch-a-URL path on a local server."""
    sample = load_sample()
    esc = html.escape
    paragraphs = "\n".join(f"      <p>{esc(p)}</p>" for p in sample.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{esc(sample.language)}">
  <head>
    <meta charset="utf-8">
    <title>{esc(sample.title)} | {esc(sample.site_name)}</title>
    <meta property="og:type" content="article">
    <meta property="og:title" content="{esc(sample.title)}">
    <meta property="og:site_name" content="{esc(sample.site_name)}">
    <meta name="author" content="{esc(sample.author)}">
    <meta property="article:published_time" content="{esc(sample.published)}T07:30:00Z">
  </head>
  <body>
    <header><a href="/">{esc(sample.site_name)}</a></header>
    <article>
      <h1>{esc(sample.title)}</h1>
{paragraphs}
    </article>
    <footer>Sample article shipped with Signals (MIT licence); the people and places are invented.</footer>
  </body>
</html>
"""
