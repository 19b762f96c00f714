"""The arguments of each MCP tool, as msgspec Structs: one definition gives both the JSON
Schema the tool advertises (``input_schema``) and the decoder that checks a call, so the two
cannot drift apart."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import msgspec

from schemas.base import Request

_MOMENT = "ISO 8601 date (2026-05-01: the whole day) or date-time (UTC unless an offset is given)"
SEARCH_MAX_LIMIT = 50

T = TypeVar("T", bound=msgspec.Struct)

SignalId = Annotated[UUID, msgspec.Meta(description="A signal's id, as search_signals returns it")]


class SearchSignals(Request):
    """search_signals."""

    q: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=500,
                description=(
                    'Full-text query in web search syntax ("quoted phrase", OR, -excluded). '
                    "With q the best matches come first (title, then summary and key details), "
                    "each item with a snippet."
                ),
            ),
        ]
        | None
    ) = None
    topic: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=200,
                description="A topic slug (e.g. ai-infrastructure), from list_topics",
            ),
        ]
        | None
    ) = None
    entity: (
        Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1, description="An entity id, from a signal's entities")]
        | None
    ) = None
    source: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=500,
                description="A site name, exactly as a signal's site_name gives it",
            ),
        ]
        | None
    ) = None
    since: (
        Annotated[str, msgspec.Meta(max_length=64, description=f"Created at or after: {_MOMENT}")] | None
    ) = None
    until: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=64, description=f"Created before (a date: up to the end of that day): {_MOMENT}"
            ),
        ]
        | None
    ) = None
    limit: Annotated[
        int, msgspec.Meta(ge=1, le=SEARCH_MAX_LIMIT, description=f"Items to return, 1-{SEARCH_MAX_LIMIT}")
    ] = 10
    cursor: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=1000,
                description="next_cursor from a previous call with the same arguments: the following page",
            ),
        ]
        | None
    ) = None


class GetSignal(Request):
    """get_signal."""

    id: SignalId


class GetRelated(Request):
    """get_related."""

    id: SignalId
    limit: Annotated[int, msgspec.Meta(ge=1, le=100, description="Related signals to return, 1-100")] = 10


class GetStory(Request):
    """get_story."""

    id: Annotated[UUID, msgspec.Meta(description="A story's id: a signal's story_id")]


class ListTopics(Request):
    """list_topics."""

    window: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[0-9]{1,4}[hdw]$",
            description="The time window ending now: hours, days or weeks, e.g. 24h, 7d, 4w",
        ),
    ] = "7d"
    trending: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "false: topics with the most signals in the window first; true: the fastest "
                "growing first, growth = (count - previous_count) / max(previous_count, 1) "
                "against the window before"
            )
        ),
    ] = False
    limit: Annotated[int, msgspec.Meta(ge=1, le=100, description="Topics to return, 1-100")] = 20


class GetBriefing(Request):
    """get_briefing."""

    period: Annotated[
        Literal["daily", "weekly"],
        msgspec.Meta(description="A daily or a weekly (Monday to Sunday) briefing"),
    ] = "daily"
    date: (
        Annotated[
            date,
            msgspec.Meta(
                description="Any day of the period (ISO date); omitted: the newest briefing written"
            ),
        ]
        | None
    ) = None
    topic: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=200,
                description="A topic slug: that topic's briefing; omitted: the general briefing",
            ),
        ]
        | None
    ) = None


class AnalyzeUrl(Request):
    """analyze_url."""

    url: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=2048,
            pattern=r"^[hH][tT][tT][pP][sS]?://",
            description="The article's http(s) address; the service fetches and extracts it",
        ),
    ]
    wait_seconds: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=60,
            description=(
                "How long to wait for the analysis, 0-60 seconds: the signal if it is done by then, "
                "else the job; calling again with the same url returns the job in flight or, once "
                "done, the signal"
            ),
        ),
    ] = 30


def input_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """The Struct's JSON Schema as a tool's ``inputSchema``: the object itself (MCP wants
    ``type: object`` at the top, not a ``$ref``), closed to unknown properties as the
    decoder is."""
    _, components = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    schema: dict[str, Any] = dict(components[struct.__name__])
    schema.pop("title", None)
    schema.pop("description", None)
    schema["properties"] = {name: _optional_as_plain(p) for name, p in schema["properties"].items()}
    if not schema.get("required"):
        schema.pop("required", None)
    schema["additionalProperties"] = False
    return schema


def _optional_as_plain(prop: dict[str, Any]) -> dict[str, Any]:
    """``X | None = None`` is written ``anyOf: [X, null]`` with the description inside X;
    an argument left out means the same as null, so advertise plain X (description on top)."""
    branches = prop.get("anyOf")
    if (
        not branches
        or len(branches) != 2
        or {"type": "null"} not in branches
        or prop.get("default", 0) is not None
    ):
        return prop
    return next(b for b in branches if b != {"type": "null"})


def decode_arguments(struct: type[T], arguments: dict[str, Any] | None) -> T:
    """The call's arguments as ``struct``; msgspec.ValidationError names the bad field."""
    return msgspec.convert(arguments or {}, struct, strict=False)
