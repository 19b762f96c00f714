"""Article extraction: trafilatura behind a quality gate, run in a process pool.

``extract_article`` is pure and synchronous; ``Extractor`` runs it in worker processes
so that parsing (CPU-bound, seconds on a bad page) never blocks the event loop. Every
failure leaves here as ``ExtractionFailed`` with a ``reason``: ``too_large``,
``not_html``, ``empty``, ``too_short``, ``paywall``, ``not_article``, ``parser_error``
or ``extractor_crashed``.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no stubs

from service.errors import ExtractionFailed, ServiceUnavailable
from service.ingest.article_meta import read_metadata
from service.ingest.metadata import image_url, strip_markup
from service.ingest.page_signals import PageSignals
from service.ingest.quality import (
    check_article,
    check_length,
    count_words,
    read_page,
    refuse_non_html,
)
from service.ingest.readings import SECOND_OPINION_REASONS, extract_document, parse_page, second_opinions
from service.ingest.worker_lifetime import exit_with_owner

LOGGER = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
# trafilatura logs each page it gives up on at WARNING/ERROR; every such outcome leaves
# this module as an ExtractionFailed the caller records, so its records are noise (and
# worker processes have no logging set up, so they would go straight to stderr).
for _name in ("trafilatura", "htmldate", "courlan", "justext"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """An article's text and metadata as the page gives them."""

    text: str
    """The article text, paragraphs separated by "\\n"."""
    title: str | None
    author: str | None
    site_name: str | None
    published: datetime.date | None
    language: str | None
    """Primary language subtag ("en", "de"), from trafilatura or the page's markup."""
    image: str | None
    description: str | None
    canonical_url: str | None
    """The page's own canonical link or og:url; the caller decides whether to trust it."""
    word_count: int
    content_hash: str
    """sha256 hex of the whitespace-normalised text: same text, same hash."""


def extract_article(html: str, url: str | None, *, min_words: int) -> ExtractedArticle:
    """Extract the main article from ``html`` or raise ``ExtractionFailed``.

    Pure and synchronous (it runs inside pool workers). Boilerplate, comments and hidden
    text (display:none, visibility:hidden, zero-size, off-screen, ``hidden``) are dropped;
    the quality gate then refuses paywall teasers, listings, error pages and texts under
    ``min_words`` words.
    """
    refuse_non_html(html)
    try:
        return _extract(html, url, min_words)
    except ExtractionFailed:
        raise
    except Exception as exc:  # a trafilatura/lxml/htmldate bug on an odd page fails that page only
        LOGGER.warning("extraction crashed on %s", url or "<html>", exc_info=True)
        detail = f"the page could not be parsed ({type(exc).__name__}: {exc})"[:300]
        raise ExtractionFailed(detail, reason="parser_error") from None


def article_from_text(text: str, *, title: str | None, url: str | None, min_words: int) -> ExtractedArticle:
    """Wrap text the caller already has (partners, paywalled sources) as an article.

    Whitespace and control characters are normalised exactly as for extracted pages, so
    the same article reaches the same hash by either path; only the length is gated.
    ``url`` is where the caller got the text, not a canonical link the page declared, so
    ``canonical_url`` stays None.
    """
    clean = normalize_text(text)
    words = count_words(clean)
    check_length(words, min_words=min_words)
    return ExtractedArticle(
        text=clean,
        title=_clean_field(title),
        author=None,
        site_name=None,
        published=None,
        language=None,
        image=None,
        description=None,
        canonical_url=None,
        word_count=words,
        content_hash=content_hash(clean),
    )


def normalize_text(text: str) -> str:
    """NFC, no control or zero-width characters, single spaces, one paragraph per line."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    lines = (" ".join(_CONTROL.sub(" ", line).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def content_hash(text: str) -> str:
    """sha256 hex of ``text`` with every whitespace run (newlines included) made one space."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _extract(html: str, url: str | None, min_words: int) -> ExtractedArticle:
    tree, hidden_wrapper = parse_page(html)
    page = read_page(tree, url)
    doc = extract_document(tree, url, focus="precision")
    meta = read_metadata(tree, url)
    text = normalize_text(doc.text or "")
    words = count_words(text)
    try:
        check_article(text, words, page, min_words=min_words)
    except ExtractionFailed as refusal:
        if refusal.reason not in SECOND_OPINION_REASONS:
            raise
        text, words = _second_opinion(html, tree, url, page, refusal, min_words, hidden_wrapper)
    return ExtractedArticle(
        text=text,
        # Metadata is text (service.ingest.metadata): pages put markup in it.
        title=_clean_field(strip_markup(meta.title)),
        author=_clean_field(strip_markup(meta.author)),
        site_name=_clean_field(strip_markup(meta.sitename)),
        published=_parse_date(meta.date),
        language=_language_tag(meta.language) or _page_language(tree),
        image=image_url(meta.image, url),
        description=_clean_field(strip_markup(meta.description)),
        canonical_url=_canonical_url(tree, url),
        word_count=words,
        content_hash=content_hash(text),
    )


def _second_opinion(
    html: str,
    tree: HtmlElement,
    url: str | None,
    page: PageSignals,
    refusal: ExtractionFailed,
    min_words: int,
    hidden_wrapper: bool,
) -> tuple[str, int]:
    """The first other reading the gate accepts; ``refusal`` when every reading is refused."""
    readings = second_opinions(html, tree, url, page, hidden_wrapper=hidden_wrapper, min_words=min_words)
    for raw, judged_by in readings:
        text = normalize_text(raw)
        words = count_words(text)
        try:
            check_article(text, words, judged_by, min_words=min_words)
        except ExtractionFailed:
            continue
        return text, words
    raise refusal


def _clean_field(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(_CONTROL.sub(" ", value).split())
    return value or None


def _parse_date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _language_tag(value: str | None) -> str | None:
    """The primary subtag of a language tag or locale ("en-GB", "de_DE" -> "en", "de")."""
    primary = re.split(r"[-_]", (value or "").strip().lower(), maxsplit=1)[0]
    if len(primary) in (2, 3) and primary.isascii() and primary.isalpha():
        return None if primary in {"und", "mul", "zxx"} else primary
    return None


def _page_language(tree: HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    candidates = [root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "content-language" or meta.get(
            "property"
        ) == "og:locale":
            candidates.append(meta.get("content"))
    return next((tag for c in candidates if (tag := _language_tag(c))), None)


def _canonical_url(tree: HtmlElement, url: str | None) -> str | None:
    hrefs = [
        link.get("href")
        for link in tree.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    hrefs += [m.get("content") for m in tree.iter("meta") if m.get("property") == "og:url"]
    for href in hrefs:
        candidate = urljoin(url, href.strip()) if url and href else (href or "").strip()
        parts = urlsplit(candidate)
        if parts.scheme in ("http", "https") and parts.netloc and len(candidate) <= 2048:
            return candidate
    return None


# --- the process pool --------------------------------------------------------------------------

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
