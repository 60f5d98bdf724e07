"""The throttle's window on Redis (one atomic script per request, codeai.kernel.api.throttles):
exactly the rate is let through however many requests arrive at once, and the wait it
advises is DRF's."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from codeai.kernel.api.throttles import UserThrottle
from tests.conftest import uses_redis_cache

pytestmark = pytest.mark.skipif(not uses_redis_cache(), reason="needs this pass's Redis")


@pytest.fixture
def rate(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
    }

    def set_rate(value: str) -> None:
        settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"] = value

    return set_rate


def request_of(user_id: int) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=user_id))


def test_concurrent_requests_get_exactly_the_rate(rate):
    # Fewer threads than the Redis connection pool holds (CODEAI_REDIS_POOL_SIZE).
    rate("3/min")
    answers: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        allowed = UserThrottle().allow_request(request_of(9001), None)
        with lock:
            answers.append(allowed)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers.count(True) == 3
    assert answers.count(False) == 5


def test_a_refused_request_is_told_to_wait_for_the_oldest_to_leave_the_window(rate):
    rate("2/min")
    first, second, third = UserThrottle(), UserThrottle(), UserThrottle()

    assert first.allow_request(request_of(9002), None)
    assert second.allow_request(request_of(9002), None)
    assert not third.allow_request(request_of(9002), None)
    assert 50 < third.wait() <= 60
    # Refused requests do not count: another user is unaffected, and so is this one's count.
    assert UserThrottle().allow_request(request_of(9003), None)


def test_requests_older_than_the_period_leave_the_window(rate, monkeypatch):
    rate("1/s")
    clock = [1_000_000.0]
    monkeypatch.setattr(UserThrottle, "timer", lambda self: clock[0])

    assert UserThrottle().allow_request(request_of(9004), None)
    assert not UserThrottle().allow_request(request_of(9004), None)
    clock[0] += 1.01
    assert UserThrottle().allow_request(request_of(9004), None)
