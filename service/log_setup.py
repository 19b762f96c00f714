"""Logging for every `signals` process: one format, quiet unless asked.

By default a command prints its own lines (the ``signals`` logger: "serving on …") and
warnings; the service's progress (migrations, workers) appears with ``-v`` or
``SIGNALS_LOG_LEVEL=INFO``, and the chatter of libraries (the embedded database's set-up,
HTTP clients, the queue) only with ``-vv``. uvicorn's own loggers are not configured by
uvicorn (``log_config=None``) and go through the same handler, so the API server, the
worker and the LLM stub all write the one format below.
"""

from __future__ import annotations

import logging
import sys

from service.request_context import install_log_context

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
COMMAND_LOGGER = "signals"
"""A command's own lines for its user; shown at INFO whatever the level."""

CHATTY = ("pgserver", "httpx", "httpx2", "httpcore", "openai", "instructor", "trafilatura", "pgqueuer")
"""Libraries whose INFO lines are request-by-request or set-up detail: shown only with -vv."""


def effective_level(configured: str | None, verbose: int) -> int:
    """-v is INFO and -vv DEBUG, whatever SIGNALS_LOG_LEVEL says; otherwise that setting."""
    if verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return logging.INFO
    level = logging.getLevelName((configured or "WARNING").upper())
    return level if isinstance(level, int) else logging.WARNING


def setup_logging(configured: str | None, verbose: int = 0) -> int:
    """Configure this process's logging to stderr; return the level in force."""
    install_log_context()  # every record carries request_id ("-" outside a request)
    level = effective_level(configured, verbose)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger(COMMAND_LOGGER).setLevel(min(level, logging.INFO))
    for name in CHATTY:
        logging.getLogger(name).setLevel(level if verbose >= 2 else max(level, logging.WARNING))
    return level
