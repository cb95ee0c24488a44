"""A real bubblewrap jail in proxy mode: it keeps its own network namespace, and curl and pip reach allowlisted
loopback test servers through the egress proxy (named by the test-only host map), and nothing else."""

import base64
import hashlib
import socket
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from agentruns.sandbox.bubblewrap import BubblewrapSandbox
from agentruns.sandbox.egress.access import NetworkAccess, network_access
from tests.sandbox.conftest import LIMITS
from tests.support.loopback import Served, directory_server, http_server, https_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def plain() -> Iterator[Served]:
    with http_server(b"plain hello\n") as served:
        yield served


@pytest.fixture
def tls(ca: trustme.CA) -> Iterator[Served]:
    with https_server(ca, "tls.test", b"tls hello\n") as served:
        yield served


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on the host's 127.0.0.1, allowlisted by address, that no jail may reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def _access(plain: Served, tls: Served, listener: socket.socket, *extra: str) -> NetworkAccess:
    port = listener.getsockname()[1]
    access = network_access(
        "proxy", agent_allow=["plain.test", "tls.test", f"127.0.0.1:{port}", "127.0.0.1:5432", *extra],
        default_allow="", test_hosts=f"plain.test=127.0.0.1:{plain.port},tls.test=127.0.0.1:{tls.port}",
    )  # fmt: skip
    assert access is not None
    return access


@pytest.fixture
async def jail(
    workspace: Path, plain: Served, tls: Served, listener: socket.socket
) -> AsyncIterator[tuple[BubblewrapSandbox, NetworkAccess]]:
    access = _access(plain, tls, listener)
    sandbox = BubblewrapSandbox(workspace, LIMITS, egress=access)
    await sandbox.start()
    try:
        yield sandbox, access
    finally:
        await sandbox.stop()


async def test_curl_reaches_an_allowlisted_server_over_http_and_https_connect(
    jail: tuple[BubblewrapSandbox, NetworkAccess], ca: trustme.CA, tls: Served
) -> None:
    sandbox, access = jail
    await sandbox.write_file("ca.pem", ca.cert_pem.bytes())
    result = await sandbox.run("curl -sS http://plain.test/a && curl -sS --cacert ca.pem https://tls.test/b")
    taken = await access.log.take()

    assert result.stdout == "plain hello\ntls hello\n", result
    assert tls.paths == ["/b"]
    plain_record, tls_record = taken.connections
    assert (plain_record.host, plain_record.port, plain_record.method, plain_record.allowed) == (
        "plain.test", 80, "GET", True,
    )  # fmt: skip
    assert (tls_record.host, tls_record.port, tls_record.method, tls_record.allowed) == (
        "tls.test", 443, "CONNECT", True,
    )  # fmt: skip
    assert tls_record.sent > 0 and tls_record.received > 0  # the TLS handshake and the answer, through the tunnel


async def test_the_jail_keeps_its_own_network_namespace(
    jail: tuple[BubblewrapSandbox, NetworkAccess], listener: socket.socket
) -> None:
    sandbox, access = jail
    port = listener.getsockname()[1]
    direct = "; ".join(
        f"(exec 3<>/dev/tcp/{host}/{target}) && echo connected {host}:{target}"
        for host, target in [("127.0.0.1", port), ("127.0.0.1", 5432)]
    )
    result = await sandbox.run(direct)

    assert "connected" not in result.stdout
    assert f"/dev/tcp/127.0.0.1/{port}: Connection refused" in result.stderr  # the jail's own loopback
    assert "/dev/tcp/127.0.0.1/5432: Connection refused" in result.stderr
    assert (await access.log.take()).connections == ()  # nothing went through the proxy either
    with pytest.raises(BlockingIOError):
        listener.accept()


async def test_through_the_proxy_loopback_and_unlisted_hosts_are_refused(
    jail: tuple[BubblewrapSandbox, NetworkAccess], listener: socket.socket
) -> None:
    sandbox, access = jail
    port = listener.getsockname()[1]
    proxied = "curl -sS --noproxy '' -x http://127.0.0.1:3128"
    result = await sandbox.run(
        f"{proxied} http://127.0.0.1:{port}/; {proxied} http://127.0.0.1:5432/; curl -sS http://other.test/; "
        "curl -sS https://other.test/ 2>&1; cat /etc/resolv.conf"
    )
    taken = await access.log.take()

    assert result.stdout.count("agentruns egress proxy: a loopback address") == 2, result
    assert "agentruns egress proxy: not on the allowlist" in result.stdout
    assert "403" in result.stdout  # curl's CONNECT to other.test was answered 403
    assert [(record.host, record.port, record.allowed) for record in taken.connections] == [
        ("127.0.0.1", port, False), ("127.0.0.1", 5432, False), ("other.test", 80, False), ("other.test", 443, False),
    ]  # fmt: skip
    assert "No such file" in result.stderr  # no resolv.conf: the jail has no DNS
    with pytest.raises(BlockingIOError):
        listener.accept()


def _wheel(directory: Path) -> Path:
    """A tiny pure-Python wheel, `tinypkg` 1.0, built here."""
    files = {
        "tinypkg/__init__.py": b"VALUE = 'installed through the egress proxy'\n",
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = (
        "".join(
            f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
            for name, data in files.items()
        )
        + "tinypkg-1.0.dist-info/RECORD,,\n"
    )
    path = directory / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("tinypkg-1.0.dist-info/RECORD", record)
    return path


async def test_pip_installs_from_an_allowlisted_index(
    workspace: Path, tmp_path: Path, plain: Served, tls: Served, listener: socket.socket
) -> None:
    index = tmp_path / "index"
    (index / "simple" / "tinypkg").mkdir(parents=True)
    wheel = _wheel(index / "simple" / "tinypkg")
    (index / "simple" / "tinypkg" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    with directory_server(index) as served:
        access = network_access("proxy", agent_allow=["index.test"], default_allow="",
                                test_hosts=f"index.test=127.0.0.1:{served.port}")  # fmt: skip
        assert access is not None
        sandbox = BubblewrapSandbox(workspace, LIMITS, egress=access)
        await sandbox.start()
        try:
            result = await sandbox.run(
                "python3 -m pip install --no-cache-dir --disable-pip-version-check --target lib "
                "--index-url http://index.test/simple/ --trusted-host index.test tinypkg && "
                "PYTHONPATH=lib python3 -c 'import tinypkg; print(tinypkg.VALUE)'",
                timeout_seconds=120,
            )
        finally:
            await sandbox.stop()
    taken = await access.log.take()

    assert result.stdout.strip().endswith("installed through the egress proxy"), result
    assert "/simple/tinypkg/" in served.paths and f"/simple/tinypkg/{wheel.name}" in served.paths
    assert {record.host for record in taken.connections} == {"index.test"}
    assert all(record.allowed for record in taken.connections)
