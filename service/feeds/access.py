"""Who may read a feed: the usual key, which feed URLs also accept as ``?key=``.

Feed readers often cannot send an Authorization header, so a feed URL may carry the key in
its query string instead. The trade-off: a URL is written to browser history, proxy and
server access logs, and may be shared along with the feed. Give feed readers a key of their
own with only ``signals:read`` (and a topic restriction where it fits), so a leaked feed URL
exposes nothing else and can be revoked alone. Only feed routes look at ``?key=``; feeds never
repeat the key in their own links.

Otherwise the rules are those of ``service.http.authorize``: with SIGNALS_PUBLIC_READ a
request without a key is served (from the shared public bucket), one with a key as that key;
every keyed request takes a token from the key's bucket.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme

from service.errors import Unauthorized
from service.http import authenticate_connection, take_token
from service.keys.service import require_scope
from service.runtime import Runtime

FEED_SCOPE = "signals:read"
KEY_PARAMETER = "key"
FEED_KEY_SCHEME = "feed_key"


async def authorize_feed(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard for feed routes: a key with signals:read in Authorization or ``?key=``."""
    rt: Runtime = connection.app.state.runtime
    settings = rt.settings
    header = connection.headers.get("authorization")
    if header is None and (key := connection.query_params.get(KEY_PARAMETER)):
        header = f"Bearer {key}"
    if header is None:
        if not settings.public_read:
            raise Unauthorized(
                "send an API key as 'Authorization: Bearer <key>' or as the feed URL's ?key= parameter",
                reason="missing",
            )
        await take_token(connection, None)
        return
    stored = await authenticate_connection(rt, connection, header)
    require_scope(stored, FEED_SCOPE)
    connection.state.api_key = stored
    await take_token(connection, stored)


def document_feed_security(document: OpenAPI, paths: list[str]) -> None:
    """Mark the feed operations as taking a bearer key or ``?key=`` (the generic pass marks
    routes without ``opt["scope"]`` public, and feeds authorize in their own guard)."""
    components = document.components if document.components is not None else Components()
    schemes = dict(components.security_schemes or {})
    schemes[FEED_KEY_SCHEME] = SecurityScheme(
        type="apiKey",
        name=KEY_PARAMETER,
        security_scheme_in="query",
        description="The API key as a query parameter, on feed URLs only (for feed readers)",
    )
    components.security_schemes = schemes
    document.components = components
    for path in paths:
        item = (document.paths or {}).get(path)
        if item is not None and item.get is not None:
            item.get.security = [{"bearer": []}, {FEED_KEY_SCHEME: []}]
