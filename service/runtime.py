"""The composition root: the long-lived objects one process shares, opened and closed once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from service.analysis.client import Analyzer
from service.analysis.pacing import ModelPacing
from service.db.database import Database
from service.db.listener import Listener
from service.embeddings import Embedder, ensure_embedding_index
from service.ingest.addresses import AddressPolicy
from service.ingest.fetch import Fetcher
from service.ingest.pool import Extractor
from service.jobs.waiter import JobWaiter
from service.keys.cache import KeyCache
from service.keys.throttle import AuthThrottle
from service.ratelimit.service import Levels
from service.settings import Settings
from service.topics.cache import TopicCache

# The two arrows back up that remain (README "Architecture", Layers): services take the parts
# they use, but every feature's routes.py receives the Runtime by dependency injection (and
# http.py's key check reads it), so the runtime sits below signals/, yet it holds webhooks/'
# sender and secret box, one per process. Both modules are leaves (errors, settings, ingest/
# only), so no cycle runs through them.
from service.webhooks.secrets import SecretBox
from service.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)

STARTUP_PROBE_SECONDS = 15.0
"""How long start-up waits to learn the model server (an unanswered probe is retried later)."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    policy: AddressPolicy
    fetcher: Fetcher
    analyzer: Analyzer | None
    extractor_pool: Extractor | None
    waiter: JobWaiter | None
    key_cache: KeyCache
    topic_cache: TopicCache
    """Topic slug -> id for list filters (emptied on every topic merge)."""
    rate_levels: Levels = field(default_factory=Levels)
    """Tokens this process last saw in each rate-limit bucket (reads overlap well-stocked ones)."""
    auth_throttle: AuthThrottle = field(default_factory=lambda: AuthThrottle(0))
    """Failed authentications per client address (service.keys.throttle); off unless given."""
    embedder: Embedder | None = None
    """Embeds signal cards (related coverage, stories); None without SIGNALS_EMBEDDING_MODEL."""
    webhook_secrets: SecretBox | None = None
    """Encrypts webhook secrets at rest (its key is loaded on first use)."""
    sender: WebhookSender | None = None
    """Delivers webhooks (address-checked connections, no redirects)."""

    @property
    def secret_box(self) -> SecretBox:
        if self.webhook_secrets is None:
            raise RuntimeError("this runtime has no webhook secret box")
        return self.webhook_secrets

    @property
    def webhook_sender(self) -> WebhookSender:
        if self.sender is None:
            raise RuntimeError("this runtime has no webhook sender")
        return self.sender

    @property
    def extractor(self) -> Extractor:
        if self.extractor_pool is None:
            raise RuntimeError("this process runs no extraction pool (API-only)")
        return self.extractor_pool


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, extraction: bool = True, waiter: bool = False
) -> AsyncIterator[Runtime]:
    """Open the database (migrating it), the fetcher, the LLM client and, where this
    process runs jobs, the extraction pool."""
    async with AsyncExitStack() as stack:
        extractor = None
        if extraction:
            # Before anything else starts threads: the pool's processes come from a forkserver.
            extractor = Extractor(settings.extract_workers)
            stack.callback(extractor.close)
            await extractor.ready()  # warm workers: the first article is not slow
        db = Database(settings)
        await db.open()
        stack.push_async_callback(db.close)
        fetcher = Fetcher(settings)
        stack.push_async_callback(fetcher.aclose)
        analyzer = None
        if settings.llm_configured:
            analyzer = Analyzer(settings)
            stack.push_async_callback(analyzer.aclose)
            # One cap on model requests in flight and one 429 backoff for the whole process.
            pacing = ModelPacing(settings.llm_max_concurrency)
            pacing.install(analyzer.openai)
            analyzer.pacing = pacing.call
            await analyzer.prepare_within(STARTUP_PROBE_SECONDS)  # mode and context, once
        else:
            log.warning(
                "no language model configured (%s unset): analysis requests will answer 503",
                ", ".join(settings.llm_missing()),
            )
        embedder = None
        if settings.embedding_model and settings.embeddings_url:
            embedder = Embedder(settings)
            stack.push_async_callback(embedder.aclose)
            await ensure_embedding_index(db.pool, settings.embedding_dimensions)
        elif settings.embedding_model:
            log.warning(
                "SIGNALS_EMBEDDING_MODEL is set but neither SIGNALS_EMBEDDING_BASE_URL nor "
                "OPENAI_BASE_URL is: related coverage and "
                "stories use entities, topics and text only"
            )
        job_waiter = None
        key_cache = KeyCache()
        topic_cache = TopicCache()
        if waiter:
            # One LISTEN connection serves job waiters and the key and topic caches.
            listener = Listener(db.connect)
            await listener.start()
            stack.push_async_callback(listener.stop)
            job_waiter = JobWaiter()
            await job_waiter.start(listener)
            await key_cache.start(listener)
            await topic_cache.start(listener)
        policy = AddressPolicy(settings.fetch_allowed_networks)
        sender = WebhookSender(settings, policy)
        stack.push_async_callback(sender.aclose)
        yield Runtime(
            settings=settings,
            db=db,
            policy=policy,
            fetcher=fetcher,
            analyzer=analyzer,
            extractor_pool=extractor,
            waiter=job_waiter,
            key_cache=key_cache,
            topic_cache=topic_cache,
            auth_throttle=AuthThrottle(settings.auth_failure_limit),
            embedder=embedder,
            webhook_secrets=SecretBox(settings),
            sender=sender,
        )
