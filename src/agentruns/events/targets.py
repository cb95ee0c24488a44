"""Where a webhook may go: an `https://` URL whose every address is public (the SSRF guard).

A URL is checked when it is registered and again, with a fresh DNS lookup, before every delivery; the
delivery then connects to one of the addresses just checked (see `events.webhook_post`), so a name that
resolves elsewhere in between (DNS rebinding) cannot steer a request to a private address.
`AGENTRUNS_WEBHOOK_ALLOW_PRIVATE_TARGETS` (development only) lifts the address checks and allows `http://`.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_SECONDS = 5.0
# Names that never lead to the public internet, whatever a resolver says.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOST_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves a host name and port to IP addresses (as text)."""


class RefusedTarget(ValueError):
    """A webhook URL that agentruns does not call; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook URL and the addresses it may be reached at, in the resolver's order."""

    url: httpx.URL
    host: str
    addresses: tuple[str, ...]


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The addresses the operating system resolves the host to (numeric forms such as `127.1` included)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def parse(url: str, *, allow_private: bool) -> httpx.URL:
    """The URL if its form is acceptable: `https://host[:port]/…`, no user name or password."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedTarget(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise RefusedTarget(f"not a URL: {exc}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in schemes:
        raise RefusedTarget("the URL must start with https://")
    if not parsed.raw_host:
        raise RefusedTarget("the URL has no host")
    if parsed.userinfo:
        raise RefusedTarget("the URL must not carry a user name or password")
    return parsed


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


def _malformed(host: str) -> str | None:
    """Why the host is neither a host name nor an IPv6 address (with no zone), or None."""
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not a valid IPv6 address"
        return f"{host!r} names a network interface" if address.scope_id else None
    return None if HOST_NAME.fullmatch(host) else f"{host!r} is not a valid host name"


def _is_local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(LOCAL_SUFFIXES)


async def check(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver, must_resolve: bool = True
) -> Target:
    """The target of a URL, if every address its host resolves to now is public. With `must_resolve` false
    (when a URL is registered) a host that cannot be resolved passes, with no addresses: DNS may fail for a
    moment, and every delivery checks the URL again.

    Raises:
        RefusedTarget: The URL is malformed, not https, local, unresolvable, or reaches a non-public address.
    """
    parsed = parse(url, allow_private=allow_private)
    host = parsed.raw_host.decode("ascii")
    if reason := _malformed(host):
        raise RefusedTarget(reason)
    if not allow_private and _is_local_name(host):
        raise RefusedTarget(f"{host} is a local name")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            addresses = tuple(dict.fromkeys(await resolver(host, port)))
    except UnicodeError:
        raise RefusedTarget(f"{host!r} is not a valid host name") from None
    except (OSError, TimeoutError) as exc:
        if not must_resolve:
            return Target(url=parsed, host=host, addresses=())
        raise RefusedTarget(f"the host {host!r} cannot be resolved: {exc or 'timed out'}") from None
    if not addresses:
        raise RefusedTarget(f"the host {host!r} resolves to no address")
    if not allow_private:
        for address in addresses:
            if reason := refusal(address):
                raise RefusedTarget(f"the host {host!r} resolves to {address}, {reason}")
    return Target(url=parsed, host=host, addresses=addresses)
