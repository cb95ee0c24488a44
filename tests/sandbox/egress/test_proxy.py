"""The egress proxy over its real Unix socket, against real loopback servers: what it forwards, what it refuses
(hostile request heads included), and that each connection is recorded."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentruns.sandbox.egress import proxy as proxy_module
from agentruns.sandbox.egress.access import NetworkAccess, network_access
from agentruns.sandbox.egress.log import Connection
from agentruns.sandbox.egress.proxy import HEAD_READ_BYTES, MAX_CONNECTIONS, MAX_HEAD_BYTES, EgressProxy
from tests.support.loopback import echo_server, http_server

pytestmark = pytest.mark.anyio


class Proxy:
    """A started proxy and its run's network access."""

    def __init__(self, proxy: EgressProxy, access: NetworkAccess) -> None:
        self.proxy, self.access = proxy, access

    async def exchange(self, data: bytes) -> bytes:
        """Send `data` on a new connection and read the answer to its end."""
        reader, writer = await asyncio.open_unix_connection(self.proxy.socket)
        writer.write(data)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    async def recorded(self) -> tuple[Connection, ...]:
        return (await self.access.log.take()).connections


@pytest.fixture
async def started(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Proxy]:
    """A proxy whose run may reach `allowed.test` (mapped to a loopback server), and loopback addresses by IP (which
    the address rules still refuse)."""
    test_hosts: str = getattr(request, "param", "")
    access = network_access(
        "proxy", agent_allow=["allowed.test", "allowed.test:7", "127.0.0.1", "127.0.0.1:5432", "10.0.0.1"],
        default_allow="", test_hosts=test_hosts,
    )  # fmt: skip
    assert access is not None
    proxy = EgressProxy(access, tmp_path, owner=None)
    await proxy.start()
    try:
        yield Proxy(proxy, access)
    finally:
        await proxy.stop()


async def _with_test_host(tmp_path: Path, port: int) -> Proxy:
    access = network_access("proxy", agent_allow=["allowed.test", "allowed.test:7"], default_allow="",
                            test_hosts=f"allowed.test=127.0.0.1:{port}")  # fmt: skip
    assert access is not None
    proxy = EgressProxy(access, tmp_path, owner=None)
    await proxy.start()
    return Proxy(proxy, access)


async def test_a_plain_request_is_forwarded_in_origin_form_and_recorded(tmp_path: Path) -> None:
    with http_server(b"hello\n") as served:
        proxy = await _with_test_host(tmp_path, served.port)
        try:
            answer = await proxy.exchange(
                b"GET http://allowed.test/simple/?q=1 HTTP/1.1\r\nHost: allowed.test\r\n"
                b"Proxy-Authorization: Basic c2VjcmV0\r\nConnection: keep-alive\r\n\r\n"
            )
            (connection,) = await proxy.recorded()
        finally:
            await proxy.proxy.stop()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nhello\n")
    assert b"connection: close" in answer.lower()
    assert served.paths == ["/simple/?q=1"]
    assert (connection.host, connection.port, connection.method) == ("allowed.test", 80, "GET") and connection.allowed
    assert connection.address == "127.0.0.1" and connection.sent > 0 and connection.received > len(b"hello\n")


async def test_connect_opens_a_tunnel_of_bytes_and_counts_them(tmp_path: Path) -> None:
    with echo_server() as served:
        proxy = await _with_test_host(tmp_path, served.port)
        try:
            reader, writer = await asyncio.open_unix_connection(proxy.proxy.socket)
            writer.write(b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\nearly bytes|")
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"later bytes")
            writer.write_eof()
            echoed = await reader.read()
            writer.close()
            (connection,) = await proxy.recorded()
        finally:
            await proxy.proxy.stop()
    assert head.startswith(b"HTTP/1.1 200 ")
    assert echoed == b"early bytes|later bytes"
    assert (connection.method, connection.allowed, connection.sent, connection.received) == ("CONNECT", True, 23, 23)


@pytest.mark.parametrize(
    ("request_line", "reason"),
    [
        (b"CONNECT 127.0.0.1:443", "a loopback address"),
        (b"CONNECT 127.0.0.1:5432", "a loopback address"),  # PostgreSQL on the host
        (b"GET http://127.0.0.1/", "a loopback address"),
        (b"CONNECT 10.0.0.1:443", "a private or reserved address"),
        (b"CONNECT other.test:443", "not on the allowlist"),
        (b"CONNECT allowed.test:22", "not on the allowlist"),
    ],
)
async def test_refused_targets_get_403_with_the_reason_and_are_recorded(
    started: Proxy, request_line: bytes, reason: str
) -> None:
    answer = await started.exchange(request_line + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    (connection,) = await started.recorded()
    assert answer.startswith(b"HTTP/1.1 403 ") and reason.encode() in answer
    assert not connection.allowed and reason in (connection.reason or "")


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        (b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),  # not a proxy request
        (b"GET https://allowed.test/ HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),  # https is CONNECT's
        (b"NOT A REQUEST\r\n\r\n", b"400"),
        (b"GET http://allowed.test/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"400"),
        (b"GET http://allowed.test/ HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD_BYTES + HEAD_READ_BYTES) + b"\r\n\r\n", b"431"),
        (b"CONNECT allowed.test HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
    ],
)
async def test_malformed_or_oversized_heads_are_refused(started: Proxy, sent: bytes, status: bytes) -> None:
    answer = await started.exchange(sent)
    (connection,) = await started.recorded()
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert not connection.allowed


async def test_connections_beyond_the_bound_at_once_are_refused(started: Proxy) -> None:
    idle = [await asyncio.open_unix_connection(started.proxy.socket) for _ in range(MAX_CONNECTIONS)]
    try:
        await asyncio.sleep(0.1)  # the proxy has accepted them
        answer = await started.exchange(b"CONNECT allowed.test:443 HTTP/1.1\r\n\r\n")
    finally:
        for _, writer in idle:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 503 ") and f"more than {MAX_CONNECTIONS}".encode() in answer


async def test_an_idle_connection_is_closed(started: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy_module, "IDLE_SECONDS", 0.2)
    reader, writer = await asyncio.open_unix_connection(started.proxy.socket)
    writer.write(b"GET http://allowed.test/ HTTP/1.1\r\n")  # and never the rest
    assert await asyncio.wait_for(reader.read(), timeout=30) == b""
    writer.close()
    (connection,) = await started.recorded()
    assert not connection.allowed


async def test_stopping_ends_open_connections(started: Proxy) -> None:
    reader, writer = await asyncio.open_unix_connection(started.proxy.socket)
    await asyncio.sleep(0.05)
    await started.proxy.stop()
    assert await asyncio.wait_for(reader.read(), timeout=30) == b""
    writer.close()
    assert not started.proxy.socket.parent.exists()
