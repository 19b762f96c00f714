"""The article fetcher against real HTTP servers on loopback.

The fake sites are raw ASGI apps served by uvicorn (tests/support/fetch_site.py), so each
route controls exactly which headers and bytes go out and when. Refusal tests point at a
live server that would answer, and prove the request never reached it.
"""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Iterator
from ipaddress import ip_network
from typing import Any

import pytest

from service.errors import (
    FetchFailed,
    FetchRefused,
    FetchTimeout,
    FetchTooLarge,
    UnsupportedContent,
)
from service.ingest.fetch import FetchedPage, Fetcher
from service.settings import Settings
from tests.support.fetch_site import ARTICLE, CAP, CYRILLIC, GZIP_BOMB, MIB, FakeSite, serve_site


@pytest.fixture(scope="module")
def site() -> Iterator[FakeSite]:
    yield from serve_site("127.0.0.1")


@pytest.fixture(scope="module")
def other_site() -> Iterator[FakeSite]:
    """A second site on 127.0.0.2: outside an allowed 127.0.0.1/32."""
    yield from serve_site("127.0.0.2")


@pytest.fixture(scope="module")
def v6_site() -> Iterator[FakeSite]:
    yield from serve_site("::1")


def settings(*networks: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "fetch_allowed_networks": [ip_network(n) for n in networks],
        "fetch_timeout_seconds": 5.0,
        "fetch_max_bytes": CAP,
    }
    values.update(overrides)
    return Settings(**values)


async def fetch(url: str, *networks: str, **overrides: Any) -> FetchedPage:
    async with Fetcher(settings(*networks, **overrides)) as fetcher:
        return await fetcher.fetch_article(url)


def port_of(site: FakeSite) -> int:
    return int(site.base_url.rsplit(":", 1)[1])


# --- refusals against live servers -----------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "[::ffff:127.0.0.1]",
    "localhost.",
    "localhost",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_loopback_spellings_reach_the_site_when_allowed(site: FakeSite, host: str) -> None:
    page = await fetch(f"http://{host}:{port_of(site)}/article", "127.0.0.1/32")
    assert page.text == ARTICLE


@pytest.mark.parametrize(
    ("host", "reason"),
    [(host, "address_not_allowed") for host in LOOPBACK_SPELLINGS] + [("0177.0.0.1", "invalid_url")],
)
async def test_loopback_spellings_are_refused_without_allowed_networks(
    site: FakeSite, host: str, reason: str
) -> None:
    before = site.hits("/article")
    with pytest.raises(FetchRefused) as caught:
        await fetch(f"http://{host}:{port_of(site)}/article")
    assert caught.value.reason == reason
    assert site.hits("/article") == before


async def test_ipv6_loopback_is_refused_unless_allowed(v6_site: FakeSite) -> None:
    url = f"http://[::1]:{port_of(v6_site)}/article"
    with pytest.raises(FetchRefused):
        await fetch(url)
    assert v6_site.hits("/article") == 0
    assert (await fetch(url, "::1/128")).text == ARTICLE


@pytest.mark.parametrize("spelling", ["127.0.0.2", "0x7f000002", "2130706434", "127.2"])
async def test_a_redirect_to_a_refused_address_is_refused_at_the_hop(
    site: FakeSite, other_site: FakeSite, spelling: str
) -> None:
    target = f"http://{spelling}:{port_of(other_site)}/article"
    assert (await fetch(target, "127.0.0.2/32")).text == ARTICLE  # reachable when allowed
    before = other_site.hits("/article")
    with pytest.raises(FetchRefused) as caught:
        await fetch(f"{site.base_url}/to?url={target}", "127.0.0.1/32")
    assert caught.value.reason == "address_not_allowed"
    assert other_site.hits("/article") == before


async def test_a_redirect_to_a_name_resolving_to_a_refused_address_is_refused(
    site: FakeSite, other_site: FakeSite
) -> None:
    target = f"http://localhost:{port_of(site)}/article"
    before = site.hits("/article")
    with pytest.raises(FetchRefused) as caught:
        await fetch(f"{other_site.base_url}/to?url={target}", "127.0.0.2/32")
    assert caught.value.reason == "address_not_allowed"
    assert site.hits("/article") == before


# --- pages ---------------------------------------------------------------------------------------


async def test_an_html_page_is_fetched_and_decoded(site: FakeSite) -> None:
    page = await fetch(f"{site.base_url}/article", "127.0.0.1/32")
    assert page.requested_url == page.final_url == f"{site.base_url}/article"
    assert (page.status, page.media_type, page.charset) == (200, "text/html", "utf-8")
    assert page.text == ARTICLE
    assert page.redirects == ()


async def test_requests_say_who_we_are_and_keep_the_host_name(site: FakeSite) -> None:
    agent = "SignalsTest/1.0 (+https://example.org/bot)"
    await fetch(f"http://localhost:{port_of(site)}/article", "127.0.0.1/32", fetch_user_agent=agent)
    _, headers = site.requests[-1]
    assert headers["user-agent"] == agent
    assert headers["accept"].startswith("text/html")
    assert headers["host"] == f"localhost:{port_of(site)}"


@pytest.mark.parametrize(
    ("path", "media_type"), [("/plain", "text/plain"), ("/xhtml", "application/xhtml+xml")]
)
async def test_plain_text_and_xhtml_are_accepted(site: FakeSite, path: str, media_type: str) -> None:
    page = await fetch(f"{site.base_url}{path}", "127.0.0.1/32")
    assert page.media_type == media_type


