"""Canonical URLs: one spelling per article, so that the same page submitted twice (with
campaign tags, another letter case, a default port) is recognised as the same page."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_plus

import httpx

# Query parameters that only say how a reader arrived, never which page they get. Each
# entry is documented by the platform that sets it; generic names such as ``ref``,
# ``source`` or ``id`` are deliberately absent because sites use them for content.
_TRACKING_PREFIXES = ("utm_",)  # Google Analytics campaign tags: utm_source, utm_medium, …
_TRACKING_PARAMS = frozenset(
    {
        # Ad-click identifiers: Google Ads (gclid, gclsrc, dclid, gbraid, wbraid),
        # Microsoft Ads, Meta, Yandex Direct, TikTok, X/Twitter, LinkedIn.
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "fbclid",
        "yclid",
        "ttclid",
        "twclid",
        "li_fat_id",
        # Google Analytics cross-domain linker.
        "_ga",
        "_gl",
        # E-mail campaigns: Mailchimp, HubSpot, Marketo, Vero.
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        # Share attribution: Instagram share links, X/Twitter embeds.
        "igshid",
        "igsh",
        "ref_src",
        # Campaign codes: Adobe Analytics (s_cid, s_kwcid, ef_id), publishers' cmpid.
        "cmpid",
        "s_cid",
        "s_kwcid",
        "ef_id",
        # Alibaba's position tracker ("super position model"); Yandex Openstat.
        "spm",
        "_openstat",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
# Unreserved characters (RFC 3986 §2.3) mean the same encoded or not; "." stays encoded so
# that decoding can never create a new "../" segment.
_DECODABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~")


def _normalise_percent(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _DECODABLE else "%" + match[1].upper()

    return _PERCENT.sub(fix, text)


def _is_tracking(pair: str) -> bool:
    name = unquote_plus(pair.partition("=")[0]).strip().lower()
    return name.startswith(_TRACKING_PREFIXES) or name in _TRACKING_PARAMS


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ValueError("not a valid URL") from exc
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.raw_host:
        raise ValueError("not an http(s) URL with a host")
    return parsed


def _host(parsed: httpx.URL) -> str:
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")  # raw_host is IDNA already
    if ":" in host:
        ip = ipaddress.IPv6Address(host)
        # Spelled by hand: how ``compressed`` prints mapped addresses changed in Python 3.13.
        text = f"::ffff:{ip.ipv4_mapped}" if ip.ipv4_mapped is not None else ip.compressed
        return f"[{text}]"
    return host


def canonicalize_url(url: str) -> str:
    """The canonical spelling of an http(s) URL.

    Lower-case scheme and IDNA host (without a trailing dot), no default port, no user
    info, no fragment, no tracking parameters (utm_*, gclid, fbclid, …), the remaining
    query parameters sorted by name (values of a repeated name keep their order), no empty
    query, an empty path as "/", dot segments removed, and percent-escapes upper-case
    (escaped letters, digits, "-", "_" and "~" decoded). Raises ``ValueError`` for
    anything that is not an http(s) URL with a host.
    """
    parsed = _parse(url)
    try:
        host = _host(parsed)
    except ValueError as exc:
        raise ValueError("not a valid host") from exc
    port = parsed.port
    authority = host if port is None or port == _DEFAULT_PORTS[parsed.scheme] else f"{host}:{port}"
    raw_path, _, raw_query = parsed.raw_path.decode("ascii").partition("?")
    path = _normalise_percent(raw_path) or "/"
    pairs = [_normalise_percent(pair) for pair in raw_query.split("&") if pair and not _is_tracking(pair)]
    pairs.sort(key=lambda pair: pair.partition("=")[0])  # stable: repeated names keep order
    query = "?" + "&".join(pairs) if pairs else ""
    return f"{parsed.scheme}://{authority}{path}{query}"


def _site(canonical: str) -> str:
    """The host without "www." and, when it is not the scheme's default, the port: pages on
    other ports of one host are other servers (http and https on their default ports are
    the same site's two doors)."""
    parsed = httpx.URL(canonical)
    host = _host(parsed).removeprefix("www.")
    return host if parsed.port is None else f"{host}:{parsed.port}"


def choose_canonical(page_url: str, canonical_link: str | None) -> str:
    """The canonical URL to store for a page fetched from ``page_url``.

    The page's own ``<link rel=canonical>`` or og:url (``canonical_link``, possibly
    relative) is used only when it is http(s) and on the same host and port as ``page_url``
    (ignoring case, a leading "www." and the scheme's default port); otherwise a hostile page
    could claim another site's URL and take over its place in deduplication. Either way the result is
    canonicalised. Raises ``ValueError`` only when ``page_url`` itself is not an http(s) URL.
    """
    page = canonicalize_url(page_url)
    if canonical_link is None or not canonical_link.strip():
        return page
    try:
        claimed = canonicalize_url(str(httpx.URL(page_url).join(canonical_link.strip())))
    except (httpx.InvalidURL, ValueError, TypeError):
        return page
    return claimed if _site(claimed) == _site(page) else page
