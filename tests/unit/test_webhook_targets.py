"""The SSRF guard for webhook deliveries (src/core/webhook/targets.py).

Sockets are only ever opened on loopback: public addresses appear solely as literals (or fake
DNS answers) that are checked, never connected to. Names other than `localhost` resolve through
a fake lookup in the guard's thread pool, so no test depends on real DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from unittest.mock import MagicMock

import httpcore
import httpx
import pytest
from httpcore._backends.anyio import AnyIOStream  # httpcore exports only the backend
from pytest_mock import MockerFixture

from src.core.webhook import targets as webhook_targets
from src.core.webhook.targets import (
    UnsafeTarget,
    build_client,
    check_url,
    is_public_address,
    resolve_checked,
    validate_url,
)

PUBLIC_V4 = "93.184.215.14"

REFUSED_URLS = [
    "http://127.0.0.1",
    "http://[::1]",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1",
    "http://[::ffff:127.0.0.1]",
    "http://localhost",  # resolves (via /etc/hosts) to loopback
    "http://2130706433",  # 127.0.0.1 spelled as a number, which getaddrinfo accepts
    "http://192.168.1.10",
    "http://172.16.0.5",
    "http://100.64.0.1",  # carrier-grade NAT
    "http://0.0.0.0",
    "http://224.0.0.1",
    "http://255.255.255.255",
    "http://[fc00::1]",
    "http://[fe80::1]",
    "http://[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    "http://192.0.2.1",  # documentation
    "http://[2001:db8::1]",
    "http://[ff02::1]",
]


@pytest.fixture
async def fake_dns(mocker: MockerFixture) -> tuple[dict[str, list[str]], MagicMock]:
    """A table of name -> addresses that the guard's lookup (run in its thread pool) answers
    from."""
    table: dict[str, list[str]] = {}

    def getaddrinfo(host: str, port: int) -> list[tuple[int, str]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in table[host]]

    mock = mocker.patch.object(webhook_targets, "_getaddrinfo", side_effect=getaddrinfo)
    return table, mock


@dataclass
class Receiver:
    """A loopback HTTP/1.1 server that answers every connection with one canned response."""

    port: int = 0
    response: bytes = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
    connections: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        data = b""
        # Stop at the end of the head, or at once for a TLS ClientHello (first byte 0x16).
        while b"\r\n\r\n" not in data and not data.startswith(b"\x16"):
            chunk = await reader.read(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        while length and len(body) < int(length.group(1)):
            body += await reader.read(65536)
        self.requests.append((head, body))
        writer.write(self.response)
        await writer.drain()
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    server = await asyncio.start_server(recv.handle, "127.0.0.1", 0)
    recv.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recv


async def settle() -> None:
    """Give a connection that was (wrongly) made time to reach the server's accept callback."""
    await asyncio.sleep(0.1)


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="does not resolve to public addresses only"):
        await check_url(url, allow_private=False, require_https=False)


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC_V4,
        "2606:4700::1111",
        f"::ffff:{PUBLIC_V4}",  # IPv4-mapped, 6to4, NAT64 and Teredo carrying a public IPv4
        "2002:5db8:d70e::1",
        "64:ff9b::5db8:d70e",
        "2001:0:4136:e378:8000:63bf:a247:28f1",
    ],
)
def test_public_addresses_include_wrappers_of_public_ipv4(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [f"http://{PUBLIC_V4}/hook", "https://[2606:4700::1111]:8443/"])
async def test_public_literals_pass_without_dns(
    url: str, fake_dns: tuple[object, MagicMock]
) -> None:
    await check_url(url, allow_private=False, require_https=False)
    fake_dns[1].assert_not_called()


