"""Query and header parameters that more than one route takes, declared once.

Each is an ``Annotated`` type a handler names in its signature; Litestar reads, checks and
documents the parameter from the declaration here (service/openapi_params.py then adds the
patterns of the values the service parses itself), so two routes taking the same parameter
cannot drift apart. A parameter only one route takes stays beside that route.

This module imports no feature package: every route module may import it without an arrow
running from one feature to another.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from uuid import UUID

from litestar.params import HeaderParameter, QueryParameter

from schemas.problems import FieldError
from service.errors import BadRequest
from service.hostile_input import BigInt
from service.pagination import MAX_CURSOR_LENGTH

# --- Prefer: wait (RFC 7240): POST /v1/signals and POST /v1/digests --------------------------

MAX_PREFER_WAIT = 60
"""The longest wait honoured, in seconds (the routes' descriptions say N ≤ 60)."""

Prefer = Annotated[str | None, HeaderParameter(name="Prefer", required=False)]

_WAIT_RE = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_WAIT_DIGITS = 9
"""More digits than this is not a number of seconds anyone means (and 4 300 or more are more
than Python's int() reads)."""


def prefer_wait(header: str | None) -> int:
    """Seconds asked for by RFC 7240 ``Prefer: wait=N`` (clipped to ``MAX_PREFER_WAIT``), or 0;
    a 400 ``bad_header`` problem for a wait of more than nine digits."""
    if not header:
        return 0
    match = _WAIT_RE.search(header)
    if match is None:
        return 0
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > _WAIT_DIGITS:
        message = (
            f"Prefer: wait must be a number of seconds of at most {_WAIT_DIGITS} digits "
            f"(clipped to {MAX_PREFER_WAIT})"
        )
        raise BadRequest(
            message, reason="bad_header", errors=[FieldError(message=message, key="Prefer", source="header")]
        )
    return min(int(digits), MAX_PREFER_WAIT)


# --- Pages: limit and cursor (keyset pagination, service/pagination.py) ----------------------

MAX_PAGE_LIMIT = 100
"""The most items a page of any list holds (the sync feed, with its own limit, aside)."""

Limit = Annotated[
    int, QueryParameter(description=f"Items per page, 1-{MAX_PAGE_LIMIT}", ge=1, le=MAX_PAGE_LIMIT)
]
Cursor = Annotated[
    str | None, QueryParameter(description="From a previous page's next", max_length=MAX_CURSOR_LENGTH)
]

# --- Time windows: since / until / window (service/time_window.py) ---------------------------

_WINDOW_DOC = "ISO date or date-time (UTC unless an offset is given)"
Since = Annotated[str | None, QueryParameter(description=f"Window start, inclusive: {_WINDOW_DOC}")]
Until = Annotated[
    str | None, QueryParameter(description=f"Window end, exclusive: {_WINDOW_DOC}; a date includes that day")
]
WindowLength = Annotated[
    str | None,
    QueryParameter(description="Window length instead of since or until: 24h, 7d, 4w", max_length=8),
]

# --- The filters of GET /v1/signals, which its export and the signal feeds take too ----------

TopicFilter = Annotated[list[str] | None, QueryParameter(description="Topic slug; repeat for several")]
TopicMatch = Annotated[
    Literal["any", "all"], QueryParameter(description="Several topics: any or all of them")
]
EntityFilter = Annotated[list[BigInt] | None, QueryParameter(description="Entity id; repeat: all of them")]
SourceFilter = Annotated[str | None, QueryParameter(description="Site name, exactly")]
SinceFilter = Annotated[str | None, QueryParameter(description="ISO date or date-time, inclusive")]
UntilFilter = Annotated[str | None, QueryParameter(description="ISO date (whole day) or date-time")]
DateField = Annotated[Literal["created", "published"], QueryParameter(description="What since/until compare")]
TextQuery = Annotated[str | None, QueryParameter(description="Full text (web search syntax)", max_length=500)]
StoryFilter = Annotated[UUID | None, QueryParameter(description="Only this story's signals")]
LangFilter = Annotated[str | None, QueryParameter(description="Article language, e.g. en")]

# --- Conditional GET of feeds (service/feeds/http.py answers them) ---------------------------

IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False)]
IfModifiedSince = Annotated[str | None, HeaderParameter(name="If-Modified-Since", required=False)]
