"""Which domains a run may reach: entries such as `pypi.org`, `*.githubusercontent.com` or `example.com:8443`."""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_PORTS = (80, 443)
"""The ports an entry without `:port` allows: HTTP and HTTPS."""
MAX_ENTRIES = 100
MAX_ENTRY_LENGTH = 253
"""Longest entry, so that no host in one is longer than DNS allows."""
_LABEL = re.compile(r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?|[a-z0-9]")
_PORT = re.compile(r"[0-9]{1,5}")

# The same grammar as one regular expression, which the API's schema states, so that what the schema allows is
# exactly what is accepted (every entry is checked against it after the checks that explain a refusal).
_LABEL_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_NAME_PATTERN = rf"{_LABEL_PATTERN}(?:\.{_LABEL_PATTERN})*\.?"
_WILDCARD_PATTERN = rf"\*\.{_LABEL_PATTERN}(?:\.{_LABEL_PATTERN})+\.?"
_PORT_PATTERN = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_V4 = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_H = r"[0-9A-Fa-f]{1,4}"
_V6 = "|".join([
    rf"(?:{_H}:){{7}}{_H}", rf"(?:{_H}:){{1,7}}:", rf"(?:{_H}:){{1,6}}:{_H}", rf"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}",
    rf"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}", rf"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}", rf"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}",
    rf"{_H}:(?::{_H}){{1,6}}", rf":(?:(?::{_H}){{1,7}}|:)", rf"::(?:[Ff]{{4}}(?::0{{1,4}})?:)?{_V4}",
    rf"(?:{_H}:){{1,4}}:{_V4}",
])  # fmt: skip
ENTRY_PATTERN = rf"^(?:{_WILDCARD_PATTERN}|{_NAME_PATTERN}|\[(?:{_V6})\])(?::{_PORT_PATTERN})?$"
"""An allowlist entry, as a regular expression (with `MAX_ENTRY_LENGTH`)."""
_ENTRY = re.compile(ENTRY_PATTERN)


class BadEntry(ValueError):
    """An allowlist entry that is not `host`, `*.domain` or either with `:port`; the message says why."""


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One entry: a host (or, `wildcard`, every subdomain of it) and its port, or None for 80 and 443."""

    host: str
    wildcard: bool
    port: int | None

    def allows(self, host: str, port: int) -> bool:
        """Whether the (normalised) host and port match this entry."""
        if port not in ((self.port,) if self.port is not None else DEFAULT_PORTS):
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host or (":" in self.host and ":" in host and _same_ipv6(host, self.host))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return ("*." if self.wildcard else "") + host + (f":{self.port}" if self.port is not None else "")


def _same_ipv6(one: str, other: str) -> bool:
    try:
        return ipaddress.IPv6Address(one) == ipaddress.IPv6Address(other)
    except ValueError:
        return False


def normalised_host(host: str) -> str:
    """The host as entries are compared with it: lower case, no trailing dot, an IPv6 address without brackets."""
    host = host.strip().lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _split_port(text: str) -> tuple[str, int | None]:
    """The host part and the port of `host`, `host:port`, `[v6]` or `[v6]:port`."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise BadEntry(f"{text!r}: an IPv6 address is written [address] or [address]:port")
        port_text = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadEntry(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif text.count(":") > 1:
        raise BadEntry(f"{text!r}: write an IPv6 address in brackets, [address]")
    else:
        host, colon, port_text = text.partition(":")
        port_text = port_text if colon else None
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise BadEntry(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def parse_entry(text: str) -> AllowEntry:
    """The entry `text` names.

    Raises:
        BadEntry: It is empty, too long, `*` alone, a wildcard of a top-level domain, or not a host name.
    """
    if not isinstance(text, str) or not text.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise BadEntry("an entry must be a non-empty host name such as pypi.org or *.example.com")
    entry = _parsed(text)
    if not _ENTRY.fullmatch(text):
        raise BadEntry(f"{text!r} is not an entry: write a host (pypi.org), *.domain or [IPv6], each optionally :port")
    return entry


def _parsed(text: str) -> AllowEntry:
    """The entry, or a BadEntry that says what is wrong with it."""
    if len(text) > MAX_ENTRY_LENGTH:
        raise BadEntry(f"an entry is at most {MAX_ENTRY_LENGTH} characters")
    raw = text.strip().lower()
    if "/" in raw or "@" in raw:
        raise BadEntry(f"{text!r}: name a host (pypi.org), not a URL")
    wildcard = raw.startswith("*.")
    host, port = _split_port(raw[2:] if wildcard else raw)
    if text.strip().startswith("["):
        return AllowEntry(host=normalised_host(host), wildcard=False, port=port)
    host = host.rstrip(".") if host.endswith(".") and not host.endswith("..") else host
    if "*" in host:
        raise BadEntry(f"{text!r}: `*` may only begin an entry, as `*.example.com` (every subdomain of it)")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise BadEntry(f"{text!r} is not a host name (letters, digits, `-` and `_` in dot-separated labels)")
    if wildcard and len(labels) < 2:
        raise BadEntry(f"{text!r} would allow every name under a top-level domain; name a domain, as *.example.com")
    return AllowEntry(host=host, wildcard=wildcard, port=port)


@dataclass(frozen=True, slots=True)
class Allowlist:
    """The entries a run's connections are checked against; empty allows nothing."""

    entries: tuple[AllowEntry, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> "Allowlist":
        """The allowlist of these entries (duplicates kept once).

        Raises:
            BadEntry: An entry is malformed, or there are more than `MAX_ENTRIES`.
        """
        entries = tuple(dict.fromkeys(parse_entry(text) for text in texts))
        if len(entries) > MAX_ENTRIES:
            raise BadEntry(f"an allowlist has at most {MAX_ENTRIES} entries")
        return cls(entries)

    @classmethod
    def from_setting(cls, value: str) -> "Allowlist":
        """The allowlist of a comma-separated setting (`AGENTRUNS_SANDBOX_NETWORK_ALLOW`)."""
        return cls.parse(part.strip() for part in value.split(",") if part.strip())

    def allows(self, host: str, port: int) -> bool:
        """Whether an entry matches the host (any form; it is normalised first) and port."""
        name = normalised_host(host)
        return any(entry.allows(name, port) for entry in self.entries)

    def __str__(self) -> str:
        return ", ".join(str(entry) for entry in self.entries) or "nothing"
