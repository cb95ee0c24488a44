"""The one backoff rule: doubling delays from `first` up to `cap`, each scaled by a random jitter factor."""

from agentruns.backoff import Backoff


def test_delays_double_within_the_jitter_bounds() -> None:
    backoff = Backoff(first=1, jitter=(0.5, 1.5))
    for failures, base in ((1, 1), (2, 2), (3, 4), (4, 8)):
        assert all(0.5 * base <= backoff.after(failures) <= 1.5 * base for _ in range(100))


def test_the_cap_bounds_the_delay_before_jitter() -> None:
    backoff = Backoff(first=0.1, cap=5.0, jitter=(0.75, 1.0))
    assert all(0.75 * 5 <= backoff.after(failures) <= 5 for failures in range(7, 200))


def test_a_long_outage_never_overflows() -> None:
    assert 0 < Backoff(first=0.1, cap=5.0).after(100_000) <= 7.5
    assert Backoff(first=1).after(100_000) < float("inf")


def test_no_first_delay_means_no_wait() -> None:
    assert Backoff(first=0).after(5) == 0
