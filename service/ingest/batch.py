"""`signals extract`: many pages in, NDJSON out, one line per input in input order.

Local files are read lazily and extracted by the process pool (every core); URLs are
fetched first, a few at a time, through the same checked fetcher the service uses.
Failures are lines with an ``error`` object, never an aborted run.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from schemas.base import json_encoder
from service.errors import ExtractionFailed, SignalsError
from service.ingest.extract import ExtractedArticle, Extractor
from service.ingest.fetch import Fetcher
from service.settings import Settings

_FETCH_CONCURRENCY = 8


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


async def _fetch_all(settings: Settings, urls: dict[int, str]) -> dict[int, tuple[str, str] | SignalsError]:
    results: dict[int, tuple[str, str] | SignalsError] = {}
    if not urls:
        return results
    limit = asyncio.Semaphore(_FETCH_CONCURRENCY)
    async with Fetcher(settings) as fetcher:

        async def one(index: int, url: str) -> None:
            async with limit:
                try:
                    page = await fetcher.fetch_article(url)
                    results[index] = (page.text, page.final_url)
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
    pending_errors: dict[int, SignalsError] = {}

    def items() -> Iterator[tuple[str, str | None]]:
        # Inputs that failed before extraction get a placeholder that the pool rejects
        # instantly; their real error is reported in its place.
        for index, value in enumerate(inputs):
            if _is_url(value):
                got = fetched[index]
                if isinstance(got, SignalsError):
                    pending_errors[index] = got
                    yield ("", value)
                else:
                    yield got[0], got[1]
                continue
            try:
                yield Path(value).read_text(encoding="utf-8", errors="replace"), None
            except OSError as exc:
                pending_errors[index] = ExtractionFailed(
                    f"cannot read {value}: {exc.strerror}", reason="unreadable"
                )
                yield ("", None)

    failures = 0
    with (
        Extractor(settings.extract_workers) as extractor,
        Progress(
            TextColumn("extracting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=not progress or not sys.stderr.isatty(),
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("extract", total=len(inputs))
        results = extractor.extract_many(items(), min_words=settings.extract_min_words)
        for index, result in enumerate(results):
            source = inputs[index]
            if index in pending_errors:
                line = _error_line(source, pending_errors.pop(index))
                failures += 1
            elif isinstance(result, SignalsError):
                line = _error_line(source, result)
                failures += 1
            else:
                line = _article_line(source, result)
            sys.stdout.write(json_encoder.encode(line).decode() + "\n")
            bar.advance(task)
    sys.stdout.flush()
    return 1 if failures else 0
