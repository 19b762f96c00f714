"""Rendering reader pages: the Jinja environment (autoescape on), the page headers (a strict
Content-Security-Policy, no caching by intermediaries) and ETag / 304 over the rendered bytes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from litestar.template.config import TemplateConfig

from service.conditional import entity_tag, none_match
from service.errors import SignalsError, Unauthorized
from service.reader import present
from service.reader.access import COOKIE, LOGIN_PATH, cleared_cookie, safe_next

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/read/static"

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""No script at all, styles and images from our own static files only, forms post only to us,
and no framing (clickjacking the sign-in form)."""

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Same-origin form posts keep their Origin header (check_same_origin needs it); links out
    # to an article's site do not tell it which of our pages the reader came from.
    "Referrer-Policy": "same-origin",
    "Vary": "Cookie, Authorization",
}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's Jinja integration over our templates: autoescape on for every template,
    undefined names fail loudly instead of printing nothing."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        paragraphs=present.paragraphs,
        safe_url=present.safe_url,
        sentiment_word=present.sentiment_word,
    )
    environment.globals.update(static=STATIC_PATH, login_path=LOGIN_PATH)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def _render(request: Request[Any, Any, Any], template: str, context: dict[str, Any]) -> bytes:
    engine = request.app.template_engine
    assert engine is not None, "create_app configures the reader templates"
    signed_in = COOKIE in request.cookies
    context.setdefault("query", None)
    text: str = engine.get_template(template).render(signed_in=signed_in, path=request.url.path, **context)
    return text.encode()


def page(request: Request[Any, Any, Any], template: str, **context: Any) -> Response[bytes]:
    """A reader page with its ETag, or 304 when the browser holds these exact bytes. Private
    and revalidated on every view: what a page shows depends on the reader's key."""
    body = _render(request, template, context)
    tag = entity_tag(body)
    headers = {**_HEADERS, "ETag": tag, "Cache-Control": "private, no-cache"}
    if none_match(request.headers.get("if-none-match"), tag):
        return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=body, media_type=MediaType.HTML, headers=headers)


def form_page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    extra_headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[bytes]:
    """A page that is never stored (the sign-in form, error pages)."""
    body = _render(request, template, context)
    headers = {**_HEADERS, "Cache-Control": "no-store", **(extra_headers or {})}
    return Response(
        content=body,
        status_code=status,
        media_type=MediaType.HTML,
        headers=headers,
        cookies=cookies,
    )


def login_form(
    request: Request[Any, Any, Any],
    *,
    status: int = 200,
    message: str | None = None,
    target: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """The sign-in form; after signing in the reader lands on ``target`` (a reader page)."""
    return form_page(
        request,
        "login.html",
        status=status,
        extra_headers=extra_headers,
        message=message,
        next_page=safe_next(target),
        title="Sign in to read",
    )


def to_sign_in(request: Request[Any, Any, Any], exc: Unauthorized) -> Response[Any]:
    """303 to the sign-in form, which returns the reader here afterwards. A saved key that no
    longer works (revoked, its partner disabled) is forgotten, and the form says so. A program
    that sent a bad ``Authorization`` header gets the 401 it would get from the JSON API."""
    if "authorization" in request.headers:
        return form_page(request, "error.html", status=401, extra_headers=exc.headers(),
                         title=exc.title, code=401, detail=exc.detail)  # fmt: skip
    path = request.url.path if request.url.path != "/read" else "/read/"  # Litestar drops the slash
    query = {"next": path + (f"?{request.url.query}" if request.url.query else "")}
    cookies = None
    if COOKIE in request.cookies:
        query["refused"] = "1"
        cookies = [cleared_cookie(request)]
    response: Response[Any] = Redirect(
        f"{LOGIN_PATH}?{urlencode(query)}", status_code=303, headers={"Cache-Control": "no-store"}
    )
    for cookie in cookies or ():
        response.set_cookie(cookie)
    return response


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors on reader pages as pages (the JSON API's problem+json is for programs); a page
    that needs a key sends the reader to the sign-in form."""
    if isinstance(exc, Unauthorized):
        return to_sign_in(request, exc)
    if isinstance(exc, SignalsError):
        status, title, detail, headers = exc.status, exc.title, exc.detail, exc.headers()
    elif isinstance(exc, HTTPException):
        status, title, detail, headers = exc.status_code, "Request not understood", exc.detail, {}
        if status == 404:
            title = "Not found"
    else:
        log.exception("reader page failed", exc_info=exc)
        status, title, detail, headers = 500, "Internal error", "The page could not be made.", {}
    return form_page(
        request, "error.html", status=status, extra_headers=headers, title=title, code=status, detail=detail
    )
