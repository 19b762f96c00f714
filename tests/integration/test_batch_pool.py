"""The extraction pool as `signals extract` starts it: workers forked from the batch process
itself (no fork server to import trafilatura again), and rebuilt from a fork server after a
crash, when the batch process may be running threads."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from service.errors import ExtractionFailed
from service.ingest.extract import ExtractedArticle, extract_article
from service.ingest.pool import Extractor

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


def _new_processes(before: set[int]) -> list[psutil.Process]:
    """Processes under this one started since ``before``, without multiprocessing's resource
    tracker (a fork server stays: the workers it forks carry its command line)."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]


def _forked_here(before: set[int]) -> set[int]:
    """New workers forked by this very process (not by a fork server)."""
    return {
        p.pid
        for p in _new_processes(before)
        if p.ppid() == os.getpid() and "forkserver" not in " ".join(p.cmdline())
    }


def test_forked_workers_extract_what_the_function_extracts() -> None:
    pages = [(PAGES / name).read_text() for name in ("news_article.html", "non_ascii_de.html")]
    pages.append((PAGES / "category_listing.html").read_text())
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with Extractor(2, fork=True) as pool:
        got = list(pool.extract_many([(p, None) for p in pages], min_words=120))
        assert len(_forked_here(before)) == 2
    assert isinstance(got[0], ExtractedArticle) and isinstance(got[1], ExtractedArticle)
    assert got[0] == extract_article(pages[0], None, min_words=120)
    assert got[1].language == "de"
    assert isinstance(got[2], ExtractionFailed) and got[2].reason == "not_article"


def test_a_forked_pool_survives_a_killed_worker() -> None:
    page = (PAGES / "news_article.html").read_text()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with Extractor(1, fork=True) as pool:
        assert isinstance(next(pool.extract_many([(page, None)], min_words=120)), ExtractedArticle)
        (victim,) = _forked_here(before)
        os.kill(victim, signal.SIGKILL)
        # Not waited for here: reaping it would hide its death from the pool's own bookkeeping.
        results = list(pool.extract_many([(page, None)] * 3, min_words=120))
        assert all(isinstance(r, ExtractedArticle) for r in results), results
        # the new worker came from a fork server, not from forking this process
        assert not _forked_here(before | {victim})
        assert any(p.ppid() != os.getpid() for p in _new_processes(before | {victim}))
