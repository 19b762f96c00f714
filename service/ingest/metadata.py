"""Page metadata made safe to hand on: plain text, and an image only as an http(s) URL.

Pages put markup in their og:title, og:site_name, author and description (escaped in the
attribute, so it comes out of the parser as ``<b>…</b>``), and any URL at all in og:image,
``javascript:`` included. Every consumer of these fields (JSON cards, feeds, CSV, the
model's prompt, a frontend's ``<img src>``) expects text and a fetchable image.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

MAX_IMAGE_URL = 2048
"""Longer image URLs are dropped."""

_TAG = re.compile(r"<[^<>]*>")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
"""A script or style element: its content is code, not text."""
_DANGLING_TAG = re.compile(r"<[A-Za-z/!?][^<>]*$")
"""An opening ``<tag`` cut off before its ``>`` at the end of a value."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def strip_markup(value: Any) -> Any:
    """A metadata string as text: entities decoded, then script and style elements and every
    tag removed (so an escaped ``&lt;script&gt;`` goes too). Whitespace is left for the
    caller to collapse; anything but a string is returned as it is."""
    if not isinstance(value, str):
        return value
    text = _SCRIPT.sub(" ", html.unescape(value))
    while True:  # "<<b>script>" is a tag again once "<b>" is gone
        stripped = _TAG.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return _DANGLING_TAG.sub(" ", text)


def image_url(value: Any, page_url: str | None) -> str | None:
    """The page's image as an absolute http(s) URL (resolved against the page's URL), or None:
    javascript:, data:, vbscript: and every other scheme, credentials in the URL, control
    characters and URLs over ``MAX_IMAGE_URL`` characters are dropped, so a client can put
    the value in an ``<img src>`` as it is."""
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip()
    if _CONTROL.search(raw) or any(c.isspace() for c in raw):
        return None  # browsers drop tabs and newlines inside a scheme ("java\tscript:")
    candidate = urljoin(page_url, raw) if page_url else raw
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018  # raises on a malformed port
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or len(candidate) > MAX_IMAGE_URL
    ):
        return None
    # Characters a URL may not hold as they are (quotes, angle brackets, backticks, non-ASCII)
    # percent-encoded, so the value cannot close an HTML attribute it is put in.
    encoded = quote(candidate, safe=_URL_SAFE)
    return encoded if len(encoded) <= MAX_IMAGE_URL else None


_URL_SAFE = "!#$%&()*+,/:;=?@[]~"
"""RFC 3986's reserved characters and '%' (unreserved ones are never quoted), less the
apostrophe: everything else is percent-encoded."""