async def test_allow_private_lets_loopback_through_unchanged() -> None:
    await check_url("http://127.0.0.1:8080/hook", allow_private=True, require_https=False)
    assert await resolve_checked("[::1]", 80, allow_private=True) == ["::1"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "http or https"),
        ("http://", "no host"),
        ("http:///hook", "no host"),
        ("example.com/hook", "http or https"),
        ("http://example.com:0/", "port"),
        ("http://example.com:70000/", "port"),
        ("http://example.com/hook#frag", "fragment"),
        ("http://exa mple.com:x/", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(UnsafeTarget, match=message):
        validate_url(url, require_https=False)


async def test_https_can_be_required(fake_dns: tuple[object, MagicMock]) -> None:
    validate_url("https://hooks.example.com/x", require_https=True)
    with pytest.raises(UnsafeTarget, match="must use https"):
        await check_url(f"http://{PUBLIC_V4}/", allow_private=False, require_https=True)
    fake_dns[1].assert_not_called()  # refused on syntax, before any lookup


@pytest.mark.parametrize(
    "answers", [["10.1.2.3"], [PUBLIC_V4, "192.168.1.5"], ["2606:4700::1111", "fd00::1"]]
)
async def test_names_resolving_to_any_private_address_are_refused(
    answers: list[str], fake_dns: tuple[dict[str, list[str]], MagicMock]
) -> None:
    fake_dns[0]["internal.example"] = answers
    with pytest.raises(UnsafeTarget) as refused:
        await check_url("https://internal.example/hook", allow_private=False, require_https=True)
    assert str(refused.value) == (
        "the webhook host does not resolve to public addresses only; "
        "private targets need WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)"
    )
    fake_dns[1].assert_called_once_with("internal.example", 443)


async def test_unresolvable_names_are_refused_when_private_targets_are_allowed(
    fake_dns: tuple[object, MagicMock],
) -> None:
    with pytest.raises(UnsafeTarget, match=r"^the webhook host does not resolve$"):
        await check_url("http://nowhere.example/", allow_private=True, require_https=False)


async def refusal(url: str, **options: float) -> str:
    with pytest.raises(UnsafeTarget) as refused:
        await check_url(url, allow_private=False, require_https=False, **options)
    return str(refused.value)


async def test_a_name_resolving_privately_or_not_at_all_gets_one_message(
    fake_dns: tuple[dict[str, list[str]], MagicMock], mocker: MockerFixture
) -> None:
    fake_dns[0]["db.corp"] = ["10.0.0.7"]
    private = await refusal("http://db.corp/")
    unknown = await refusal("http://nope.corp/")  # not in the table: NXDOMAIN
    fake_dns[1].side_effect = lambda *_: time.sleep(0.5) or []  # a resolver that stalls
    stalled = await refusal("http://slow.corp/", resolve_seconds=0.05)

    # Telling these apart would let an admin probe which internal names exist.
    assert {
        m.replace("db.corp", "H").replace("nope.corp", "H").replace("slow.corp", "H")
        for m in (private, unknown, stalled)
    } == {
        "the webhook host does not resolve to public addresses only; "
        "private targets need WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)"
    }
    assert "10.0.0.7" not in private


async def test_a_private_literal_names_the_setting_and_that_it_is_for_development(
    fake_dns: tuple[object, MagicMock],
) -> None:
    message = await refusal("http://192.168.1.10:8080/")
    assert "192.168.1.10" not in message  # problems never echo input
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)" in message
    fake_dns[1].assert_not_called()


async def test_with_private_targets_allowed_an_unknown_name_just_does_not_resolve(
    fake_dns: tuple[object, MagicMock],
) -> None:
    with pytest.raises(UnsafeTarget) as refused:
        await check_url("http://nope.corp/", allow_private=True, require_https=False)
    assert str(refused.value) == "the webhook host does not resolve"


async def test_resolved_addresses_are_deduplicated_in_order(
    fake_dns: tuple[dict[str, list[str]], MagicMock],
) -> None:
    fake_dns[0]["hooks.example"] = ["2606:4700::1111", PUBLIC_V4, "2606:4700::1111"]
    addresses = await resolve_checked("hooks.example", 443, allow_private=False)
    assert addresses == ["2606:4700::1111", PUBLIC_V4]


