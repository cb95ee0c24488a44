"""A hostile run against the network, on a real `agentruns serve` as root in `proxy` mode: the host's loopback
services (PostgreSQL, the API), private and metadata addresses are refused, through the proxy and directly; an
allowlisted test server is reached and an unlisted one is not; each connection is recorded. With the network off
(the default), nothing is reachable at all.

Every packet stays on loopback: private and metadata addresses are refused by the proxy before it connects."""

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme

from agentruns.sandbox.egress.log import MAX_RECORDED
from tests.security.conftest import Target, bash, call, serving, start_run, tool_outputs, wait_for_end
from tests.support.loopback import Served, http_server, https_server
from tests.support.sse import events_of
from tests.support.workspaces import reachable_directory

PROXIED = "curl -sS --max-time 20 --noproxy '' -x http://127.0.0.1:3128"
TUNNELLED = f"{PROXIED} -p"
"""curl through the proxy with CONNECT even for http://."""


class Network:
    """The service in proxy mode, and the loopback test servers its test-host map names."""

    def __init__(self, target: Target, allowed: Served, tls: Served, blocked: Served) -> None:
        self.target, self.allowed, self.tls, self.blocked = target, allowed, tls, blocked
        self.api_port = urlsplit(target.serve.url).port

    def allow(self) -> list[str]:
        """An allowlist that names the test hosts, and also loopback, the API's port, PostgreSQL's and private and
        metadata addresses: what refuses those is the proxy's address rules, not the allowlist."""
        return ["allowed.test", "tls.test", "127.0.0.1", f"127.0.0.1:{self.api_port}", "127.0.0.1:5432",
                f"localhost:{self.api_port}", f"[::1]:{self.api_port}", "10.0.0.1", "169.254.169.254",
                "[fd00::1]", "[::ffff:169.254.169.254]"]  # fmt: skip

    def run(self, *lines: str) -> dict[str, Any]:
        """Run an agent with this allowlist on these directives; its details once it ended."""
        sandbox = {"cpu": 1, "memoryMiB": 512, "network": {"allow": self.allow()}}
        run_id = start_run(self.target, *lines, "reply done", sandbox=sandbox)
        return wait_for_end(self.target, run_id)

    def network_events(self, run_id: str) -> list[dict[str, Any]]:
        return [frame.data for frame in events_of(self.target.client, run_id) if frame.event == "run.network"]


