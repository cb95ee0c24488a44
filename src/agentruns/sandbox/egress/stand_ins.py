"""Test only: host names the egress proxy takes for public hosts and maps to a loopback server.

`AGENTRUNS_SANDBOX_NETWORK_TEST_HOSTS=allowed.test=127.0.0.1:8001,tls.test=127.0.0.1:8002` lets a test reach its
own loopback servers through the proxy as if they were public hosts, while every other loopback address stays
refused. Like `AGENTRUNS_WEBHOOK_ALLOW_PRIVATE_TARGETS`, it is for tests: never set it in production.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from agentruns.sandbox.egress.allowlist import BadEntry, normalised_host, parse_entry


@dataclass(frozen=True, slots=True)
class StandIn:
    """Where connections to a test host go: a loopback address, and a port (None: the port asked for)."""

    address: str
    port: int | None


def parse_stand_ins(value: str) -> Mapping[str, StandIn]:
    """The test hosts of the setting: comma-separated `name=address[:port]`, each address a loopback one.

    Raises:
        ValueError: An item is malformed or maps to an address that is not loopback.
    """
    found: dict[str, StandIn] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, equals, target = item.partition("=")
        if not equals:
            raise ValueError(f"{item!r}: a test host is written name=address[:port]")
        try:
            host = parse_entry(name)
            where = parse_entry(target)
        except BadEntry as exc:
            raise ValueError(f"{item!r}: {exc}") from None
        try:
            address = ipaddress.ip_address(where.host)
        except ValueError:
            raise ValueError(f"{item!r}: {where.host!r} is not an IP address") from None
        if host.wildcard or host.port is not None or not address.is_loopback:
            raise ValueError(f"{item!r}: a test host maps one name to a loopback address (127.0.0.1[:port])")
        found[normalised_host(host.host)] = StandIn(address=str(address), port=where.port)
    return found
