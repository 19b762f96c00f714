"""The address policy: which addresses are refused, the operator's exceptions, resolution
that refuses a host if any answer is refused, the connection backend built on it, and
``check_url``, the check a URL passes before any traffic is sent.

Classification tests pass address objects only; nothing here connects anywhere but
loopback, and the only names resolved are in /etc/hosts or numeric.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from service.errors import FetchRefused
from service.ingest.addresses import (
    AddressPolicy,
    CheckedNetworkBackend,
    forbidden_reason,
    resolve_checked,
)
from service.ingest.fetch import check_url

NO_EXCEPTIONS = AddressPolicy([])
LOOPBACK_ONLY = AddressPolicy([ip_network("127.0.0.1/32")])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "cgnat/shared"),
        ("100.127.255.254", "cgnat/shared"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "this-network"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.254", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.1", "documentation"),
        ("203.0.113.1", "documentation"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:2::1", "benchmarking"),
        ("100::1", "discard"),
        ("4000::1", "reserved"),
    ],
)
def test_special_purpose_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert forbidden_reason(ip_address(address)) == reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:127.0.0.1", "ipv4-mapped loopback"),
        ("::ffff:10.0.0.1", "ipv4-mapped private"),
        ("::ffff:169.254.169.254", "ipv4-mapped link-local"),
        ("::127.0.0.1", "ipv4-compatible"),
        ("::8.8.8.8", "ipv4-compatible"),
        ("::ffff:0:7f00:1", "ipv4-translated"),
        ("2002:7f00:1::1", "6to4 loopback"),
        ("2002:a9fe:a9fe::1", "6to4 link-local"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
        ("2001:0:808:808::1", "teredo"),
        ("64:ff9b::7f00:1", "nat64 loopback"),
        ("64:ff9b::a9fe:a9fe", "nat64 link-local"),
        ("64:ff9b:1::808:808", "nat64 local-use"),
    ],
)
def test_ipv6_forms_embedding_ipv4_are_judged_by_the_embedded_address(address: str, reason: str) -> None:
    assert forbidden_reason(ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_globally_routable_unicast_is_not_refused(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None


def test_multicast_is_refused_even_where_python_counts_it_as_global() -> None:
    assert forbidden_reason(ip_address("224.0.1.1")) == "multicast"
    assert forbidden_reason(ip_address("ff0e::1")) == "multicast"


def test_policy_refuses_a_non_global_address_outside_the_allowed_networks() -> None:
    with pytest.raises(FetchRefused) as caught:
        NO_EXCEPTIONS.check(ip_address("127.0.0.1"))
    assert caught.value.reason == "address_not_allowed"
    assert "loopback" in caught.value.detail


def test_policy_allows_global_addresses_and_allowed_networks() -> None:
    NO_EXCEPTIONS.check(ip_address("8.8.8.8"))
    LOOPBACK_ONLY.check(ip_address("127.0.0.1"))
    with pytest.raises(FetchRefused):
        LOOPBACK_ONLY.check(ip_address("127.0.0.2"))


def test_policy_matches_ipv4_mapped_addresses_against_ipv4_networks() -> None:
    LOOPBACK_ONLY.check(ip_address("::ffff:127.0.0.1"))
    with pytest.raises(FetchRefused):
        LOOPBACK_ONLY.check(ip_address("::ffff:127.0.0.2"))


def test_refusal_names_the_host_instead_of_what_it_resolved_to() -> None:
    with pytest.raises(FetchRefused) as caught:
        NO_EXCEPTIONS.check(ip_address("127.0.0.1"), host="intranet.example")
    assert "intranet.example" in caught.value.detail
    assert "127.0.0.1" not in caught.value.detail


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "::1", "localhost", "localhost.", "2130706433"])
async def test_resolution_refuses_loopback_in_any_spelling(host: str) -> None:
    with pytest.raises(FetchRefused) as caught:
        await resolve_checked(host, 80, NO_EXCEPTIONS)
    assert caught.value.reason == "address_not_allowed"


@pytest.mark.parametrize("host", ["localhost", "localhost.", "127.1", "0x7f000001", "127.0.0.1"])
async def test_resolution_returns_the_checked_addresses(host: str) -> None:
    assert await resolve_checked(host, 80, LOOPBACK_ONLY) == [ip_address("127.0.0.1")]


@pytest.fixture
async def mixed_dns_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The running loop's resolver answers "mixed.test" with one allowed and one refused
    address, as a hostile DNS server could."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "mixed.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
            ]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", fake)  # monkeypatch restores it after the test


@pytest.mark.usefixtures("mixed_dns_answers")
async def test_a_host_is_refused_when_any_of_its_answers_is_refused() -> None:
    with pytest.raises(FetchRefused):
        await resolve_checked("mixed.test", 80, LOOPBACK_ONLY)
    both = AddressPolicy([ip_network("127.0.0.0/30")])
    assert await resolve_checked("mixed.test", 80, both) == [
        ip_address("127.0.0.1"),
        ip_address("127.0.0.2"),
    ]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    yield sock
    sock.close()


async def test_backend_refuses_before_connecting(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with pytest.raises(FetchRefused):
        await CheckedNetworkBackend(NO_EXCEPTIONS).connect_tcp("localhost", port, timeout=5)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever knocked


async def test_backend_connects_to_the_checked_address(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    stream = await CheckedNetworkBackend(LOOPBACK_ONLY).connect_tcp("localhost", port, timeout=5)
    try:
        peer = stream.get_extra_info("socket").getpeername()
        assert peer == ("127.0.0.1", port)
    finally:
        await stream.aclose()


async def test_backend_never_opens_unix_sockets(tmp_path: Any) -> None:
    with pytest.raises(FetchRefused):
        await CheckedNetworkBackend(LOOPBACK_ONLY).connect_unix_socket(str(tmp_path / "s"))


# --- check_url: refused before any traffic ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("gopher://example.com:70/", "scheme"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http://", "invalid_url"),
        ("http:///path", "invalid_url"),
        ("http://exa mple.com/", "invalid_url"),
        ("http://example.com:99999/", "invalid_url"),
        ("http://[fe80::1%25eth0]/", "invalid_url"),
        ("http://1.2.3.4.5/", "invalid_url"),
        ("http://08.0.0.1/", "invalid_url"),
        ("http://example.com/" + "a" * 2048, "invalid_url"),
        ("http://127.1/", "address_not_allowed"),
        ("http://2130706433/", "address_not_allowed"),
        ("http://0x7f000001/", "address_not_allowed"),
        ("http://0177.0.0.1/", "invalid_url"),  # httpx cannot parse a 4-part octal host
        ("http://127.0.0.1./", "address_not_allowed"),
        ("http://[::ffff:127.0.0.1]/", "address_not_allowed"),
        ("http://[::1]/", "address_not_allowed"),
        ("http://[::ffff:7f00:1]/", "address_not_allowed"),
    ],
)
def test_check_url_refuses_unfit_urls(url: str, reason: str) -> None:
    with pytest.raises(FetchRefused) as caught:
        check_url(url, NO_EXCEPTIONS)
    assert caught.value.reason == reason
    assert "secret" not in caught.value.detail


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("HTTP://Example.COM/a?b=1", "http://example.com/a?b=1"),
        ("https://bücher.de/", "https://xn--bcher-kva.de/"),
        ("http://8.8.8.8/x", "http://8.8.8.8/x"),
        ("http://134744072/x", "http://8.8.8.8/x"),
    ],
)
def test_check_url_returns_the_url_normalised(url: str, normalised: str) -> None:
    assert check_url(url, NO_EXCEPTIONS) == normalised


def test_check_url_spells_allowed_numeric_hosts_in_standard_form() -> None:
    policy = AddressPolicy([ip_network("127.0.0.1/32")])
    assert check_url("http://0x7f.1:8080/a", policy) == "http://127.0.0.1:8080/a"


def test_check_url_can_skip_the_address_check_for_urls_that_only_label_content() -> None:
    assert check_url("http://127.1/a", NO_EXCEPTIONS, resolve_policy=False) == "http://127.0.0.1/a"
    with pytest.raises(FetchRefused):
        check_url("ftp://127.1/a", NO_EXCEPTIONS, resolve_policy=False)
