"""The allowlist: what each form of entry matches, and the entries refused, each with its reason."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentruns.sandbox.egress.allowlist import (
    ENTRY_PATTERN,
    MAX_ENTRIES,
    MAX_ENTRY_LENGTH,
    Allowlist,
    BadEntry,
    parse_entry,
)

ALLOWLIST = Allowlist.parse(["pypi.org", "*.githubusercontent.com", "example.com:8443", "[fd00::1]", "10.0.0.1"])


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("pypi.org", 443, True),
        ("pypi.org", 80, True),
        ("PyPI.org.", 443, True),  # case and a trailing dot do not matter
        ("pypi.org", 8080, False),  # without :port, only 80 and 443
        ("files.pypi.org", 443, False),  # an exact entry is not its subdomains
        ("raw.githubusercontent.com", 443, True),
        ("a.b.githubusercontent.com", 80, True),
        ("githubusercontent.com", 443, False),  # `*.x` is x's subdomains, not x
        ("evilgithubusercontent.com", 443, False),
        ("githubusercontent.com.evil.org", 443, False),
        ("example.com", 8443, True),
        ("example.com", 443, False),  # with :port, that port only
        ("[fd00::1]", 443, True),
        ("fd00:0:0::1", 80, True),  # the same IPv6 address written otherwise
        ("10.0.0.1", 80, True),
        ("other.org", 443, False),
    ],
)
def test_what_an_entry_matches(host: str, port: int, allowed: bool) -> None:
    assert ALLOWLIST.allows(host, port) is allowed


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("*", "may only begin"),
        ("*.com", "top-level domain"),
        ("a*.example.com", "may only begin"),
        ("exa mple.com", "not a host name"),
        ("a..b", "not a host name"),
        ("-a.com", "not a host name"),
        ("https://pypi.org", "not a URL"),
        ("pypi.org/simple", "not a URL"),
        ("user@pypi.org", "not a URL"),
        ("pypi.org:0", "1 to 65535"),
        ("pypi.org:65536", "1 to 65535"),
        ("pypi.org:http", "1 to 65535"),
        ("fd00::1", "in brackets"),
        ("[zz::1]", "not an IPv6 address"),
        ("[fd00::1", "[address]"),
        ("x" * 300, "at most"),
        ("pypi.org\x00", "not a host name"),
    ],
)
def test_a_bad_entry_is_refused_with_its_reason(entry: str, reason: str) -> None:
    with pytest.raises(BadEntry, match=reason):
        parse_entry(entry)


def test_the_setting_is_comma_separated_and_empty_allows_nothing() -> None:
    assert Allowlist.from_setting(" pypi.org , *.pythonhosted.org,").allows("files.pythonhosted.org", 443)
    nothing = Allowlist.from_setting("")
    assert not nothing.allows("pypi.org", 443) and str(nothing) == "nothing"


def test_an_allowlist_is_bounded() -> None:
    with pytest.raises(BadEntry, match=f"at most {MAX_ENTRIES}"):
        Allowlist.parse(f"host{number}.example.com" for number in range(MAX_ENTRIES + 1))


def test_an_entry_is_shown_as_it_is_matched() -> None:
    assert [str(entry) for entry in ALLOWLIST.entries] == [
        "pypi.org", "*.githubusercontent.com", "example.com:8443", "[fd00::1]", "10.0.0.1",
    ]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.from_regex(ENTRY_PATTERN, fullmatch=True).filter(lambda text: len(text) <= MAX_ENTRY_LENGTH))
def test_every_entry_the_schema_states_is_accepted(text: str) -> None:
    """The API's schema states ENTRY_PATTERN: what it allows must parse (what does not match it is refused)."""
    parse_entry(text)
