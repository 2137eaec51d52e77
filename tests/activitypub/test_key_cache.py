"""The key cache forgets failures after a minute and allows one refetch per key per minute."""
from fedisupport.remote.keys import FAILURE_TTL, REFRESH_INTERVAL, CachedKey, KeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_are_remembered_for_a_while_and_cleared_by_success():
    clock = Clock()
    cache = KeyCache(clock=clock)
    cache.failed("https://a.example/u#k", "HTTP 404")
    assert cache.recent_failure("https://a.example/u#k") == "HTTP 404"
    clock.now += FAILURE_TTL + 1
    assert cache.recent_failure("https://a.example/u#k") is None
    cache.failed("https://a.example/u#k", "HTTP 404")
    cache.put(CachedKey("https://a.example/u#k", "https://a.example/u", "pem"))
    assert cache.recent_failure("https://a.example/u#k") is None


def test_one_refetch_per_key_per_interval():
    clock = Clock()
    cache = KeyCache(clock=clock)
    assert cache.may_refresh("k1") and not cache.may_refresh("k1")
    assert cache.may_refresh("k2")
    clock.now += REFRESH_INTERVAL
    assert cache.may_refresh("k1")


def test_the_cache_stays_bounded():
    cache = KeyCache(capacity=3)
    for n in range(10):
        cache.put(CachedKey(f"k{n}", "o", "pem"))
    assert len(cache) == 3 and cache.get("k9") and cache.get("k0") is None
