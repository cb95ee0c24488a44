"""A run's network access: off, or through the egress proxy by its policy, with the log of its connections."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agentruns.sandbox.egress.allowlist import Allowlist
from agentruns.sandbox.egress.log import ConnectionLog
from agentruns.sandbox.egress.policy import EgressPolicy
from agentruns.sandbox.egress.stand_ins import StandIn, parse_stand_ins

NetworkMode = Literal["off", "proxy"]


@dataclass
class NetworkAccess:
    """How one run reaches the network: its policy, and the log its proxy and `webfetch` record connections in."""

    policy: EgressPolicy
    log: ConnectionLog = field(default_factory=ConnectionLog)


def network_access(
    mode: NetworkMode, *, agent_allow: Sequence[str] | None, default_allow: str, test_hosts: str = ""
) -> NetworkAccess | None:
    """The run's access, or None when the deployment's mode is `off`.

    Args:
        mode: `AGENTRUNS_SANDBOX_NETWORK`.
        agent_allow: The agent's `sandbox.network.allow`; None (not set) takes `default_allow`.
        default_allow: `AGENTRUNS_SANDBOX_NETWORK_ALLOW`, comma-separated.
        test_hosts: `AGENTRUNS_SANDBOX_NETWORK_TEST_HOSTS` (test only).
    """
    if mode == "off":
        return None
    allowlist = Allowlist.parse(agent_allow) if agent_allow is not None else Allowlist.from_setting(default_allow)
    stand_ins: Mapping[str, StandIn] = parse_stand_ins(test_hosts)
    return NetworkAccess(EgressPolicy(allowlist, stand_ins))
