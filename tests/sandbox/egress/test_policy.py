"""The policy: the allowlist first, then every address a name resolves to must be public, and the connection goes
to an address of that one answer. No packet is sent: IP addresses are checked as they are, names by the resolvers
given here."""

from collections.abc import Sequence

import pytest

from agentruns.addresses import Resolver
from agentruns.sandbox.egress.allowlist import Allowlist
from agentruns.sandbox.egress.policy import NOT_ALLOWED, EgressPolicy
from agentruns.sandbox.egress.stand_ins import parse_stand_ins

pytestmark = pytest.mark.anyio
EVERYTHING_ASKED = Allowlist.parse([
    "10.0.0.1", "169.254.169.254", "[fd00::1]", "127.0.0.1", "127.0.0.1:5432", "[::1]", "[::ffff:127.0.0.1]",
    "100.64.0.1", "localhost", "metadata.google.internal", "public.example", "rebinding.example", "allowed.test",
    "0.0.0.0", "[64:ff9b::a00:1]",  # noqa: S104 - an address to refuse, not one to bind
])  # fmt: skip


def answering(*answers: str) -> Resolver:
    """A resolver that answers every name with these addresses."""

    async def resolve(_host: str, _port: int) -> Sequence[str]:
        return answers

    return resolve


async def unreachable(_host: str, _port: int) -> Sequence[str]:
    raise OSError("no such host")


@pytest.mark.parametrize(
    ("host", "port", "reason"),
    [
        ("10.0.0.1", 80, "a private or reserved address"),
        ("169.254.169.254", 80, "a link-local address"),  # cloud metadata
        ("fd00::1", 443, "a private or reserved address"),
        ("[fd00::1]", 443, "a private or reserved address"),
        ("127.0.0.1", 443, "a loopback address"),
        ("127.0.0.1", 5432, "a loopback address"),
        ("::1", 80, "a loopback address"),
        ("::ffff:127.0.0.1", 80, "a loopback address"),  # IPv4 inside IPv6
        ("64:ff9b::a00:1", 80, "a private or reserved address"),  # NAT64 of 10.0.0.1
        ("100.64.0.1", 80, "a private or reserved address"),  # carrier-grade NAT
        ("0.0.0.0", 80, "the unspecified address"),  # noqa: S104 - refused, not bound
        ("localhost", 80, "a local name"),
        ("metadata.google.internal", 80, "a local name"),
    ],
)
async def test_non_public_addresses_are_refused_even_when_allowlisted(host: str, port: int, reason: str) -> None:
    verdict = await EgressPolicy(EVERYTHING_ASKED, resolver=unreachable).decide(host, port)
    assert not verdict.allowed and verdict.reason == reason and verdict.addresses == ()


async def test_what_is_not_allowlisted_is_refused_before_it_is_resolved() -> None:
    asked: list[str] = []

    async def resolve(host: str, _port: int) -> Sequence[str]:
        asked.append(host)
        return ["93.184.215.14"]

    policy = EgressPolicy(Allowlist.parse(["pypi.org"]), resolver=resolve)
    assert (await policy.decide("example.org", 443)).reason == NOT_ALLOWED
    assert (await policy.decide("pypi.org", 22)).reason == NOT_ALLOWED
    assert asked == []


async def test_a_public_name_is_allowed_at_the_addresses_it_resolved_to() -> None:
    public = ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    policy = EgressPolicy(EVERYTHING_ASKED, resolver=answering(*public))
    verdict = await policy.decide("public.example", 443)
    assert verdict.allowed and verdict.connect_port == 443
    assert verdict.addresses == public


async def test_a_name_with_any_private_address_is_refused() -> None:
    policy = EgressPolicy(EVERYTHING_ASKED, resolver=answering("93.184.215.14", "10.0.0.7"))
    verdict = await policy.decide("rebinding.example", 443)
    assert verdict.reason == "resolves to 10.0.0.7, a private or reserved address"


async def test_a_name_is_resolved_once_per_connection_and_its_answer_is_what_is_connected_to() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # a rebinding server changes its answer

    async def rebinding(_host: str, _port: int) -> Sequence[str]:
        return next(answers)

    policy = EgressPolicy(EVERYTHING_ASKED, resolver=rebinding)
    first = await policy.decide("rebinding.example", 80)
    second = await policy.decide("rebinding.example", 80)
    assert first.addresses == ("93.184.215.14",)
    assert second.reason == "resolves to 127.0.0.1, a loopback address"


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    verdict = await EgressPolicy(EVERYTHING_ASKED, resolver=unreachable).decide("public.example", 443)
    assert verdict.reason == "cannot be resolved: no such host"


async def test_a_test_host_reaches_its_loopback_server_and_every_other_loopback_address_stays_refused() -> None:
    stand_ins = parse_stand_ins("allowed.test=127.0.0.1:8001")
    allowlist = Allowlist.parse(["allowed.test", "127.0.0.1:8001"])
    policy = EgressPolicy(allowlist, stand_ins, resolver=unreachable)
    verdict = await policy.decide("allowed.test", 80)
    assert verdict.allowed and verdict.addresses == ("127.0.0.1",) and verdict.connect_port == 8001
    assert (await policy.decide("127.0.0.1", 8001)).reason == "a loopback address"
    assert (await policy.decide("other.test", 80)).reason == NOT_ALLOWED


@pytest.mark.parametrize(("host", "port"), [("public.example", 0), ("public.example", 70000), ("a b", 80)])
async def test_a_malformed_host_or_port_is_refused(host: str, port: int) -> None:
    assert not (await EgressPolicy(EVERYTHING_ASKED, resolver=unreachable).decide(host, port)).allowed
