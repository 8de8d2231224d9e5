"""The SSRF guard for outgoing webhook deliveries.

Admins register the URLs that events are POSTed to, so a URL is an instruction to make this
service open a connection on the admin's behalf. Left unchecked, that reaches whatever the
service can reach and the admin cannot: the cloud metadata endpoint (169.254.169.254), the
database and Redis on the private network, admin ports on loopback. Hence a URL is refused
unless every address its host resolves to is public, both when it is registered
(`check_url`) and again when each delivery connects (`build_client`).

The delivery-time check pins the connection: `CheckedNetworkBackend` resolves the name once,
checks those addresses and connects to exactly them, so a name that resolved to a public
address when checked cannot resolve to 127.0.0.1 a moment later (DNS rebinding). TLS still
verifies the certificate against the URL's hostname: httpcore passes the origin's host (not
the address we connected to) to `start_tls` as `server_hostname` (httpcore/_async/connection.py).

"Public" means a globally reachable unicast address (`is_public_address`): not loopback,
private (RFC 1918, ULA), shared/CGNAT, link-local, multicast, broadcast, unspecified,
documentation, benchmarking or reserved. The IANA special-purpose blocks are listed here
rather than trusting `ipaddress.is_global` alone, whose answers changed between patch releases
and which calls IPv4 multicast global. IPv6 addresses that carry an IPv4 address (IPv4-mapped
::ffff:0:0/96, 6to4 2002::/16, Teredo 2001::/32, NAT64 64:ff9b::/96) are judged by the IPv4
addresses inside, since that is where the packets end up.

Names are resolved in a thread pool of their own (`src.core.thread_pools.LOOKUPS`, sized by
WEBHOOK_DNS_THREADS): a receiver whose DNS server never answers ties up those threads only,
never the ones that hash passwords.

`allow_private` (WEBHOOK_ALLOW_PRIVATE_TARGETS, for development and tests) skips only the
address check; names are still resolved and connections still pinned, so tests exercise the
production path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from src.core.thread_pools import LOOKUPS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Blocks that are not globally reachable, from the IANA IPv4 special-purpose registry (the
# broadcast address sits in 240.0.0.0/4). 192.0.0.0/24 holds two anycast services too;
# no webhook receiver lives there.
_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network", including the unspecified address
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, where cloud metadata services answer
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255
    )
)
# IPv6 global unicast is 2000::/3; everything else (loopback, ULA fc00::/7, link-local,
# site-local, multicast, discard, ::/8) is outside it. Within it, these are not global.
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "2001::/23",  # IETF protocol assignments (benchmarking, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


# How long a registration's check waits for the host to resolve.
RESOLVE_SECONDS = 5.0


class UnsafeTarget(ValueError):
    """A webhook URL the service will not call.

    str(exc) is one line fit for the API user: it never names the URL's host (problems never
    echo input) nor the addresses a name resolved to (which would let admins map the internal
    network).
    """


def not_public() -> UnsafeTarget:
    """The one refusal of a host that resolves to a non-public address, to none at all, or
    not in time: told apart, they would let an admin probe which internal names exist."""
    return UnsafeTarget(
        "the webhook host does not resolve to public addresses only; private "
        "targets need WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)"
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (the ones traffic to it ends up at)."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo  # (server, client)
    if address in _NAT64_WELL_KNOWN:
        return (ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF),)
    return ()


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is globally reachable unicast, i.e. fit to be a webhook target."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded:
            return all(is_public_address(inner) for inner in embedded)
        return (
            address in _GLOBAL_UNICAST_V6
            and address.is_global
            and not any(address in block for block in _NOT_PUBLIC_V6)
        )
    return address.is_global and not any(address in block for block in _NOT_PUBLIC_V4)


def _parse(url: str) -> httpx.URL:
    # httpx's parser, so the host checked is the host the client will connect to
    # (lower-cased, IDNA-encoded, userinfo split off) and no parser differential opens a gap.
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise UnsafeTarget("the webhook URL is not a valid URL") from None


def validate_url(url: str, *, require_https: bool) -> None:
    """Refuse a URL the client cannot or must not call, from its syntax alone (no DNS)."""
    parsed = _parse(url)
    if require_https and parsed.scheme != "https":
        raise UnsafeTarget("the webhook URL must use https")
    if parsed.scheme not in ("http", "https"):
        raise UnsafeTarget("the webhook URL must use http or https")
    if not parsed.raw_host:
        raise UnsafeTarget("the webhook URL has no host")
    if parsed.port is not None and not 0 < parsed.port <= 0xFFFF:
        raise UnsafeTarget("the webhook URL's port is out of range")
    if parsed.fragment:
        # Never sent to the server; in a registered URL it is a pasting mistake.
        raise UnsafeTarget("the webhook URL must not have a #fragment")


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to for `host`, refused unless every one of them is public.

    ANY non-public address refuses the lot: the connection may go to any of them, and an
    attacker's DNS decides which. An IP literal (bracketed or not) is used as is, without DNS.
    """
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not name:
        raise UnsafeTarget("the webhook URL has no host")
    try:
        addresses = [str(ipaddress.ip_address(name))]
    except ValueError:
        try:
            addresses = await _resolve(name, port)
        except UnsafeTarget:
            if allow_private:
                raise
            raise not_public() from None
    if not allow_private:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address)):
                raise not_public()
    return addresses


