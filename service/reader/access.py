"""Who may read the reader pages, and the read key kept in a cookie.

The pages follow the JSON reads: with SIGNALS_PUBLIC_READ anyone may read them (as a keyless
public reader: fetched content only); otherwise a read key is needed. A browser cannot send an
``Authorization`` header from a link, so the key is entered once in a form and kept in a cookie:
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it),
``Path=/read`` and ``Secure`` when the service is reached over HTTPS. It never appears in a URL.
A cookie sent with a request is checked exactly as a bearer key is (the key cache, the
failed-authentication throttle) and held to its topic restriction and supplier view.

The form posts change the reader's state, so they must come from our own pages: the cookie's
SameSite keeps other sites' requests unauthenticated, and ``check_same_origin`` refuses a POST
whose ``Origin`` (or, without one, ``Sec-Fetch-Site``) is not ours, which also stops another
site from signing a visitor in with the other site's key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.datastructures import Cookie

from service.errors import Forbidden, Unauthorized
from service.http import authenticate_connection, take_token
from service.keys.repository import StoredKey
from service.keys.service import require_scope
from service.runtime import Runtime

COOKIE = "signals_read_key"
COOKIE_PATH = "/read"
COOKIE_MAX_AGE = 30 * 24 * 3600
"""A month: a reader's device keeps the key as a browser keeps a login; revoking the key ends it."""
MAX_KEY_LENGTH = 200
LOGIN_PATH = "/read/login"


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _bearer(key: str) -> str:
    return f"Bearer {key}"


async def authorize_reader(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of the reader pages: the key of an ``Authorization: Bearer`` header
    (programs may read the pages as the JSON) or of the cookie, checked as the API checks keys
    (401 if it is bad); without either, a keyless public read when SIGNALS_PUBLIC_READ is on
    (401 otherwise). Then the rate limit."""
    if request.route_handler.opt.get("reader") != "page":
        return  # the sign-in and sign-out forms check what they are sent themselves
    rt = _runtime(request)
    header = request.headers.get("authorization")
    key_text = request.cookies.get(COOKIE)
    if header is None and key_text is None:
        if not rt.settings.public_read:
            raise Unauthorized("a read key is needed to read these pages", reason="missing")
        await take_token(request, None)
        return
    key = await authenticate_connection(rt, request, header or _bearer(key_text or ""))
    require_scope(key, "signals:read")
    request.state.api_key = key
    await take_token(request, key)


async def check_read_key(request: Request[Any, Any, Any], key_text: str) -> StoredKey:
    """The key typed into the form, checked as a bearer key with ``signals:read``."""
    if not key_text or len(key_text) > MAX_KEY_LENGTH:
        raise Unauthorized("enter a read key", reason="malformed")
    key = await authenticate_connection(_runtime(request), request, _bearer(key_text))
    require_scope(key, "signals:read")
    return key


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origin(request: Request[Any, Any, Any]) -> str:
    """Our origin: SIGNALS_PUBLIC_URL's when set (behind a proxy the socket's scheme and host
    are not what the browser sees), else the one the request was addressed to."""
    public_url = _runtime(request).settings.public_url
    if public_url:
        return _origin(public_url)
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}".lower()


def check_same_origin(request: Request[Any, Any, Any]) -> None:
    """403 for a form post that does not come from our own pages."""
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.lower() != own_origin(request):
            raise Forbidden("this form only accepts posts from its own pages", reason="cross_origin")
        return
    # Browsers that omit Origin on a same-origin POST still send Fetch Metadata.
    if request.headers.get("sec-fetch-site") != "same-origin":
        raise Forbidden("this form only accepts posts from its own pages", reason="cross_origin")


def is_secure(request: Request[Any, Any, Any]) -> bool:
    """Whether the cookie gets ``Secure``: the public URL is https, or the request came over TLS."""
    public_url = _runtime(request).settings.public_url
    if public_url:
        return public_url.lower().startswith("https://")
    return request.url.scheme == "https"


def key_cookie(request: Request[Any, Any, Any], key_text: str) -> Cookie:
    """The cookie that keeps the read key."""
    return Cookie(
        key=COOKIE,
        value=key_text,
        path=COOKIE_PATH,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


def cleared_cookie(request: Request[Any, Any, Any]) -> Cookie:
    """The cookie that makes the browser forget the key."""
    return Cookie(
        key=COOKIE,
        value="",
        path=COOKIE_PATH,
        max_age=0,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a reader page of ours, never another site
    (``//evil.example`` and ``/\\evil.example`` are other sites to a browser)."""
    if not target or not target.startswith("/read/") or target.startswith(("//", "/\\")):
        return "/read/"
    if any(ch in target for ch in "\\\r\n\t") or target.startswith(LOGIN_PATH):
        return "/read/"
    return target
