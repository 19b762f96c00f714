"""The extraction process pool: ``extract_article`` in worker processes, crash-tolerant.

Parsing is CPU-bound (seconds on a bad page), so it runs here, off the event loop, on every
core. This module owns the pool's life: how workers start (fork server, warm-up), how they
end with their owner, and what happens when one crashes (the pool is rebuilt and the pages
in flight tried once more). What extraction does to a page is ``service.ingest.extract``'s.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType

from service.errors import ExtractionFailed, ServiceUnavailable
from service.ingest.extract import ExtractedArticle, extract_article
from service.ingest.worker_lifetime import exit_with_owner

LOGGER = logging.getLogger(__name__)

_WARM_UP_HTML = (
    "<html lang='en'><head><title>Warm-up</title><meta property='og:type' content='article'>"
    "<meta property='article:published_time' content='2026-01-02T03:04:05Z'></head><body><article>"
    "<h1>Warm-up</h1>"
    + "<p>This paragraph exists so that every code path is imported once.</p>" * 6
    + "</article></body></html>"
)


def _init_worker(owner_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the parent shuts the pool down, workers
    # dying of KeyboardInterrupt would only print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_owner(owner_pid)  # even a SIGKILLed owner leaves no worker behind
    _init_worker_warm_up()


def _init_worker_warm_up() -> None:
    # The first call compiles regexes and loads htmldate's data: pay that here, not per request.
    try:
        extract_article(_WARM_UP_HTML, "https://warm-up.invalid/", min_words=1)
    except Exception:  # a failed warm-up must not break the pool; real calls will report
        LOGGER.debug("warm-up extraction failed", exc_info=True)


def _worker_pid() -> int:
    return os.getpid()


@dataclass(slots=True)
class _Job:
    html: str
    url: str | None
    future: Future[ExtractedArticle]
    generation: int
    attempts: int = 1


class Extractor:
    """Process pool sized to the cores; never blocks the event loop.

    A crashed worker breaks the whole ``ProcessPoolExecutor``; the pool is then rebuilt
    and each page that was in flight is tried once more on the new pool (it may have been
    a bystander). A page whose second attempt also crashes fails ``extractor_crashed``.
    """

    def __init__(self, workers: int, *, fork: bool = False) -> None:
        """Start ``workers`` processes; call at startup, before threads and connections exist.

        ``fork``: fork them from this process (a batch command that runs no event loop,
        threads or connections yet), warm first: they start at once instead of importing
        trafilatura again in a fork server (about a second of a short batch's wall time).
        """
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        if fork:
            _init_worker_warm_up()
            sys.stdout.flush()  # a child flushes its inherited buffers when it exits
            sys.stderr.flush()
            self._context: multiprocessing.context.BaseContext = multiprocessing.get_context("fork")
        else:
            # forkserver, not fork: forking a parent that runs an event loop, threads and DB
            # connections copies their locks mid-use. Preloading trafilatura into the server
            # makes each new worker (also after a crash) a cheap fork of a warm interpreter.
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload([__name__])
        self._lock = threading.Lock()
        self._closed = False
        self._generation = 0
        self._executor = self._new_executor()
        # One no-op per worker starts them all now, each running the warm-up initializer.
        self._warming = [self._executor.submit(_worker_pid) for _ in range(workers)]
        if fork:
            # A pool rebuilt after a crash starts when this process may run threads (a progress
            # bar): its workers come from a fork server, never from forking this process then.
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload([__name__])

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self._workers

    async def ready(self) -> None:
        """Wait until every worker has started and warmed up (for startup and health checks)."""
        try:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in self._warming))
        except BrokenProcessPool:
            raise ServiceUnavailable("the extraction workers failed to start") from None

    async def extract(self, html: str, url: str | None, *, min_words: int) -> ExtractedArticle:
        """Run ``extract_article`` in a worker; raises ``ExtractionFailed``."""
        for _attempt in (1, 2):
            future, generation = self._submit(html, url, min_words)
            try:
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                # Rebuild and try once more: this page may have been a bystander of
                # another page's crash (or of a worker killed from outside).
                self._replace_broken(generation)
            except ExtractionFailed:
                raise
            except Exception as exc:  # e.g. a result that failed to pickle: this page's problem
                raise _unexpected(exc, url) from None
        raise _crashed()

    def extract_many(
        self, items: Iterable[tuple[str, str | None]], *, min_words: int
    ) -> Iterator[ExtractedArticle | ExtractionFailed]:
        """Extract ``(html, url)`` pairs on every core, yielding results in input order.

        Streams: at most twice as many pages as workers are in flight, so the first
        result comes as soon as it is ready and memory stays flat. Failures are yielded.
        """
        source = iter(items)
        window: deque[_Job] = deque()
        try:
            while True:
                while len(window) < 2 * self._workers and (item := next(source, None)) is not None:
                    future, generation = self._submit(item[0], item[1], min_words)
                    window.append(_Job(item[0], item[1], future, generation))
                if not window:
                    return
                yield self._settle_head(window, min_words)
        finally:
            for job in window:
                job.future.cancel()

    def close(self) -> None:
        """Stop the workers; pages in flight finish first, queued ones are cancelled."""
        with self._lock:
            self._closed = True
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ---

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers, mp_context=self._context, initializer=_init_worker, initargs=(os.getpid(),)
        )

    def _submit(self, html: str, url: str | None, min_words: int) -> tuple[Future[ExtractedArticle], int]:
        with self._lock:
            if self._closed:
                raise ServiceUnavailable("the extractor is closed")
            try:
                future = self._executor.submit(extract_article, html, url, min_words=min_words)
            except BrokenProcessPool:
                # The pool broke before this page reached it (an idle worker was killed):
                # the page is innocent, so it simply goes to a fresh pool.
                self._replace_locked()
                future = self._executor.submit(extract_article, html, url, min_words=min_words)
            return future, self._generation

    def _replace_broken(self, generation: int) -> None:
        with self._lock:
            # Every page in flight sees the same breakage; only the first rebuilds.
            if generation == self._generation and not self._closed:
                self._replace_locked()

    def _replace_locked(self) -> None:
        LOGGER.warning("an extraction worker died; rebuilding the pool")
        broken, self._executor = self._executor, self._new_executor()
        self._generation += 1
        # No cancel_futures: the broken pool has already failed its pending futures with
        # BrokenProcessPool; a cancelled one would look like cancellation to its awaiter.
        broken.shutdown(wait=False)

    def _settle_head(self, window: deque[_Job], min_words: int) -> ExtractedArticle | ExtractionFailed:
        """Wait for the oldest page; after a pool crash give it one more go on a new pool."""
        job = window.popleft()
        while True:
            try:
                return job.future.result()
            except BrokenProcessPool:
                self._replace_broken(job.generation)
                if job.attempts >= 2:
                    return _crashed()
                # Other pages the crash failed are retried in turn as they reach the head.
                job.future, job.generation = self._submit(job.html, job.url, min_words)
                job.attempts += 1
            except ExtractionFailed as exc:
                return exc
            except Exception as exc:
                return _unexpected(exc, job.url)


def _crashed() -> ExtractionFailed:
    return ExtractionFailed("the extraction worker crashed on this page", reason="extractor_crashed")


def _unexpected(exc: Exception, url: str | None) -> ExtractionFailed:
    LOGGER.warning("extraction failed unexpectedly on %s", url or "<html>", exc_info=exc)
    return ExtractionFailed(f"extraction failed ({type(exc).__name__})", reason="parser_error")
