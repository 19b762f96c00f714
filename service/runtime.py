"""The composition root: the long-lived objects one process shares, opened and closed once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from service.analysis.client import Analyzer
from service.db.database import Database
from service.ingest.addresses import AddressPolicy
from service.ingest.extract import Extractor
from service.ingest.fetch import Fetcher
from service.jobs.waiter import JobWaiter
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    policy: AddressPolicy
    fetcher: Fetcher
    analyzer: Analyzer | None
    extractor_pool: Extractor | None
    waiter: JobWaiter | None

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
        else:
            log.warning(
                "no language model configured (%s unset): analysis requests will answer 503",
                ", ".join(settings.llm_missing()),
            )
        job_waiter = None
        if waiter:
            job_waiter = JobWaiter(db.connect)
            await job_waiter.start()
            stack.push_async_callback(job_waiter.stop)
        yield Runtime(
            settings=settings,
            db=db,
            policy=AddressPolicy(settings.fetch_allowed_networks),
            fetcher=fetcher,
            analyzer=analyzer,
            extractor_pool=extractor,
            waiter=job_waiter,
        )
