"""The SSRF guard: no webhook goes to a loopback, private, link-local, multicast or reserved address, however
its URL is written; every address a name resolves to is checked, and the connection goes to a checked one."""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
import trustme

from agentruns.events.targets import RefusedTarget, Resolver, Target, check, refusal
from agentruns.events.webhook_post import post, webhook_client
from tests.support.factories import error_of, make_agent, make_run
from tests.support.receiver import https_receiver

REFUSED = [
    "http://example.com/hook",  # not https
    "https://localhost/hook",
    "https://localhost./hook",
    "https://printer.local/hook",
    "https://127.0.0.1/hook",
    "https://127.1/hook",  # short form
    "https://127.0.0.1:8443/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]/hook",
    "https://10.0.0.1/hook",
    "https://10.255.255.255/hook",
    "https://172.16.0.1/hook",
    "https://172.31.255.254/hook",
    "https://192.168.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://224.0.0.1/hook",  # multicast
    "https://255.255.255.255/hook",
    "https://2130706433/hook",  # 127.0.0.1 in decimal
    "https://017700000001/hook",  # in octal
    "https://0x7f000001/hook",  # in hex
    "https://0x7f.0.0.1/hook",
    "https://0177.0.0.1/hook",
    "https://user:password@example.com/hook",  # userinfo
    "https://example.com@127.0.0.1/hook",  # userinfo that hides the real host
    "https://[fd00::1]/hook",  # IPv6 unique local
    "https://[fc00::1]/hook",
    "https://[fe80::1]/hook",  # IPv6 link-local
    "https://[fe80::1%25eth0]/hook",  # with a zone
    "https://[ff02::1]/hook",  # IPv6 multicast
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "ftp://example.com/hook",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED)
def test_watching_a_non_public_target_is_invalid_input(client: httpx.Client, url: str) -> None:
    run = make_run(client, make_agent(client)["id"])
    message = error_of(client.post(f"/agent/v1/run/{run['id']}/watch", json={"callbackUrl": url}), 400, "INVALID_INPUT")
    assert "callbackUrl" in message


def test_creating_a_run_with_a_non_public_callback_is_invalid_input(client: httpx.Client) -> None:
    agent = make_agent(client)
    for url in ("https://127.0.0.1/hook", "https://[::1]/hook", "https://169.254.169.254/"):
        body = {"agentId": agent["id"], "prompt": "x", "callbackUrl": url}
        error_of(client.post("/agent/v1/run", json=body), 400, "INVALID_INPUT")
    assert client.get("/agent/v1/run").json()["runs"] == []


def _resolving(*answers: Sequence[str]) -> Resolver:
    """A resolver whose answers change from call to call, as a rebinding DNS server's do."""
    remaining = list(answers)

    async def resolve(_host: str, _port: int) -> Sequence[str]:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return resolve


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    resolver = _resolving(["93.184.215.14", "10.0.0.7"])
    with pytest.raises(RefusedTarget, match=r"10\.0\.0\.7, a private"):
        asyncio.run(check("https://hooks.example.com/x", allow_private=False, resolver=resolver))


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery() -> None:
    resolver = _resolving(["93.184.215.14"], ["127.0.0.1"])

    async def scenario() -> None:
        first = await check("https://hooks.example.com/x", allow_private=False, resolver=resolver)
        assert first.addresses == ("93.184.215.14",)
        with pytest.raises(RefusedTarget, match="loopback"):
            await check("https://hooks.example.com/x", allow_private=False, resolver=resolver)

    asyncio.run(scenario())


def test_an_unresolvable_name_may_be_registered_but_not_delivered_to() -> None:
    async def nowhere(_host: str, _port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    target = asyncio.run(check("https://nowhere.example/x", allow_private=False, resolver=nowhere, must_resolve=False))
    assert target.addresses == ()
    with pytest.raises(RefusedTarget, match="cannot be resolved"):
        asyncio.run(check("https://nowhere.example/x", allow_private=False, resolver=nowhere))


def test_public_addresses_pass() -> None:
    assert refusal("93.184.215.14") is None
    assert refusal("2606:4700:4700::1111") is None
    target = asyncio.run(check("https://8.8.8.8:8443/x?y=1", allow_private=False))
    assert target.addresses == ("8.8.8.8",)


def test_the_request_goes_to_the_checked_address_with_the_names_host_and_certificate(tmp_path: Path) -> None:
    """The name is never resolved again: the connection goes to the pinned address, TLS checks the name."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with https_receiver(ca, tmp_path, "hooks.example.test") as (receiver, port):
        receiver.on("/pinned", 204)
        url = httpx.URL(f"https://hooks.example.test:{port}/pinned")

        async def send(host: str) -> tuple[int | None, str | None]:
            target = Target(url=url.copy_with(host=host), host=host, addresses=("127.0.0.1",))
            async with webhook_client(str(bundle)) as client:
                answer = await post(client, target, b"{}", {"webhook-id": "msg_1"})
            return answer.status_code, answer.error

        assert asyncio.run(send("hooks.example.test")) == (204, None)
        [request] = receiver.requests_to("/pinned")
        assert request.headers["host"] == f"hooks.example.test:{port}"
        # A name the certificate does not cover fails the TLS check, even at the same address.
        status, error = asyncio.run(send("other.example.test"))
        assert status is None
        assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error
        assert len(receiver.requests_to("/pinned")) == 1
