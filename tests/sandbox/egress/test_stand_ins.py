"""The test-only host map: names taken for public hosts, and only ever mapped to loopback."""

import pytest

from agentruns.sandbox.egress.stand_ins import StandIn, parse_stand_ins


def test_names_map_to_loopback_with_or_without_a_port() -> None:
    assert parse_stand_ins("allowed.test=127.0.0.1:8001, Other.Test=[::1]") == {
        "allowed.test": StandIn("127.0.0.1", 8001),
        "other.test": StandIn("::1", None),
    }
    assert parse_stand_ins("") == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("allowed.test", "name=address"),
        ("allowed.test=10.0.0.1", "loopback"),
        ("allowed.test=169.254.169.254:80", "loopback"),
        ("allowed.test=example.com", "not an IP address"),
        ("*.allowed.test=127.0.0.1", "one name"),
        ("a b=127.0.0.1", "not a host name"),
    ],
)
def test_anything_else_is_refused(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_stand_ins(value)
