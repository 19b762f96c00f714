"""The article fetcher: one shared httpx client whose every connection is address-checked.

Each fetch is refused before any traffic when its URL is unfit (``check_url``), follows
redirects by hand so that each hop is checked again, runs under one total deadline, and
caps the decompressed body. Every failure leaves this module as one of our errors
(``FetchRefused``, ``FetchFailed``, ``FetchTimeout``, ``FetchTooLarge``,
``UnsupportedContent``); no httpx or httpcore exception escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType

import httpcore
import httpx

from service.errors import (
    FetchFailed,
    FetchRefused,
    FetchTimeout,
    FetchTooLarge,
    SignalsError,
    UnsupportedContent,
)
from service.ingest.addresses import AddressPolicy, CheckedNetworkBackend
from service.ingest.decoding import BoundedDecoder, decode_body, sniff_html
from service.settings import Settings

MAX_URL_LENGTH = 2048
_LOCALHOST = ipaddress.IPv4Address("127.0.0.1")
SUPPORTED_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.1"
# Only encodings we can inflate with a bound on the output (see BoundedDecoder).
_ACCEPT_ENCODING = "gzip, deflate"
_HOSTNAME = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*")
_ENDS_IN_NUMBER = re.compile(r"(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$")


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A fetched page, decoded. ``redirects`` lists every URL a redirect led to, in order
    (the last one is ``final_url``); it is empty when the first answer was the page."""

    requested_url: str
    final_url: str
    status: int
    media_type: str
    charset: str | None
    text: str
    redirects: tuple[str, ...]


def _refused(detail: str, reason: str) -> FetchRefused:
    return FetchRefused(detail, reason=reason)


_IPV4_PART = re.compile(r"0x(?P<hex>[0-9a-f]*)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*)")


