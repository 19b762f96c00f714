"""`signals extract`: many pages in, NDJSON out, one line per input in input order.

Local files are read lazily and extracted by the process pool (every core); URLs are
fetched first, a few at a time, through the same checked fetcher the service uses.
Failures are lines with an ``error`` object, never an aborted run.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from schemas.base import json_encoder
from service.errors import ExtractionFailed, SignalsError
from service.ingest.extract import ExtractedArticle, article_from_text
from service.ingest.fetch import Fetcher
from service.ingest.pool import Extractor
from service.settings import Settings

_FETCH_CONCURRENCY = 8
_TEXT_SUFFIXES = (".txt", ".text", ".md")
_TAG = re.compile(r"<[A-Za-z!/][^<>]{0,500}>")


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _is_plain_text(path: str, content: str) -> bool:
    """A .txt/.md file, or one without a single HTML tag: an article as text, as the API takes it."""
    return path.lower().endswith(_TEXT_SUFFIXES) or (
        "\x00" not in content[:65536] and _TAG.search(content[:65536]) is None
    )


async def _fetch_all(
    settings: Settings, urls: dict[int, str]
) -> dict[int, tuple[str, str, bool] | SignalsError]:
    results: dict[int, tuple[str, str, bool] | SignalsError] = {}
    if not urls:
        return results
    limit = asyncio.Semaphore(_FETCH_CONCURRENCY)
    async with Fetcher(settings) as fetcher:

        async def one(index: int, url: str) -> None:
            async with limit:
                try:
                    page = await fetcher.fetch_article(url)
                    results[index] = (page.text, page.final_url, page.media_type == "text/plain")
                except SignalsError as exc:
                    results[index] = exc

        await asyncio.gather(*(one(i, u) for i, u in urls.items()))
    return results


def _error_line(source: str, exc: SignalsError) -> dict[str, Any]:
    return {
        "input": source,
        "error": {"code": exc.code, "reason": exc.reason, "detail": exc.detail},
    }


def _article_line(source: str, article: ExtractedArticle) -> dict[str, Any]:
    fields = asdict(article)
    fields["published"] = article.published.isoformat() if article.published else None
    return {"input": source, **fields}


def run_extract(settings: Settings, inputs: list[str], *, progress: bool = True) -> int:
    """Write one NDJSON line per input to stdout; return 0, or 1 if any input failed."""
    fetched = asyncio.run(_fetch_all(settings, {i: v for i, v in enumerate(inputs) if _is_url(v)}))
    settled: dict[int, ExtractedArticle | SignalsError] = {}
    min_words = settings.extract_min_words

    def as_text(index: int, text: str, url: str | None) -> tuple[str, str | None]:
        try:
            settled[index] = article_from_text(text, title=None, url=url, min_words=min_words)
        except SignalsError as exc:
            settled[index] = exc
        return ("", url)

    def items() -> Iterator[tuple[str, str | None]]:
        # Inputs settled before extraction (failures, plain text, which needs no parsing) get a
        # placeholder that the pool rejects instantly; their own result is reported in its place.
        for index, value in enumerate(inputs):
            if _is_url(value):
                got = fetched[index]
                if isinstance(got, SignalsError):
                    settled[index] = got
                    yield ("", value)
                elif got[2]:
                    yield as_text(index, got[0], got[1])
                else:
                    yield got[0], got[1]
                continue
            try:
                content = Path(value).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                settled[index] = ExtractionFailed(f"cannot read {value}: {exc.strerror}", reason="unreadable")
                yield ("", None)
                continue
            yield as_text(index, content, None) if _is_plain_text(value, content) else (content, None)

    failures = 0
    with (
        # Before the progress bar's thread starts: the workers are forked from this process.
        Extractor(settings.extract_workers, fork=True) as extractor,
        Progress(
            TextColumn("extracting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            # stdout carries the NDJSON and nothing else: the bar draws on stderr, and it must not
            # capture stdout (rich's default) to print it above the bar, on stderr.
            console=Console(stderr=True),
            redirect_stdout=False,
            disable=not progress or not sys.stderr.isatty(),
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("extract", total=len(inputs))
        results = extractor.extract_many(items(), min_words=min_words)
        for index, outcome in enumerate(results):
            source = inputs[index]
            result: ExtractedArticle | SignalsError = settled.pop(index) if index in settled else outcome
            if isinstance(result, SignalsError):
                line = _error_line(source, result)
                failures += 1
            else:
                line = _article_line(source, result)
            sys.stdout.write(json_encoder.encode(line).decode() + "\n")
            bar.advance(task)
    sys.stdout.flush()
    return 1 if failures else 0
