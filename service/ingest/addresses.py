"""Which addresses the service may connect to, and a connection backend that enforces it.

The rules live here so that every outbound connection (article fetches now, webhook
deliveries later) judges addresses the same way:

- ``forbidden_reason`` classifies one address: ``None`` for publicly routable unicast,
  otherwise a short reason.
- ``AddressPolicy`` adds the operator's exceptions (``SIGNALS_FETCH_ALLOWED_NETWORKS``).
- ``resolve_checked`` resolves a host name once and refuses it if any answer is refused.
- ``CheckedNetworkBackend`` is an httpcore backend that connects only to the addresses
  ``resolve_checked`` returned, so a second DNS answer can never swap in another address
  between the check and the connection (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence

import httpcore

from service.errors import FetchFailed, FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network

# Checked in order; the first match names the reason. Sources: the IANA IPv4 and IPv6
# Special-Purpose Address Registries (RFC 6890 and successors). Python's ``is_global``
# is only the fallback: it counts multicast such as 224.0.1.1 as global, and its tables
# changed between patch releases.
_V4_RULES: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("0.0.0.0/32"), "unspecified"),
    (_v4("0.0.0.0/8"), "this-network"),
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("10.0.0.0/8"), "private"),
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.168.0.0/16"), "private"),
    (_v4("100.64.0.0/10"), "cgnat/shared"),
    (_v4("169.254.0.0/16"), "link-local"),
    # IETF protocol assignments; a few entries are anycast services, none is a web site.
    (_v4("192.0.0.0/24"), "reserved"),
    (_v4("192.0.2.0/24"), "documentation"),
    (_v4("198.51.100.0/24"), "documentation"),
    (_v4("203.0.113.0/24"), "documentation"),
    (_v4("198.18.0.0/15"), "benchmarking"),
    (_v4("192.88.99.0/24"), "reserved"),  # deprecated 6to4 relay anycast
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("255.255.255.255/32"), "broadcast"),
    (_v4("240.0.0.0/4"), "reserved"),
)

_V6_RULES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::/128"), "unspecified"),
    (_v6("::1/128"), "loopback"),
    (_v6("ff00::/8"), "multicast"),
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "site-local"),  # deprecated, still routed inside some networks
    (_v6("fc00::/7"), "private"),
    (_v6("100::/64"), "discard"),
    (_v6("2001:db8::/32"), "documentation"),
    (_v6("3fff::/20"), "documentation"),
    (_v6("2001:2::/48"), "benchmarking"),
    # Local-use NAT64 (RFC 8215) reaches whatever the local translator reaches.
    (_v6("64:ff9b:1::/48"), "nat64 local-use"),
    # SIIT "IPv4-translated" addresses (RFC 2765): an IPv4 address in disguise.
    (_v6("::ffff:0:0:0/96"), "ipv4-translated"),
)

_MAPPED = _v6("::ffff:0:0/96")
_COMPATIBLE = _v6("::/96")
_NAT64 = _v6("64:ff9b::/96")
_GLOBAL_UNICAST = _v6("2000::/3")


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_RULES:
        if ip in network:
            return reason
    return None if ip.is_global else "reserved"


def _v6_reason(ip: ipaddress.IPv6Address) -> str | None:
    # The embedded-IPv4 forms come first: each is judged by the IPv4 address it carries,
    # because that is where a packet to it ends up.
    if ip in _MAPPED:
        inner = _v4_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return None if inner is None else f"ipv4-mapped {inner}"
    for network, reason in _V6_RULES:
        if ip in network:
            return reason
    if ip in _COMPATIBLE:
        # Deprecated (RFC 4291) and routed nowhere on purpose; refused whatever it embeds.
        return "ipv4-compatible"
    if ip in _NAT64:
        inner = _v4_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return None if inner is None else f"nat64 {inner}"
    if ip.teredo is not None:
        # Teredo tunnels to an address we cannot see (the client's is obfuscated): refuse.
        return "teredo"
    if ip.sixtofour is not None:
        inner = _v4_reason(ip.sixtofour)
        return None if inner is None else f"6to4 {inner}"
    if ip not in _GLOBAL_UNICAST:
        return "reserved"  # everything outside 2000::/3 is unassigned
    return None if ip.is_global else "reserved"


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why connecting to ``ip`` is refused by default, or ``None`` when it is publicly
    routable unicast.

    Reasons are short, stable words: ``loopback``, ``private``, ``link-local``,
    ``cgnat/shared``, ``multicast``, ``broadcast``, ``unspecified``, ``this-network``,
    ``reserved``, ``documentation``, ``benchmarking``, ``site-local``, ``discard``,
    ``teredo``, ``ipv4-compatible``, ``ipv4-translated``, ``nat64 local-use``, and
    ``ipv4-mapped …`` / ``6to4 …`` / ``nat64 …`` followed by the embedded address's reason.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    return _v6_reason(ip)


class AddressPolicy:
    """Global addresses, plus the networks the operator allowed explicitly."""

    def __init__(self, allowed_networks: Iterable[IPNetwork] = ()) -> None:
        self.allowed_networks: tuple[IPNetwork, ...] = tuple(allowed_networks)

    def _allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            # ::ffff:127.0.0.1 is 127.0.0.1 on the wire: an allowed 127.0.0.1/32 covers it.
            candidates.append(ip.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.allowed_networks
        )

    def check(self, ip: IPAddress, host: str | None = None) -> None:
        """Return if ``ip`` may be connected to; raise ``FetchRefused`` otherwise.

        ``host`` names the address in the error instead of the address itself, so that a
        refusal never tells the caller what an internal name resolves to.
        """
        reason = forbidden_reason(ip)
        if reason is None or self._allowed(ip):
            return
        shown = host if host is not None else str(ip)
        raise FetchRefused(
            f"{shown} is not a public address ({reason}); SIGNALS_FETCH_ALLOWED_NETWORKS can allow it",
            reason="address_not_allowed",
        )


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve_checked(host: str, port: int, policy: AddressPolicy) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, all of them allowed by ``policy``.

    A literal IP address is checked as it is. A name is resolved with the event loop's
    ``getaddrinfo``; if any answer is refused the whole host is refused (a hostile DNS
    server can mix a public answer with a private one). Raises ``FetchRefused`` for
    refused or malformed hosts and ``FetchFailed(reason="dns")`` when resolution fails.
    """
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name.endswith("."):
        # "localhost." and "localhost" are the same name; some resolvers reject the dot.
        name = name[:-1]
    if not name or name.endswith("."):
        raise FetchRefused("the URL has no valid host", reason="invalid_url")
    literal = _literal_ip(name)
    if literal is not None:
        policy.check(literal)
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise FetchFailed(f"could not resolve {name}", reason="dns") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = _literal_ip(str(sockaddr[0]))
        if ip is not None and ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchFailed(f"could not resolve {name}", reason="dns")
    for ip in addresses:
        policy.check(ip, host=name)
    return addresses


class CheckedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that connects only to addresses the policy allows.

    ``connect_tcp`` resolves the host through ``resolve_checked`` and connects to the
    checked IP address itself; the name is never looked up a second time. TLS still uses
    the URL's host name for SNI and certificate checks (httpcore passes it to
    ``start_tls``), and the Host header is untouched. Unix sockets are always refused.
    """

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_checked(host, port, self._policy)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        return await self._connect_first(addresses, port, timeout, local_address, socket_options)

    async def _connect_first(
        self,
        addresses: Sequence[IPAddress],
        port: int,
        timeout: float | None,  # noqa: ASYNC109 - passed on to httpcore
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        options = list(socket_options) if socket_options is not None else None
        failure: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the host's next address, like a browser would
        assert failure is not None  # resolve_checked never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise FetchRefused("unix sockets are never connected to", reason="address_not_allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
