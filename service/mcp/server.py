"""The MCP server: tools and resources over any transport. Who calls comes from ``caller_of``
(stdio: the key the process was started with, checked again on every request; HTTP: the key
the request's Authorization header carried, checked before the request got here)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import mcp_types as types
import msgspec
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from schemas.base import json_encoder
from service.digests import reading as digests
from service.digests.periods import Period
from service.errors import BadRequest, NotFound, SignalsError
from service.mcp.arguments import decode_arguments, input_schema
from service.mcp.caller import Caller
from service.mcp.tools import TOOLS, TOOLS_BY_NAME, ToolSpec
from service.signals import service as signals

log = logging.getLogger(__name__)

CallerOf = Callable[[ServerRequestContext[Any, Any]], Awaitable[Caller]]

RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource
_SIGNAL_URI = re.compile(r"^signals://signal/([0-9a-fA-F-]{36})$")
_BRIEFING_URI = re.compile(r"^signals://briefing/([0-9a-fA-F-]{36})$")
_LATEST_URI = re.compile(r"^signals://briefing/latest/(daily|weekly)$")
_JSON = "application/json"

INSTRUCTIONS = (
    "Signals turns news articles into grounded signals: a card with a summary, analysis and key "
    "details each backed by a verbatim quote. Find signals with search_signals, read one with "
    "get_signal, follow get_related and get_story, see what is moving with list_topics and read "
    "the written briefings with get_briefing. Ids are UUIDs returned by these tools."
)


def _tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema(spec.arguments),
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=spec.read_only,
            destructive_hint=False,
            idempotent_hint=spec.read_only,
            open_world_hint=not spec.read_only,  # analyze_url fetches the web
        ),
    )


_TOOL_LISTING = {spec.name: _tool(spec) for spec in TOOLS}


def _problem_text(error: SignalsError) -> str:
    return json_encoder.encode(error.to_problem()).decode()


def _error_result(error: SignalsError) -> types.CallToolResult:
    """A tool's failure as the model should see it: the problem the JSON API would answer."""
    problem = msgspec.to_builtins(error.to_problem())
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=_problem_text(error))],
        structured_content=problem,
        is_error=True,
    )


def _mcp_error(error: SignalsError) -> MCPError:
    code = RESOURCE_NOT_FOUND if isinstance(error, NotFound) else types.INVALID_REQUEST
    return MCPError(code, error.detail, data=msgspec.to_builtins(error.to_problem()))


def build_server(caller_of: CallerOf) -> Server[Any]:
    """An MCP server answering for whoever ``caller_of`` says is calling."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            caller = await caller_of(ctx)
        except SignalsError as exc:
            raise _mcp_error(exc) from None
        # A key without signals:write is not offered analyze_url at all.
        return types.ListToolsResult(tools=[_TOOL_LISTING[t.name] for t in TOOLS if caller.may(t.scope)])

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = TOOLS_BY_NAME.get(params.name)
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool: {params.name}")
        try:
            caller = await caller_of(ctx)
            caller.require(spec.scope)
            try:
                arguments = decode_arguments(spec.arguments, params.arguments)
            except msgspec.ValidationError as exc:
                raise BadRequest(f"invalid arguments: {exc}", reason="bad_parameter") from None
            result = await spec.run(caller, arguments)
        except SignalsError as exc:
            return _error_result(exc)
        except Exception:
            log.exception("MCP tool %s failed", spec.name)
            return _error_result(SignalsError("internal error; the tool call was not completed"))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json_encoder.encode(result).decode())],
            structured_content=result,
        )

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            (await caller_of(ctx)).require("signals:read")  # a revoked key lists nothing either
        except SignalsError as exc:
            raise _mcp_error(exc) from None
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    name=f"latest-{period}-briefing",
                    title=f"The latest {period} briefing",
                    uri=f"signals://briefing/latest/{period}",
                    description=f"The newest general {period} briefing written (JSON)",
                    mime_type=_JSON,
                )
                for period in ("daily", "weekly")
            ]
        )

    async def list_templates(
        ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    name="signal",
                    title="A signal card",
                    uri_template="signals://signal/{id}",
                    description="A signal card (as get_signal returns it), by signal id",
                    mime_type=_JSON,
                ),
                types.ResourceTemplate(
                    name="briefing",
                    title="A briefing",
                    uri_template="signals://briefing/{id}",
                    description="One briefing version, by briefing id (a briefing's id field)",
                    mime_type=_JSON,
                ),
            ]
        )

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            caller = await caller_of(ctx)
            caller.require("signals:read")
            value = await _read(caller, uri)
        except SignalsError as exc:
            raise _mcp_error(exc) from None
        text = json_encoder.encode(value).decode()
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=_JSON, text=text)]
        )

    return Server(
        "signals",
        title="Signals",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


async def _read(caller: Caller, uri: str) -> Any:
    """A resource's value for ``caller``; NotFound for an unknown URI, as for an unknown id."""
    if match := _SIGNAL_URI.match(uri):
        return await signals.get_signal(
            caller.rt.db.pool,
            _uuid(match[1], uri),
            allowed_topics=caller.allowed_topics,
            suppliers=caller.suppliers,
        )
    if match := _BRIEFING_URI.match(uri):
        return await digests.get_digest(
            caller.rt.db.pool, _uuid(match[1], uri), allowed_topics=caller.allowed_topics
        )
    if match := _LATEST_URI.match(uri):
        period: Period = "daily" if match[1] == "daily" else "weekly"
        return await digests.latest_digest(
            caller.rt.db.pool, period=period, topic=None, day=None, allowed_topics=caller.allowed_topics
        )
    raise NotFound(f"no resource {uri}")


def _uuid(text: str, uri: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise NotFound(f"no resource {uri}") from None
