"""Where a webhook may go: an `https://` URL whose every address is public (the SSRF guard).

A URL is checked when it is registered and again, with a fresh DNS lookup, before every delivery; the
delivery then connects to one of the addresses just checked (see `events.webhook_post`), so a name that
resolves elsewhere in between (DNS rebinding) cannot steer a request to a private address.
`AGENTRUNS_WEBHOOK_ALLOW_PRIVATE_TARGETS` (development only) lifts the address checks and allows `http://`. The
address rules themselves are `agentruns.addresses`, which the sandboxes' egress proxy applies too.
"""

import asyncio
from dataclasses import dataclass

import httpx

from agentruns.addresses import Resolver, is_local_name, malformed, refusal, system_resolver

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_SECONDS = 5.0
__all__ = ["RefusedTarget", "Resolver", "Target", "check", "parse", "refusal", "system_resolver"]


class RefusedTarget(ValueError):
    """A webhook URL that agentruns does not call; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook URL and the addresses it may be reached at, in the resolver's order."""

    url: httpx.URL
    host: str
    addresses: tuple[str, ...]


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
    if reason := malformed(host):
        raise RefusedTarget(reason)
    if not allow_private and is_local_name(host):
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
