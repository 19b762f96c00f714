"""The `signals` commands that run once and print data on stdout (JSON, or NDJSON one line
per item): keys, analyze, extract, reembed, sample. service/cli.py parses their arguments."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from schemas.base import json_encoder
from service.settings import Settings

if TYPE_CHECKING:
    from schemas.keys import ApiKeyCreated
    from service.db.connections import Connection

T = TypeVar("T")


def _print_json(value: Any) -> None:
    sys.stdout.write(json_encoder.encode(value).decode() + "\n")
    sys.stdout.flush()


# --- keys ---------------------------------------------------------------------------------------------


async def _with_db(settings: Settings, action: Callable[[Connection], Awaitable[T]]) -> T:
    from service.db.database import Database

    db = Database(settings)
    await db.open()
    try:
        async with db.pool.acquire() as conn:
            return await action(conn)
    finally:
        await db.close()


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from service.keys import service as keys
    from service.topics.slugs import topic_ids_for_slugs

    if args.keys_command == "create":
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        topics = [t.strip() for t in args.topics.split(",") if t.strip()] if args.topics else None

        async def create(conn: Connection) -> ApiKeyCreated:
            partner_id = None
            if args.partner:
                partner_id = (await keys.ensure_partner(conn, args.partner))["id"]
            topic_ids = await topic_ids_for_slugs(conn, topics) if topics else None
            return await keys.create_key(
                conn,
                name=args.name,
                scopes=scopes,
                partner_id=partner_id,
                topic_ids=topic_ids,
                rate_per_second=args.rate,
                burst=args.burst,
            )

        created = asyncio.run(_with_db(settings, create))
        print(created.key)
        print(
            f"created key {created.prefix}… ({created.name}; scopes: {', '.join(created.scopes)}). "
            "Store it now: it is not shown again.",
            file=sys.stderr,
        )
        return 0
    if args.keys_command == "list":
        for key in asyncio.run(_with_db(settings, keys.list_keys)):
            _print_json(key)
        return 0
    revoked = asyncio.run(_with_db(settings, lambda c: keys.revoke_key(c, args.ident)))
    if not revoked:
        print(f"no key matches {args.ident!r}", file=sys.stderr)
        return 1
    for key in revoked:
        print(f"revoked {key.prefix}… ({key.name})", file=sys.stderr)
    return 0


# --- analyze / extract / reembed / sample -----------------------------------------------------------


async def _analyze(settings: Settings, url: str) -> int:
    from schemas.signals import AnalyzeRequest
    from service.jobs.worker import run_worker
    from service.runtime import open_runtime
    from service.signals import service

    async with open_runtime(settings, extraction=True, waiter=True) as rt:
        submission = await service.submit_analysis(
            rt.db.pool, rt.settings, rt.policy, AnalyzeRequest(url=url), api_key_id=None, idempotency_key=None
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(rt, stop))
        try:
            job = submission.job
            while job.status not in service.FINAL_STATUSES:
                job = await service.wait_for_job(rt.db.pool, rt.waiter, job, service.MAX_WAIT_SECONDS)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await worker
        if job.status == "failed":
            _print_json(job.to_wire())
            print(
                f"analysis failed: {job.error_code} ({job.error_reason or job.error_detail})", file=sys.stderr
            )
            return 1
        assert job.signal_id is not None
        _print_json(await service.get_signal(rt.db.pool, job.signal_id))
        return 0


def cmd_analyze(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_analyze(settings, args.url))


def cmd_extract(settings: Settings, args: argparse.Namespace) -> int:
    from service.ingest.batch import run_extract

    return run_extract(settings, args.inputs, progress=not args.no_progress)


async def _reembed(settings: Settings, batch: int, progress: bool) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from service.db.database import Database
    from service.embeddings import Embedder
    from service.related.reembed import count_pending, reembed

    if not settings.embedding_model or not settings.embeddings_url:
        print(
            "signals: set SIGNALS_EMBEDDING_MODEL and SIGNALS_EMBEDDING_BASE_URL (or OPENAI_BASE_URL) "
            "to re-embed",
            file=sys.stderr,
        )
        return 2
    db = Database(settings)
    await db.open()
    embedder = Embedder(settings)
    try:
        pending = await count_pending(db.pool, embedder)
        console = Console(stderr=True)
        with Progress(
            TextColumn(f"embedding with {embedder.model} ({embedder.dimensions})"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not progress or not sys.stderr.isatty(),
            transient=True,
        ) as bar:
            task = bar.add_task("reembed", total=pending)
            result = await reembed(db.pool, embedder, batch=batch, progress=lambda n: bar.advance(task, n))
    finally:
        await embedder.aclose()
        await db.close()
    _print_json({"model": result.model, "dimensions": result.dims, "embedded": result.embedded})
    return 0


def cmd_reembed(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_reembed(settings, args.batch, not args.no_progress))


def cmd_sample(_settings: Settings | None, args: argparse.Namespace) -> int:
    from service.samples import sample_page, sample_request

    if args.html:
        sys.stdout.write(sample_page())
    else:
        _print_json(sample_request())
    return 0
