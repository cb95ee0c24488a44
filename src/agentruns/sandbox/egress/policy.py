"""Whether a run may open a connection to `host:port`, and to which checked addresses (pinned)."""

import asyncio
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentruns.addresses import Resolver, is_local_name, malformed, refusal, system_resolver
from agentruns.sandbox.egress.allowlist import Allowlist, normalised_host
from agentruns.sandbox.egress.stand_ins import StandIn

RESOLVE_TIMEOUT_SECONDS = 5.0
NOT_ALLOWED = "not on the allowlist (sandbox.network.allow)"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision on one connection: `addresses` (and `port`) to connect to if allowed, else the `reason`."""

    host: str
    port: int
    reason: str | None = None
    addresses: tuple[str, ...] = ()
    connect_port: int = 0

    @property
    def allowed(self) -> bool:
        """Whether the connection may be made."""
        return self.reason is None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """A run's egress rules: its allowlist, then the public-address rules on every address the name resolves to.

    The name is resolved once per connection and the connection is made to an address of that answer, so a name
    that resolves elsewhere between the check and the connection (DNS rebinding) cannot reach a private address.
    """

    allowlist: Allowlist
    stand_ins: Mapping[str, StandIn] = field(default_factory=dict[str, StandIn])
    """Test only (`stand_ins`): names taken for public hosts and mapped to a loopback server."""
    resolver: Resolver = system_resolver

    async def decide(self, host: str, port: int) -> Verdict:
        """The verdict on a connection to `host:port` (a name, an IPv4 address or an IPv6 one, bracketed or not)."""
        name = normalised_host(host)
        refused = _refused_form(name, port)
        if refused is not None:
            return Verdict(name, port, reason=refused)
        if not self.allowlist.allows(name, port):
            return Verdict(name, port, reason=NOT_ALLOWED)
        if (stand_in := self.stand_ins.get(name)) is not None:
            return Verdict(name, port, addresses=(stand_in.address,), connect_port=stand_in.port or port)
        if is_local_name(name):
            return Verdict(name, port, reason="a local name")
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                addresses: Sequence[str] = await self._addresses(name, port)
        except UnicodeError:
            return Verdict(name, port, reason="not a valid host name")
        except (OSError, TimeoutError) as exc:
            return Verdict(name, port, reason=f"cannot be resolved: {exc or 'timed out'}")
        if not addresses:
            return Verdict(name, port, reason="resolves to no address")
        for address in addresses:
            if (why := refusal(address)) is not None:
                shown = "" if _is_address(name) else f"resolves to {address}, "
                return Verdict(name, port, reason=shown + why)
        return Verdict(name, port, addresses=tuple(addresses), connect_port=port)

    async def _addresses(self, name: str, port: int) -> tuple[str, ...]:
        """The addresses of the name: an IP address is its own; a name is looked up once."""
        try:
            return (str(ipaddress.ip_address(name)),)
        except ValueError:
            return tuple(dict.fromkeys(await self.resolver(name, port)))


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _refused_form(name: str, port: int) -> str | None:
    """Why a host and port are refused before any rule is applied (malformed), or None."""
    if not 1 <= port <= 65535:
        return "not a valid port"
    if len(name) > 253:
        return "not a valid host name"
    return malformed(name)