def _parse_ipv4_number(part: str) -> int:
    # Exactly what inet_aton accepts: 0x… hexadecimal, 0… octal, otherwise decimal.
    match = _IPV4_PART.fullmatch(part)
    if match is None:
        raise ValueError("not an IPv4 number")
    if match["hex"] is not None:
        return int(match["hex"] or "0", 16)
    if match["oct"] is not None:
        return int(match["oct"], 8)
    return int(part, 10)


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a URL host denotes, in every spelling resolvers accept
    (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``), or ``None`` for a name.

    Follows the WHATWG URL standard: a host whose last label is a number must be a valid
    IPv4 address, otherwise it is invalid (``ValueError``).
    """
    host = host.lower().removesuffix(".")
    if not _ENDS_IN_NUMBER.search(host):
        return None
    parts = host.split(".")
    if len(parts) > 4:
        raise ValueError("too many parts for an IPv4 address")
    numbers = [_parse_ipv4_number(part) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 part out of range")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def check_url(url: str, policy: AddressPolicy, *, resolve_policy: bool = True) -> str:
    """Check a URL before anything is sent to it; return it normalised.

    Refuses (``FetchRefused``) a URL longer than 2048 characters or unparsable
    (``invalid_url``), a scheme other than http/https (``scheme``), user info
    (``credentials``), a missing or malformed host or port (``invalid_url``) and a literal
    IP host, in any IPv4 spelling, that ``policy`` does not allow (``address_not_allowed``;
    httpx itself rejects four-part spellings with leading zeros such as ``0177.0.0.1``,
    which therefore fail as ``invalid_url``).
    Host names are not resolved here; the fetcher's backend checks what they resolve to.
    The returned URL spells a literal IP in its standard form and a name in lower-case
    IDNA. ``resolve_policy=False`` skips the address check, for URLs that only label
    content the caller already has and that will never be fetched.
    """
    if len(url) > MAX_URL_LENGTH:
        raise _refused(f"the URL is longer than {MAX_URL_LENGTH} characters", "invalid_url")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError):
        raise _refused("the URL cannot be parsed", "invalid_url") from None
    if parsed.scheme not in ("http", "https"):
        raise _refused("only http and https URLs can be fetched", "scheme")
    if parsed.userinfo:
        raise _refused("URLs with credentials are not fetched", "credentials")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise _refused("the URL's port is out of range", "invalid_url")
    host = parsed.raw_host.decode("ascii", errors="replace").lower()
    if not host:
        raise _refused("the URL has no host", "invalid_url")
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        if ":" in host:
            if "%" in host:  # zone ids name a local interface: never a public site
                raise ValueError(host)
            ip = ipaddress.IPv6Address(host)
        else:
            ip = parse_ipv4_host(host)
    except ValueError:
        raise _refused("the URL's host is not a valid address", "invalid_url") from None
    if ip is None:
        name = host.removesuffix(".")
        if len(host) > 254 or not _HOSTNAME.fullmatch(name):
            raise _refused("the URL's host is not a valid name", "invalid_url")
        if resolve_policy and (name == "localhost" or name.endswith(".localhost")):
            # RFC 6761: localhost names are loopback wherever they are resolved. Judged now, as
            # a literal 127.0.0.1 is, instead of failing later as a job; what the name really
            # resolves to is still checked when it is fetched.
            policy.check(_LOCALHOST, host=name)
        return str(parsed)
    if resolve_policy:
        policy.check(ip)
    return str(parsed.copy_with(host=str(ip)))


def _media_type(content_type: str | None) -> tuple[str | None, str | None]:
    """(media type, charset parameter) of a Content-Type header."""
    if not content_type:
        return None, None
    media, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


def _translate(exc: Exception, host: str) -> SignalsError:
    """Our error for a transport exception; messages name the host, never the URL (its
    query may hold tokens) nor anything the server sent."""
    if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException | TimeoutError):
        return FetchTimeout(f"{host} did not answer in time", reason="timeout")
    if isinstance(exc, httpx.ConnectError | httpcore.ConnectError):
        return FetchFailed(f"could not connect to {host}", reason="connect")
    if isinstance(exc, httpx.ProtocolError | httpcore.ProtocolError):
        return FetchFailed(f"{host} broke the HTTP protocol", reason="protocol")
    if isinstance(exc, httpx.InvalidURL | httpcore.UnsupportedProtocol):
        return FetchRefused("the URL cannot be fetched", reason="invalid_url")
    return FetchFailed(f"the connection to {host} failed", reason="network")


_TRANSPORT_ERRORS = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    httpcore.NetworkError,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    OSError,
)


class Fetcher:
    """Fetches article pages for the pipeline; one instance (one connection pool) per
    process. Use ``async with Fetcher(settings)`` or call ``aclose``."""

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.fetch_timeout_seconds
        self._max_bytes = settings.fetch_max_bytes
        self._max_redirects = settings.fetch_max_redirects
        self.policy = AddressPolicy(settings.fetch_allowed_networks)
        ssl_context = httpx.create_ssl_context()
        transport = httpx.AsyncHTTPTransport(verify=ssl_context)
        # httpx 0.28 has no public way to choose the network backend, so the transport's
        # pool is replaced by an identical one whose backend checks every address.
        # tests/integration/test_fetch.py proves it is in use (names resolving to
        # loopback are refused at connect time).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            # below the 5 s idle timeout of uvicorn's and Apache's defaults: a connection the
            # server is about to close is not reused (the retry in _get covers the rest)
            keepalive_expiry=2.0,
            network_backend=CheckedNetworkBackend(self.policy),
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,  # no proxies or .netrc from the environment
            timeout=httpx.Timeout(self._timeout),
            headers={
                "User-Agent": settings.fetch_user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": _ACCEPT_ENCODING,
            },
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def fetch_article(self, url: str) -> FetchedPage:
        """Fetch one page (HTML, XHTML or plain text) and decode it.

        Redirects are followed up to ``fetch_max_redirects`` hops, each checked like the
        first URL; everything (all hops and the body) runs under ``fetch_timeout_seconds``;
        the decompressed body may not exceed ``fetch_max_bytes``. Raises ``FetchRefused``,
        ``FetchFailed`` (``reason="http_<status>"`` and ``upstream_status`` for HTTP errors),
        ``FetchTimeout``, ``FetchTooLarge`` or ``UnsupportedContent``.
        """
        requested = check_url(url, self.policy)
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(requested)
        except TimeoutError:
            host = httpx.URL(requested).host
            raise FetchTimeout(
                f"fetching from {host} took longer than {self._timeout:g} s", reason="deadline"
            ) from None

    async def _follow(self, requested: str) -> FetchedPage:
        redirects: list[str] = []
        current = requested
        while True:
            host = httpx.URL(current).host
            try:
                async with self._get(current) as response:
                    status = response.status_code
                    if 300 <= status < 400:
                        current = self._next_hop(response, len(redirects), host)
                        redirects.append(current)
                        continue
                    return await self._read_page(response, requested, tuple(redirects), host)
            except _TRANSPORT_ERRORS as exc:
                raise _translate(exc, host) from None

    @contextlib.asynccontextmanager
    async def _get(self, url: str) -> AsyncIterator[httpx.Response]:
        """GET ``url`` (streamed), sent once more when the kept-alive connection it went out on
        turns out to have been closed by the server before any answer (a GET is safe to send
        again). Errors once the answer has begun are never retried."""
        for attempt in (1, 2):
            try:
                response = await self._client.send(self._client.build_request("GET", url), stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if attempt == 2 or not _closed_before_answering(exc):
                    raise
                continue
            try:
                yield response
            finally:
                await response.aclose()
            return

    def _next_hop(self, response: httpx.Response, hops: int, host: str) -> str:
        status = response.status_code
        location = response.headers.get("location")
        if status not in _REDIRECT_STATUSES:
            raise FetchFailed(
                f"{host} answered HTTP {status}", reason=f"http_{status}", upstream_status=status
            )
        if not location:
            raise FetchFailed(
                f"{host} answered {status} without a Location",
                reason="bad_redirect",
                upstream_status=status,
            )
        if hops >= self._max_redirects:
            raise FetchFailed(f"more than {self._max_redirects} redirects", reason="too_many_redirects")
        try:
            target = str(response.url.join(location))
        except (httpx.InvalidURL, ValueError):
            raise FetchFailed(f"{host} redirected to an invalid URL", reason="bad_redirect") from None
        return check_url(target, self.policy)

    async def _read_page(
        self, response: httpx.Response, requested: str, redirects: tuple[str, ...], host: str
    ) -> FetchedPage:
        status = response.status_code
        if status >= 400 or status < 200:
            raise FetchFailed(
                f"{host} answered HTTP {status}", reason=f"http_{status}", upstream_status=status
            )
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchTooLarge(f"the page is larger than {self._max_bytes} bytes", reason="body_too_large")
        media_type, charset_param = _media_type(response.headers.get("content-type"))
        if media_type is not None and media_type not in SUPPORTED_MEDIA_TYPES:
            raise UnsupportedContent(f"the page is {media_type}", reason=media_type)
        decoder = BoundedDecoder(response.headers.get("content-encoding", ""), self._max_bytes)
        chunks = [decoder.feed(raw) async for raw in response.aiter_raw()]
        chunks.append(decoder.flush())
        body = b"".join(chunks)
        if media_type is None:
            if not sniff_html(body):
                raise UnsupportedContent("the page has no Content-Type and is not HTML", reason="unknown")
            media_type = "text/html"
        # Detection can take a while on a large page of unlabelled bytes: keep the loop free.
        text, charset = await asyncio.to_thread(decode_body, body, media_type, charset_param)
        return FetchedPage(
            requested_url=requested,
            final_url=str(response.url),
            status=status,
            media_type=media_type,
            charset=charset,
            text=text,
            redirects=redirects,
        )


def _closed_before_answering(exc: httpx.HTTPError) -> bool:
    """Whether the server dropped the connection before sending anything: what a kept-alive
    connection it had just timed out looks like (httpcore: "Server disconnected without
    sending a response"; or the connection reset on the first read)."""
    return isinstance(exc, httpx.ReadError) or "without sending a response" in str(exc)
