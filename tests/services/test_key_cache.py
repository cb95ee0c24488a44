"""The cache of valid keys forgets them after its time."""

import time

from agentruns.services.auth import KeyCache


def test_a_cached_key_expires() -> None:
    cache = KeyCache(seconds=0.05)
    cache.put("digest", "org_1")
    assert cache.get("digest") == "org_1"
    assert cache.get("other") is None
    time.sleep(0.1)
    assert cache.get("digest") is None


def test_a_full_cache_starts_over() -> None:
    cache = KeyCache(size=2)
    cache.put("a", "org_a")
    cache.put("b", "org_b")
    cache.put("c", "org_c")
    assert (cache.get("a"), cache.get("c")) == (None, "org_c")


def test_a_cache_of_zero_seconds_keeps_nothing() -> None:
    cache = KeyCache(seconds=0)
    cache.put("digest", "org_1")
    assert cache.get("digest") is None