async def test_a_page_without_content_type_is_sniffed_as_html(site: FakeSite) -> None:
    page = await fetch(f"{site.base_url}/untyped-html", "127.0.0.1/32")
    assert page.media_type == "text/html"
    assert ARTICLE in page.text


@pytest.mark.parametrize(("path", "reason"), [("/pdf", "application/pdf"), ("/untyped-binary", "unknown")])
async def test_other_content_is_refused(site: FakeSite, path: str, reason: str) -> None:
    with pytest.raises(UnsupportedContent) as caught:
        await fetch(f"{site.base_url}{path}", "127.0.0.1/32")
    assert caught.value.reason == reason


async def test_a_latin1_page_is_decoded_by_its_meta_charset(site: FakeSite) -> None:
    page = await fetch(f"{site.base_url}/latin1", "127.0.0.1/32")
    # Labelled latin-1, decoded as windows-1252 like browsers do: the quotes survive.
    assert page.charset == "cp1252"
    assert "Café crème “quoted”" in page.text


async def test_a_byte_order_mark_wins_over_a_wrong_label(site: FakeSite) -> None:
    page = await fetch(f"{site.base_url}/bom", "127.0.0.1/32")
    assert page.charset == "utf-8"
    assert page.text == ARTICLE


async def test_an_unlabelled_legacy_encoding_is_detected(site: FakeSite) -> None:
    page = await fetch(f"{site.base_url}/cyrillic", "127.0.0.1/32")
    assert page.text == CYRILLIC


@pytest.mark.parametrize("path", ["/gzip", "/deflate-raw"])
async def test_compressed_pages_are_inflated(site: FakeSite, path: str) -> None:
    assert (await fetch(f"{site.base_url}{path}", "127.0.0.1/32")).text == ARTICLE


async def test_an_unrequested_content_encoding_fails(site: FakeSite) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetch(f"{site.base_url}/brotli", "127.0.0.1/32")
    assert caught.value.reason == "content_encoding"


# --- redirects ------------------------------------------------------------------------------------


async def test_redirects_are_followed_up_to_the_limit(site: FakeSite) -> None:
    page = await fetch(f"{site.base_url}/chain/5", "127.0.0.1/32")
    assert page.text == ARTICLE
    assert page.redirects == tuple(f"{site.base_url}/chain/{n}" for n in range(4, -1, -1))
    assert page.final_url == f"{site.base_url}/chain/0"
    assert page.requested_url == f"{site.base_url}/chain/5"


async def test_one_redirect_too_many_fails(site: FakeSite) -> None:
    before = site.hits("/chain/0")
    with pytest.raises(FetchFailed) as caught:
        await fetch(f"{site.base_url}/chain/6", "127.0.0.1/32")
    assert caught.value.reason == "too_many_redirects"
    assert site.hits("/chain/0") == before


async def test_the_redirect_limit_comes_from_settings(site: FakeSite) -> None:
    with pytest.raises(FetchFailed):
        await fetch(f"{site.base_url}/chain/1", "127.0.0.1/32", fetch_max_redirects=0)


async def test_a_redirect_without_location_fails(site: FakeSite) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetch(f"{site.base_url}/no-location", "127.0.0.1/32")
    assert caught.value.reason == "bad_redirect"


async def test_a_redirect_to_another_scheme_is_refused(site: FakeSite) -> None:
    with pytest.raises(FetchRefused) as caught:
        await fetch(f"{site.base_url}/to?url=file:///etc/passwd", "127.0.0.1/32")
    assert caught.value.reason == "scheme"


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
async def test_http_errors_fail_with_the_upstream_status(site: FakeSite, status: int) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetch(f"{site.base_url}/status/{status}", "127.0.0.1/32")
    assert caught.value.reason == f"http_{status}"
    assert caught.value.extra["upstream_status"] == status
    assert "upstream error" not in caught.value.detail


async def test_a_slow_trickling_body_dies_at_the_total_deadline(site: FakeSite) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        await fetch(f"{site.base_url}/trickle", "127.0.0.1/32", fetch_timeout_seconds=1.0)
    assert time.monotonic() - started < 3


async def test_a_declared_oversized_body_is_refused_before_reading(site: FakeSite) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTooLarge):
        await fetch(f"{site.base_url}/big-declared", "127.0.0.1/32", fetch_timeout_seconds=20)
    assert time.monotonic() - started < 5


async def test_an_undeclared_oversized_body_stops_at_the_cap(site: FakeSite) -> None:
    with pytest.raises(FetchTooLarge):
        await fetch(f"{site.base_url}/big-streamed", "127.0.0.1/32")


async def test_a_gzip_bomb_dies_at_the_cap_without_inflating(site: FakeSite) -> None:
    assert len(GZIP_BOMB) < CAP  # so the Content-Length check cannot be what stops it
    tracemalloc.start()
    try:
        with pytest.raises(FetchTooLarge):
            await fetch(f"{site.base_url}/gzip-bomb", "127.0.0.1/32")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The bomb inflates to 256 MiB; one 64 KiB read inflated in full would be ~64 MiB.
    assert peak < 16 * MIB


async def test_a_closed_port_fails_to_connect() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchFailed) as caught:
        await fetch(f"http://127.0.0.1:{port}/", "127.0.0.1/32")
    assert caught.value.reason == "connect"


async def test_a_server_speaking_garbage_fails_as_a_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(FetchFailed) as caught:
            await fetch(f"http://127.0.0.1:{port}/", "127.0.0.1/32")
        assert caught.value.reason == "protocol"
    finally:
        server.close()
        await server.wait_closed()
