"""The `signals` command: its arguments, its entry point, and the commands that run a process
(serve, worker, migrate, mcp, llm-stub); those that print data are in service/data_commands.py."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from service.data_commands import cmd_analyze, cmd_extract, cmd_keys, cmd_reembed, cmd_sample
from service.errors import SignalsError, StartupError
from service.listening import BIND_FAILED_EXIT, ListenFailed
from service.log_setup import COMMAND_LOGGER, setup_logging
from service.settings import Settings, SettingsError, load_settings

log = logging.getLogger(COMMAND_LOGGER)


def _version() -> str:
    try:
        return version("signals")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


# --- serve / worker / migrate / mcp / llm-stub ----------------------------------------------------


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from service.app import create_app
    from service.listening import bound_url, listen, serve_on
    from service.server import server_config

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    sock = listen(host, port)  # a port in use fails here, before the database starts
    url = bound_url(sock)
    app = create_app(settings, worker=False if args.no_worker else None)
    # As uvicorn.run, with the request deadlines of service.server.
    config = server_config(app, settings, host=host, port=port)

    def announce() -> None:
        log.info("serving on %s (API docs %s/schema, OpenAPI %s/schema/openapi.json)", url, url, url)

    return 0 if serve_on(sock, config, announce) else BIND_FAILED_EXIT


async def _run_until_signal(settings: Settings) -> None:
    from service.jobs.worker import run_worker
    from service.runtime import open_runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, extraction=True) as rt:
        log.info("worker running (up to %d jobs at once); Ctrl-C stops it", settings.worker_concurrency)
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


def cmd_mcp(settings: Settings, args: argparse.Namespace) -> int:
    import os

    from service.mcp.stdio import serve_stdio

    # The key is this command's credential, not a setting of the service: read here, not in Settings.
    key = args.key or os.environ.get("SIGNALS_MCP_KEY") or None
    asyncio.run(serve_stdio(settings, key, worker=args.worker))
    return 0


def cmd_llm_stub(_settings: Settings | None, args: argparse.Namespace) -> int:
    # Imported here, never at module level: wheels (and so the Docker image) leave the stub out
    # (pyproject.toml, wheel target `exclude`), and every other command must work without it.
    try:
        from service.llmstub.server import run_stub
    except ModuleNotFoundError as exc:
        if exc.name != "service.llmstub":
            raise  # the stub is there but something it imports is not: show the real error
        raise StartupError(
            "the LLM stub is a development tool, not installed here (wheels and the Docker image "
            "leave it out): run it from a source install, `pip install -e .` in a clone of the repository"
        ) from None
    return 0 if run_stub(args.host, args.port) else BIND_FAILED_EXIT


# --- entry point ----------------------------------------------------------------------------------


_EPILOG = (
    "Settings come from environment variables (README, Configuration). Output: data on stdout, "
    "messages and logs on stderr; quiet unless -v (INFO) or -vv (DEBUG, libraries too)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signals", description="Signals: article in, grounded signal out.", epilog=_EPILOG
    )
    parser.add_argument("--version", action="version", version=f"signals {_version()}")
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more log output on stderr: -v the service's progress (INFO), -vv everything (DEBUG)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[verbosity], **kwargs)

    serve = command("serve", "run the API (and a worker, unless --no-worker)")
    serve.add_argument("--host", default=None, help="interface (default SIGNALS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default SIGNALS_PORT or 8000)")
    serve.add_argument("--no-worker", action="store_true", help="API only; run `signals worker` elsewhere")
    serve.set_defaults(handler=cmd_serve)

    command("worker", "run a queue worker (any number, any machine)").set_defaults(handler=cmd_worker)
    command("migrate", "apply database migrations and exit").set_defaults(handler=cmd_migrate)

    keys = command("keys", "manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser(
        "create",
        help="create a key: the key on stdout (shown once), a note on stderr",
        parents=[verbosity],
    )
    create.add_argument("--name", required=True, help="a label to recognise the key by (in `keys list`)")
    create.add_argument(
        "--scopes",
        default="signals:read",
        help="comma-separated, from signals:read, signals:write, webhooks:manage and admin "
        "(default: signals:read)",
    )
    create.add_argument("--partner", help="the partner this key belongs to (created if new)")
    create.add_argument("--topics", help="comma-separated topic slugs: the key sees only these topics")
    create.add_argument(
        "--rate", type=float, help="requests per second (token refill; default SIGNALS_RATE_PER_SECOND)"
    )
    create.add_argument(
        "--burst", type=int, help="bucket size: requests in a burst (default SIGNALS_RATE_BURST)"
    )
    keys_sub.add_parser("list", help="list keys as NDJSON (never the secret)", parents=[verbosity])
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id or prefix", parents=[verbosity])
    revoke.add_argument("ident", metavar="ID_OR_PREFIX", help="the key's id, or its prefix (sk_live_…)")
    keys.set_defaults(handler=cmd_keys)

    stub = command("llm-stub", "run the OpenAI-compatible development LLM (its output is labelled [stub])")
    stub.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    stub.add_argument(
        "--port", type=int, default=8001, help="port to listen on (default 8001; 0: any free one)"
    )
    stub.set_defaults(handler=cmd_llm_stub, no_settings=True)

    sample = command(
        "sample",
        "print the sample article the README analyses: a POST /v1/signals body {title, text}",
    )
    sample.add_argument("--html", action="store_true", help="print it as a news page (HTML) instead")
    sample.set_defaults(handler=cmd_sample, no_settings=True)

    analyze = command(
        "analyze", "analyse one URL now (fetch, extract, one LLM call) and print the signal JSON"
    )
    analyze.add_argument("url", metavar="URL", help="an http(s) URL the fetcher may reach")
    analyze.set_defaults(handler=cmd_analyze)

    mcp = command(
        "mcp",
        "serve the Model Context Protocol on stdin/stdout for an AI agent, as one API key",
    )
    mcp.add_argument(
        "--key",
        default=None,
        help="the API key whose scopes and topics apply (default SIGNALS_MCP_KEY; prefer the variable: "
        "arguments show in process lists)",
    )
    mcp.add_argument(
        "--worker", action="store_true", help="also run a queue worker here, so analyze_url finishes"
    )
    mcp.set_defaults(handler=cmd_mcp)

    extract = command(
        "extract",
        "extract articles without an LLM: NDJSON on stdout, one line per input, in order",
    )
    extract.add_argument(
        "inputs",
        nargs="+",
        metavar="FILE|URL",
        help="HTML pages or plain-text articles (a file without HTML markup is read as text), or URLs",
    )
    extract.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    extract.set_defaults(handler=cmd_extract)

    reembed = command(
        "reembed", "embed every current signal with SIGNALS_EMBEDDING_MODEL (after changing it); resumable"
    )
    reembed.add_argument("--batch", type=int, default=64, help="texts per embeddings request (default 64)")
    reembed.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    reembed.set_defaults(handler=cmd_reembed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        if not getattr(args, "no_settings", False):
            settings = load_settings()
        level = setup_logging(settings.log_level if settings else None, args.verbose)
        if settings is not None:
            # Servers configure uvicorn's loggers from the settings: the level in force.
            settings = settings.model_copy(update={"log_level": logging.getLevelName(level)})
        code: int = args.handler(settings, args)
        return code
    except SettingsError as exc:
        print(f"signals: {exc}", file=sys.stderr)
        return 2
    except ListenFailed as exc:
        print(f"signals: {exc.detail}", file=sys.stderr)
        return BIND_FAILED_EXIT
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