def configure_lookups(*, threads: int) -> None:
    """Resolve webhook hosts in at most `threads` threads (the app sets it at start-up)."""
    LOOKUPS.resize(threads)


def _getaddrinfo(name: str, port: int) -> list[tuple[int, str]]:
    """The blocking lookup, run in the lookup pool: (family, address) of each answer."""
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return [(info[0], str(info[4][0])) for info in infos]


async def _resolve(name: str, port: int) -> list[str]:
    try:
        infos = await LOOKUPS.run(_getaddrinfo, name, port)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise UnsafeTarget("the webhook host does not resolve") from None
    found = (address for family, address in infos if family in (socket.AF_INET, socket.AF_INET6))
    addresses = list(dict.fromkeys(found))  # deduplicated, resolver's order kept
    if not addresses:
        raise UnsafeTarget("the webhook host does not resolve")
    return addresses


async def check_url(
    url: str, *, allow_private: bool, require_https: bool, resolve_seconds: float = RESOLVE_SECONDS
) -> None:
    """Refuse `url` at registration: bad syntax, or a host that is not (only) public or
    does not resolve within `resolve_seconds`."""
    validate_url(url, require_https=require_https)
    parsed = _parse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = parsed.raw_host.decode("ascii")
    try:
        async with asyncio.timeout(resolve_seconds):
            await resolve_checked(host, port, allow_private=allow_private)
    except TimeoutError:
        if allow_private:
            raise UnsafeTarget("the webhook host did not resolve in time") from None
        raise not_public() from None


class CheckedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving through `resolve_checked` and pinning to it.

    `connect_tcp` resolves the host once, refuses it unless allowed, then connects to the
    checked IP addresses in order (the first that connects wins; when all fail, the last
    httpcore.ConnectError is raised). The inner backend gets an IP, so it never resolves
    again: what was checked is what is connected to. httpcore then runs TLS on the returned
    stream with server_hostname set to the URL's host, so certificates are checked by name.

    How a refusal surfaces: `client.post(...)` raises this module's `UnsafeTarget` itself.
    httpx maps only httpcore's exceptions to httpx.HTTPError (map_httpcore_exceptions in
    httpx/_transports/default.py re-raises anything else untouched), so `UnsafeTarget` is NOT
    an httpx.HTTPError: catch it with `except UnsafeTarget` next to `except httpx.HTTPError`.
    (httpcore's pool re-raises it `from None`, so do not look for it in `__cause__`.)

    Resolution uses the running asyncio loop, so this backend needs asyncio (not trio).
    """

    def __init__(
        self, *, allow_private: bool, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._allow_private = allow_private
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout(timeout):  # the connect timeout covers DNS too
                addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        except TimeoutError:
            raise httpcore.ConnectTimeout("resolving the webhook host timed out") from None
        last_error: httpcore.ConnectError | None = None
        for address in addresses:
            remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        if last_error is None:  # unreachable: resolve_checked never returns []
            raise httpcore.ConnectError("no address to connect to for the webhook host")
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeTarget("webhooks are delivered over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a connection pool whose every connection goes through the guard."""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, http1=True, limits=limits)
        # httpx 0.28's AsyncHTTPTransport takes no network_backend, and the pool is where
        # httpcore reads it from. So replace the pool just built (it holds no connection yet)
        # with the same one, same SSL context and limits, plus the checking backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=CheckedNetworkBackend(allow_private=allow_private),
        )


def build_client(
    *, allow_private: bool, timeout: float, max_connections: int = 20
) -> httpx.AsyncClient:
    """The pooled client for deliveries: every connection checked and pinned.

    No redirects (a 3xx could point anywhere, and following it is not the receiver's call)
    and no proxies or certificate paths from the environment (trust_env=False).
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        transport=_CheckedTransport(allow_private=allow_private, limits=limits),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
    )