async def test_allowed_client_posts_to_loopback(receiver: Receiver) -> None:
    async with build_client(allow_private=True, timeout=5) as client:
        response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", json={"a": 1})
    assert response.status_code == 204
    assert receiver.requests[0][0].startswith(b"POST /hook HTTP/1.1\r\n")
    assert receiver.requests[0][1] == b'{"a":1}'


async def test_guarded_client_refuses_loopback_without_connecting(receiver: Receiver) -> None:
    async with build_client(allow_private=False, timeout=5) as client:
        with pytest.raises(UnsafeTarget) as refused:
            await client.post(f"http://127.0.0.1:{receiver.port}/hook", json={})
    # httpx passes it through as is: it is not an httpx.HTTPError.
    assert not isinstance(refused.value, httpx.HTTPError)
    await settle()
    assert receiver.connections == 0


async def test_dns_rebinding_is_refused_at_delivery(
    receiver: Receiver, fake_dns: tuple[dict[str, list[str]], MagicMock]
) -> None:
    url = f"http://rebind.example:{receiver.port}/"
    fake_dns[0]["rebind.example"] = [PUBLIC_V4]
    await check_url(url, allow_private=False, require_https=False)  # registered while public
    fake_dns[0]["rebind.example"] = ["127.0.0.1"]  # then the attacker's DNS answers loopback
    async with build_client(allow_private=False, timeout=5) as client:
        with pytest.raises(UnsafeTarget, match=r"^the webhook host does not resolve to public"):
            await client.post(url, content=b"{}")
    await settle()
    assert receiver.connections == 0


async def test_client_connects_to_the_address_it_resolved(
    receiver: Receiver, fake_dns: tuple[dict[str, list[str]], MagicMock]
) -> None:
    fake_dns[0]["hooks.example"] = ["127.0.0.2", "127.0.0.1"]  # nothing listens on .2
    async with build_client(allow_private=True, timeout=5) as client:
        response = await client.post(f"http://hooks.example:{receiver.port}/", content=b"x")
    assert response.status_code == 204
    assert receiver.connections == 1
    assert f"\r\nHost: hooks.example:{receiver.port}".encode() in receiver.requests[0][0]
    # One lookup, the guard's: the connection went to a checked IP, never re-resolved.
    fake_dns[1].assert_called_once()


async def test_all_addresses_failing_is_a_connect_error(
    receiver: Receiver, fake_dns: tuple[dict[str, list[str]], MagicMock]
) -> None:
    fake_dns[0]["down.example"] = ["127.0.0.2", "127.0.0.3"]
    async with build_client(allow_private=True, timeout=5) as client:
        with pytest.raises(httpx.ConnectError) as failed:
            await client.post(f"http://down.example:{receiver.port}/", content=b"x")
    assert isinstance(failed.value.__cause__, httpcore.ConnectError)


async def test_tls_checks_the_url_hostname_not_the_pinned_address(
    receiver: Receiver, fake_dns: tuple[dict[str, list[str]], MagicMock], mocker: MockerFixture
) -> None:
    fake_dns[0]["secure.example"] = ["127.0.0.1"]
    connect = mocker.spy(httpcore.AnyIOBackend, "connect_tcp")
    start_tls = mocker.spy(AnyIOStream, "start_tls")
    async with build_client(allow_private=True, timeout=5) as client:
        with pytest.raises(httpx.ConnectError):  # the receiver speaks no TLS
            await client.post(f"https://secure.example:{receiver.port}/", content=b"x")
    assert connect.call_args.args[1] == "127.0.0.1"  # connected to the checked address...
    assert start_tls.call_args.kwargs["server_hostname"] == "secure.example"  # ...verified by name


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.response = (
        f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{receiver.port}/elsewhere\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    async with build_client(allow_private=True, timeout=5) as client:
        response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"x")
    assert response.status_code == 302
    assert receiver.connections == 1
