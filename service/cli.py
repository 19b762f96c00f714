"""The `signals` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from schemas.base import json_encoder
from service.errors import SignalsError, StartupError
from service.settings import Settings, SettingsError, load_settings

log = logging.getLogger("signals")


def _setup_logging(settings: Settings | None, level: str | None = None) -> None:
    from service.request_context import install_log_context

    install_log_context()  # every record carries request_id ("-" outside a request)
    logging.basicConfig(
        level=(level or (settings.log_level if settings else "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s",
        stream=sys.stderr,
    )
    # Request-level chatter from clients is noise at INFO.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "instructor", "trafilatura", "pgqueuer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _print_json(value: Any) -> None:
    sys.stdout.write(json_encoder.encode(value).decode() + "\n")
    sys.stdout.flush()


# --- serve / worker / migrate ---------------------------------------------------------------------


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.server import server_config

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    app = create_app(settings, worker=False if args.no_worker else None)
    log.info("serving on http://%s:%d (OpenAPI at /schema)", host, port)
    # As uvicorn.run, with the request deadlines of service.server.
    server = uvicorn.Server(server_config(app, settings, host=host, port=port))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 3  # 3: uvicorn's exit code for a failed startup


async def _run_until_signal(settings: Settings) -> None:
    from service.jobs.worker import run_worker
    from service.runtime import open_runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, extraction=True) as rt:
        await run_worker(rt, stop)


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (not on Windows), as uvicorn picks it for `serve`."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(_run_until_signal(settings))
    return 0


async def _migrate(settings: Settings) -> None:
    from service.db.database import Database

    db = Database(settings)
    await db.open(run_migrations=True)
    await db.close()


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    asyncio.run(_migrate(settings))
    print("database is up to date", file=sys.stderr)
    return 0


# --- keys ---------------------------------------------------------------------------------------------


async def _with_db(settings: Settings, action: Any) -> Any:
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

    if args.keys_command == "create":
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        topics = [t.strip() for t in args.topics.split(",") if t.strip()] if args.topics else None

        async def create(conn: Any) -> Any:
            partner_id = None
            if args.partner:
                partner_id = (await keys.ensure_partner(conn, args.partner))["id"]
            topic_ids = await keys.topic_ids_for_slugs(conn, topics) if topics else None
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


# --- analyze / extract ------------------------------------------------------------------------------


async def _analyze(settings: Settings, url: str) -> int:
    from schemas.signals import AnalyzeRequest
    from service.jobs.worker import run_worker
    from service.runtime import open_runtime
    from service.signals import service

    async with open_runtime(settings, extraction=True, waiter=True) as rt:
        submission = await service.submit_analysis(
            rt, AnalyzeRequest(url=url), api_key_id=None, idempotency_key=None
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(rt, stop))
        try:
            job = submission.job
            while job.status not in service.FINAL_STATUSES:
                job = await service.wait_for_job(rt, job, service.MAX_WAIT_SECONDS)
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
        _print_json(await service.get_signal(rt, job.signal_id))
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
    from service.related.embeddings import Embedder
    from service.related.reembed import count_pending, reembed

    if not settings.embedding_model or not settings.openai_base_url:
        print("signals: set SIGNALS_EMBEDDING_MODEL and OPENAI_BASE_URL to re-embed", file=sys.stderr)
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


def cmd_llm_stub(_settings: Settings | None, args: argparse.Namespace) -> int:
    from service.llmstub.server import run_stub

    run_stub(args.host, args.port)
    return 0


# --- entry point ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signals", description="Signals: article in, grounded signal out.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (and a worker, unless --no-worker)")
    serve.add_argument("--host", default=None, help="interface (default SIGNALS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default SIGNALS_PORT or 8000)")
    serve.add_argument("--no-worker", action="store_true", help="API only; run `signals worker` elsewhere")
    serve.set_defaults(handler=cmd_serve)

    sub.add_parser("worker", help="run a queue worker (any number, any machine)").set_defaults(
        handler=cmd_worker
    )
    sub.add_parser("migrate", help="apply database migrations and exit").set_defaults(handler=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scopes",
        default="signals:read",
        help="comma-separated: signals:read, signals:write, webhooks:manage, admin",
    )
    create.add_argument("--partner", help="the partner this key belongs to (created if new)")
    create.add_argument("--topics", help="comma-separated topic slugs: the key sees only these topics")
    create.add_argument("--rate", type=float, help="requests per second (token refill)")
    create.add_argument("--burst", type=int, help="bucket size (requests in a burst)")
    keys_sub.add_parser("list", help="list keys as NDJSON (never the secret)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("ident")
    keys.set_defaults(handler=cmd_keys)

    stub = sub.add_parser("llm-stub", help="run the OpenAI-compatible development LLM")
    stub.add_argument("--host", default="127.0.0.1")
    stub.add_argument("--port", type=int, default=8001)
    stub.set_defaults(handler=cmd_llm_stub, no_settings=True)

    analyze = sub.add_parser("analyze", help="analyse one URL now and print the signal JSON")
    analyze.add_argument("url")
    analyze.set_defaults(handler=cmd_analyze)

    extract = sub.add_parser(
        "extract", help="extract articles (no LLM): NDJSON, one line per input, in order"
    )
    extract.add_argument("inputs", nargs="+", metavar="FILE|URL")
    extract.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    extract.set_defaults(handler=cmd_extract)

    reembed = sub.add_parser(
        "reembed",
        help="embed every current signal with SIGNALS_EMBEDDING_MODEL (after changing it); resumable",
    )
    reembed.add_argument("--batch", type=int, default=64, help="texts per embeddings request")
    reembed.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    reembed.set_defaults(handler=cmd_reembed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        if not getattr(args, "no_settings", False):
            settings = load_settings()
        _setup_logging(settings)
        code: int = args.handler(settings, args)
        return code
    except SettingsError as exc:
        print(f"signals: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"signals: {exc.detail}", file=sys.stderr)
        return 2
    except SignalsError as exc:
        print(f"signals: {exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
