"""The extraction pool: real worker processes, real crashes (SIGKILL from outside)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from service.errors import ExtractionFailed, ServiceUnavailable
from service.ingest.extract import ExtractedArticle, extract_article
from service.ingest.pool import Extractor

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
MIN_WORDS = 120
WORKERS = 2

# Where to put a per-item marker sentence inside each page's article body, so that a
# result can only belong to one input.
ARTICLE_ANCHORS = {
    "news_article.html": "on the North Mole.</p>",
    "news_article_redesign.html": "on the North Mole.</p>",
    "hidden_text.html": "run almost entirely by volunteers.</p>",
    "non_ascii_de.html": "bis zum Frühjahr 2027 vorliegen.</p>",
    "daily_digest.html": "has rarely looked so wide.</p>",
}
REFUSED_PAGES = (
    "paywall_teaser.html",
    "short_page.html",
    "category_listing.html",
    "not_found.html",
)
GARBAGE = ("", "\x00\x01binary\x02" * 50)


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def marker(i: int) -> str:
    return f"Marker sentence number {i} is here."


def mixed_inputs(count: int) -> list[tuple[str, str | None]]:
    kinds = [*ARTICLE_ANCHORS, *REFUSED_PAGES, *GARBAGE]
    items: list[tuple[str, str | None]] = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind in ARTICLE_ANCHORS:
            anchor = ARTICLE_ANCHORS[kind]
            html = page(kind).replace(anchor, anchor.replace("</p>", f" {marker(i)}</p>"), 1)
        elif kind in REFUSED_PAGES:
            html = page(kind)
        else:
            html = kind
        items.append((html, f"https://site.example/item/{i}"))
    return items


def live_children() -> set[int]:
    while True:
        try:
            return {p.pid for p in multiprocessing.active_children()}
        except RuntimeError:  # the set of children changed while being listed; look again
            continue


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


async def start_extractor(workers: int) -> tuple[Extractor, set[int]]:
    before = live_children()
    extractor = Extractor(workers)
    await extractor.ready()
    return extractor, live_children() - before


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[tuple[Extractor, set[int]]]:
    extractor, pids = await start_extractor(WORKERS)
    yield extractor, pids
    extractor.close()


# --- processes ---------------------------------------------------------------------------------


async def test_workers_are_separate_processes_started_by_a_forkserver(pool):
    extractor, pids = pool
    assert len(pids) == WORKERS
    assert os.getpid() not in pids
    # Not forked from this process (which runs an event loop and threads): their OS
    # parent is the forkserver.
    assert all(parent_pid(pid) != os.getpid() for pid in pids)
    article = await extractor.extract(page("news_article.html"), None, min_words=MIN_WORDS)
    assert article == extract_article(page("news_article.html"), None, min_words=MIN_WORDS)


async def test_extraction_runs_in_the_workers_and_uses_every_one_of_them(pool):
    extractor, pids = pool
    before = {pid: cpu_ticks(pid) for pid in pids}
    results = list(extractor.extract_many(mixed_inputs(60), min_words=MIN_WORDS))
    assert len(results) == 60
    assert all(cpu_ticks(pid) > before[pid] for pid in pids)


# --- async use from the event loop -------------------------------------------------------------


async def test_async_extract_returns_the_article_and_keeps_the_event_loop_free(pool):
    extractor, _ = pool
    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    html = page("daily_digest.html")
    started = time.perf_counter()
    articles = await asyncio.gather(*(extractor.extract(html, None, min_words=MIN_WORDS) for _ in range(60)))
    elapsed = time.perf_counter() - started
    stop.set()
    await beat
    assert {a.content_hash for a in articles} == {articles[0].content_hash}
    assert articles[0].word_count > 800
    # 60 digest pages are several hundred ms of parsing; had any of it run on the loop,
    # the heartbeat would have stalled for at least one page's worth.
    assert elapsed > 0.1
    assert max(gaps) < 0.1


async def test_async_extract_raises_the_gate_reason_from_the_worker(pool):
    extractor, _ = pool
    with pytest.raises(ExtractionFailed) as info:
        await extractor.extract(page("paywall_teaser.html"), None, min_words=MIN_WORDS)
    assert info.value.reason == "paywall"
    with pytest.raises(ExtractionFailed) as info:
        await extractor.extract(page("short_page.html"), None, min_words=MIN_WORDS)
    assert info.value.reason == "too_short"
    assert info.value.extra["words"] < MIN_WORDS


# --- batches -------------------------------------------------------------------------------------


async def test_extract_many_yields_results_in_input_order_with_failures_as_values(pool):
    extractor, _ = pool
    items = mixed_inputs(40)
    results = list(extractor.extract_many(items, min_words=MIN_WORDS))
    assert len(results) == len(items)
    for i, ((html, url), result) in enumerate(zip(items, results, strict=True)):
        try:
            expected: ExtractedArticle | ExtractionFailed = extract_article(html, url, min_words=MIN_WORDS)
        except ExtractionFailed as exc:
            expected = exc
        if isinstance(expected, ExtractionFailed):
            assert isinstance(result, ExtractionFailed), i
            assert result.reason == expected.reason, i
        else:
            assert result == expected, i
            assert marker(i) in result.text
    reasons = {r.reason for r in results if isinstance(r, ExtractionFailed)}
    assert reasons == {"paywall", "too_short", "not_article", "empty", "not_html"}


async def test_extract_many_streams_instead_of_collecting_everything_first(pool):
    extractor, _ = pool
    items = mixed_inputs(40)
    pulled = 0

    def source() -> Iterator[tuple[str, str | None]]:
        nonlocal pulled
        for item in items:
            pulled += 1
            yield item

    results = extractor.extract_many(source(), min_words=MIN_WORDS)
    first = next(results)
    assert isinstance(first, ExtractedArticle)
    assert pulled <= 2 * WORKERS + 1
    assert len(list(results)) == 39
    assert pulled == 40


# --- crashes -------------------------------------------------------------------------------------


async def test_a_killed_worker_is_replaced_and_the_next_extraction_works():
    extractor, pids = await start_extractor(WORKERS)
    try:
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        article = await extractor.extract(page("news_article.html"), None, min_words=MIN_WORDS)
        assert article.title == "Callowmere port approves shore power for cruise berths"
        assert victim not in live_children()
        more = list(extractor.extract_many(mixed_inputs(10), min_words=MIN_WORDS))
        assert not any(isinstance(r, ExtractionFailed) and r.reason == "extractor_crashed" for r in more)
    finally:
        extractor.close()


async def test_a_page_whose_worker_keeps_dying_fails_as_extractor_crashed():
    extractor, pids = await start_extractor(1)
    spared = live_children() - pids  # other pools' workers in this test process
    stop = threading.Event()

    def kill_every_worker() -> None:
        while not stop.is_set():
            for pid in live_children() - spared:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    killer = threading.Thread(target=kill_every_worker, daemon=True)
    killer.start()
    try:
        with pytest.raises(ExtractionFailed) as info:
            await extractor.extract(page("news_article.html"), None, min_words=MIN_WORDS)
        assert info.value.reason == "extractor_crashed"
        batch = list(extractor.extract_many(mixed_inputs(3), min_words=MIN_WORDS))
        assert [r.reason for r in batch if isinstance(r, ExtractionFailed)] == ["extractor_crashed"] * 3
    finally:
        stop.set()
        killer.join()
    try:
        # The service survives: with the killing over, the rebuilt pool works again.
        article = await extractor.extract(page("news_article.html"), None, min_words=MIN_WORDS)
        assert article.word_count > 600
    finally:
        extractor.close()


async def test_close_stops_the_workers_and_refuses_new_work():
    extractor, pids = await start_extractor(1)
    with extractor:
        await extractor.extract(page("news_article.html"), None, min_words=MIN_WORDS)
    assert pids
    assert not pids & live_children()
    with pytest.raises(ServiceUnavailable):
        await extractor.extract(page("news_article.html"), None, min_words=MIN_WORDS)
