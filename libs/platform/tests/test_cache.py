"""The expiring cache: an entry answers until its own expiry, and the cache stays bounded."""

from __future__ import annotations

from mes_platform.cache import ExpiringCache


def test_an_entry_answers_until_its_expiry() -> None:
    now = [100.0]
    cache: ExpiringCache[str, int] = ExpiringCache(clock=lambda: now[0])
    cache.put("a", 1, until=110.0)
    cache.put("b", 2, until=200.0)
    now[0] = 109.9
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, 2, None)
    now[0] = 110.0
    assert (cache.get("a"), cache.get("b")) == (None, 2)


def test_a_full_cache_starts_again_empty() -> None:
    cache: ExpiringCache[int, int] = ExpiringCache(max_entries=3, clock=lambda: 0.0)
    for n in range(3):
        cache.put(n, n, until=1.0)
    cache.put(3, 3, until=1.0)
    assert [cache.get(n) for n in range(4)] == [None, None, None, 3]


def test_forget_and_clear() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(clock=lambda: 0.0)
    cache.put("a", 1, 10.0)
    cache.put("b", 2, 10.0)
    cache.forget("a")
    cache.forget("missing")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.clear()
    assert cache.get("b") is None