@pytest.fixture(scope="module")
def network(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    ca = trustme.CA()
    with (
        http_server(b"allowed hello\n") as allowed,
        https_server(ca, "tls.test", b"tls hello\n") as tls,
        http_server(b"must never be reached\n") as blocked,
        reachable_directory("agentruns-security-") as base,
    ):
        hosts = (
            f"allowed.test=127.0.0.1:{allowed.port},tls.test=127.0.0.1:{tls.port},blocked.test=127.0.0.1:{blocked.port}"
        )
        settings = {"AGENTRUNS_SANDBOX_NETWORK": "proxy", "AGENTRUNS_SANDBOX_NETWORK_TEST_HOSTS": hosts}
        for target in serving(backend, tmp_path_factory, base / "workspaces", settings):
            yield Network(target, allowed, tls, blocked)


def _refusals(details: dict[str, Any]) -> str:
    return details["result"]["logs"]["runtime"]


def test_the_hosts_loopback_services_are_refused_through_the_proxy_and_directly(network: Network) -> None:
    api = network.api_port
    direct = "; ".join(f"(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>&1 && echo reached {port}" for port in (5432, api))
    proxied = (
        f"{PROXIED} http://127.0.0.1:5432/; {PROXIED} http://127.0.0.1:{api}/agent/v1/agents; "
        f"{PROXIED} http://localhost:{api}/; {PROXIED} 'http://[::1]:{api}/'; "
        f"{TUNNELLED} http://127.0.0.1:{api}/ 2>&1"
    )
    details = network.run(bash(direct), bash(proxied))
    direct_output, proxied_output = tool_outputs(details, "bash")

    assert "reached" not in direct_output["stdout"], direct_output
    for port in (5432, api):  # the jail's own loopback, not the host's
        assert f"/dev/tcp/127.0.0.1/{port}: Connection refused" in direct_output["stdout"]
    assert "reached" not in proxied_output["stdout"] and "agentruns-" not in proxied_output["stdout"], proxied_output
    assert proxied_output["stdout"].count("agentruns egress proxy: a loopback address") == 3, proxied_output
    assert "agentruns egress proxy: a local name" in proxied_output["stdout"]
    assert "CONNECT tunnel failed, response 403" in proxied_output["stdout"]
    events = network.network_events(details["id"])
    assert [(event["host"], event["port"], event["verdict"]) for event in events] == [
        ("127.0.0.1", 5432, "refused"), ("127.0.0.1", api, "refused"), ("localhost", api, "refused"),
        ("::1", api, "refused"), ("127.0.0.1", api, "refused"),
    ]  # fmt: skip
    runtime = _refusals(details)
    assert "network proxy: GET 127.0.0.1:5432 refused: a loopback address" in runtime
    assert f"network proxy: CONNECT 127.0.0.1:{api} refused: a loopback address" in runtime


def test_private_and_metadata_addresses_are_refused_before_any_connection(network: Network) -> None:
    command = (
        f"{PROXIED} http://10.0.0.1/; {PROXIED} http://169.254.169.254/latest/meta-data/; "
        f"{PROXIED} 'http://[fd00::1]/'; {PROXIED} 'http://[::ffff:169.254.169.254]/'; "
        f"{TUNNELLED} http://10.0.0.1/ 2>&1"
    )
    details = network.run(bash(command))
    output = tool_outputs(details, "bash")[0]

    assert output["stdout"].count("agentruns egress proxy: a private or reserved address") == 2, output
    assert output["stdout"].count("agentruns egress proxy: a link-local address") == 2
    assert "CONNECT tunnel failed, response 403" in output["stdout"]
    events = network.network_events(details["id"])
    assert [(event["host"], event["verdict"], event["address"]) for event in events] == [
        ("10.0.0.1", "refused", None), ("169.254.169.254", "refused", None), ("fd00::1", "refused", None),
        ("::ffff:169.254.169.254", "refused", None), ("10.0.0.1", "refused", None),
    ]  # fmt: skip
    assert all(event["bytesUp"] == 0 and event["bytesDown"] == 0 for event in events)


def test_an_allowlisted_server_is_reached_and_an_unlisted_one_is_refused(network: Network) -> None:
    before = len(network.allowed.paths), len(network.tls.paths)
    command = "curl -sS http://allowed.test/hello; curl -sS -k https://tls.test/tls; curl -sS http://blocked.test/ 2>&1"
    details = network.run(bash(command))
    output = tool_outputs(details, "bash")[0]

    assert output["stdout"].startswith("allowed hello\ntls hello\n"), output
    assert "agentruns egress proxy: not on the allowlist (sandbox.network.allow)" in output["stdout"]
    assert network.blocked.paths == []
    assert (len(network.allowed.paths), len(network.tls.paths)) == (before[0] + 1, before[1] + 1)
    allowed, tls, blocked = network.network_events(details["id"])
    assert (allowed["host"], allowed["verdict"], allowed["address"]) == ("allowed.test", "allowed", "127.0.0.1")
    assert allowed["bytesUp"] > 0 and allowed["bytesDown"] > len("allowed hello\n")
    assert (tls["host"], tls["port"], tls["method"], tls["verdict"]) == ("tls.test", 443, "CONNECT", "allowed")
    assert tls["bytesUp"] > 0 and tls["bytesDown"] > 0
    assert (blocked["host"], blocked["verdict"], blocked["reason"]) == (
        "blocked.test", "refused", "not on the allowlist (sandbox.network.allow)",
    )  # fmt: skip
    runtime = _refusals(details)
    assert "network proxy: GET allowed.test:80 allowed via 127.0.0.1: " in runtime
    assert "network proxy: CONNECT tls.test:443 allowed via 127.0.0.1: " in runtime
    assert "network proxy: GET blocked.test:80 refused: not on the allowlist" in runtime


def test_webfetch_follows_the_same_policy(network: Network) -> None:
    details = network.run(
        call("webfetch", url="https://blocked.test/"),
        call("webfetch", url="https://169.254.169.254/latest/"),
        call("webfetch", url="https://127.0.0.1:5432/"),
    )
    outputs = [str(output) for output in tool_outputs(details, "webfetch")]

    assert "blocked.test: not on the allowlist" in outputs[0]
    assert "169.254.169.254: a link-local address" in outputs[1]
    assert "127.0.0.1: a loopback address" in outputs[2]
    events = network.network_events(details["id"])
    assert [(event["host"], event["via"], event["verdict"]) for event in events] == [
        ("blocked.test", "webfetch", "refused"), ("169.254.169.254", "webfetch", "refused"),
        ("127.0.0.1", "webfetch", "refused"),
    ]  # fmt: skip
    assert network.blocked.paths == []


def test_a_flood_of_connections_records_a_bounded_number(network: Network) -> None:
    count = MAX_RECORDED + 30
    flood = (
        f"for i in $(seq {count}); do exec 3<>/dev/tcp/127.0.0.1/3128 || continue; "
        "printf 'CONNECT blocked.test:443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; read -r -t 20 line <&3; "
        'exec 3<&-; [ "${line#HTTP/1.1 403}" != "$line" ] && echo refused; done | sort | uniq -c'
    )
    details = network.run(bash(flood, timeout_seconds=110))
    output = tool_outputs(details, "bash")[0]

    assert output["stdout"].split() == [str(count), "refused"], output
    assert len(network.network_events(details["id"])) == MAX_RECORDED
    assert "network: 30 more connection(s) not recorded" in _refusals(details)


def test_with_the_network_off_nothing_is_reachable_and_webfetch_is_refused(target: Target) -> None:
    """The default service (`target`): `AGENTRUNS_SANDBOX_NETWORK` off."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        command = (
            f"env | grep -ci proxy; (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>&1; (exec 3<>/dev/tcp/127.0.0.1/3128) 2>&1; "
            "curl -sS http://allowed.test/ 2>&1"
        )
        run_id = start_run(target, bash(command), call("webfetch", url="https://example.com/"), "reply done")
        details = wait_for_end(target, run_id)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    output = tool_outputs(details, "bash")[0]
    assert output["stdout"].startswith("0\n"), output  # no proxy variables
    assert f"/dev/tcp/127.0.0.1/{port}: Connection refused" in output["stdout"]
    assert "/dev/tcp/127.0.0.1/3128: Connection refused" in output["stdout"]  # no bridge, no proxy
    assert "Could not resolve host: allowed.test" in output["stdout"]
    assert "webfetch is off" in str(tool_outputs(details, "webfetch")[0])
    assert "network off" in details["result"]["logs"]["runtime"]
    assert not [frame for frame in events_of(target.client, run_id) if frame.event == "run.network"]
