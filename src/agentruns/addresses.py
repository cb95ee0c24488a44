"""Which hosts and IP addresses are public: the address rules of every outbound guard (webhooks, egress).

An address is refused if it, or an IPv4 address carried inside it (mapped, 6to4, Teredo, NAT64), is loopback,
link-local (cloud metadata at 169.254.169.254 among them), multicast, unspecified, private or reserved.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

# Names that never lead to the public internet, whatever a resolver says.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOST_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves a host name and port to IP addresses (as text)."""


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The addresses the operating system resolves the host to (numeric forms such as `127.1` included)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded(address: IPAddress) -> list[IPAddress]:
    """Any IPv4 address carried inside the address (mapped, 6to4, Teredo, NAT64), then the address itself."""
    found: list[IPAddress] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [*found, address]


def refusal(address: str) -> str | None:
    """Why a connection to this address is refused (`a loopback address`, …), or None for a public one."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (`%eth0`) is no part of the address
    except ValueError:
        return "not an IP address"
    for candidate in _embedded(parsed):
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.is_unspecified:
            return "the unspecified address"
        if candidate.is_private or not candidate.is_global or candidate.is_reserved:
            return "a private or reserved address"
    return None


def malformed(host: str) -> str | None:
    """Why the host is neither a host name nor an IPv6 address (with no zone), or None."""
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not a valid IPv6 address"
        return f"{host!r} names a network interface" if address.scope_id else None
    return None if HOST_NAME.fullmatch(host) else f"{host!r} is not a valid host name"


def is_local_name(host: str) -> bool:
    """Whether the name is `localhost` or ends in a suffix that names a local network (`.internal`, …)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(LOCAL_SUFFIXES)
