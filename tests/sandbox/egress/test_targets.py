"""What a proxy request asks for: `CONNECT host:port`, or an absolute `http://` URL; anything else is refused."""

import pytest

from agentruns.sandbox.egress.targets import BadTarget, RequestTarget, connect_target, http_target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"pypi.org:443", RequestTarget("pypi.org", 443)),
        (b"[fd00::1]:8443", RequestTarget("fd00::1", 8443)),
        (b"10.0.0.1:22", RequestTarget("10.0.0.1", 22)),
    ],
)
def test_connect_takes_host_and_port(target: bytes, expected: RequestTarget) -> None:
    assert connect_target(target) == expected


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (b"pypi.org", "host:port"),
        (b"pypi.org:", "1 to 65535"),
        (b"pypi.org:99999", "1 to 65535"),
        (b"pypi.org:-1", "1 to 65535"),
        (b"fd00::1:443", "host:port"),
        (b"[fd00::1]", "IPv6"),
        (b":443", "host:port"),
        ("h\u00e9.org:443".encode(), "ASCII"),
        (b"a" * 9000 + b":443", "longer than"),
    ],
)
def test_a_bad_connect_target_is_refused(target: bytes, reason: str) -> None:
    with pytest.raises(BadTarget, match=reason):
        connect_target(target)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"http://pypi.org/simple/", RequestTarget("pypi.org", 80, b"/simple/")),
        (b"http://Example.com:8080/a?b=c", RequestTarget("example.com", 8080, b"/a?b=c")),
        (b"http://example.com", RequestTarget("example.com", 80, b"/")),
        (b"http://[fd00::1]:81/x", RequestTarget("fd00::1", 81, b"/x")),
    ],
)
def test_a_plain_request_takes_an_absolute_url(target: bytes, expected: RequestTarget) -> None:
    assert http_target(target) == expected


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (b"/index.html", "this is a proxy"),
        (b"https://pypi.org/", "CONNECT"),
        (b"ftp://pypi.org/", "only http://"),
        (b"http://user:pw@pypi.org/", "user name"),
        (b"http://pypi.org:99999/", "not a URL"),
        (b"http:///path", "no host"),
    ],
)
def test_a_bad_plain_request_is_refused(target: bytes, reason: str) -> None:
    with pytest.raises(BadTarget, match=reason):
        http_target(target)
