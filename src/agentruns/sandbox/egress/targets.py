"""Where a proxy request asks to go: `CONNECT host:port`, or a plain HTTP request's absolute `http://` URL."""

from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_TARGET_BYTES = 8192


class BadTarget(ValueError):
    """A request the proxy does not forward; the message says why."""


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """The host and port asked for, and, for plain HTTP, the path (with its query) to ask the server."""

    host: str
    port: int
    path: bytes = b""


def _port(text: str, default: int | None = None) -> int:
    if not text and default is not None:
        return default
    if not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise BadTarget("the port must be a number from 1 to 65535")
    return int(text)


def _ascii(target: bytes) -> str:
    if len(target) > MAX_TARGET_BYTES:
        raise BadTarget(f"the request target is longer than {MAX_TARGET_BYTES} bytes")
    try:
        return target.decode("ascii")
    except UnicodeDecodeError:
        raise BadTarget("the request target is not ASCII") from None


def connect_target(target: bytes) -> RequestTarget:
    """The host and port of `CONNECT host:port` (`[v6]:port` for an IPv6 address)."""
    text = _ascii(target)
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise BadTarget("CONNECT takes [address]:port for an IPv6 address")
        return RequestTarget(host, _port(rest[1:]))
    host, colon, port = text.rpartition(":")
    if not colon or not host or ":" in host:
        raise BadTarget("CONNECT takes host:port")
    return RequestTarget(host, _port(port))


def http_target(target: bytes) -> RequestTarget:
    """The host, port and path of a plain HTTP request's absolute URL (`http://host[:port]/path?query`)."""
    text = _ascii(target)
    if text.startswith("/"):
        raise BadTarget("this is a proxy: ask for an absolute http:// URL, or CONNECT host:port for https")
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as exc:
        raise BadTarget(f"not a URL: {exc}") from None
    if url.scheme.lower() != "http":
        raise BadTarget("only http:// URLs are forwarded as requests; use CONNECT host:port for https")
    if url.username is not None or url.password is not None or "@" in url.netloc:
        raise BadTarget("the URL must not carry a user name or password")
    if not url.hostname:
        raise BadTarget("the URL has no host")
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return RequestTarget(url.hostname, port or 80, path.encode("ascii"))
