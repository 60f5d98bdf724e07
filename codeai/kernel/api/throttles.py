"""Request rates counted in the shared cache (every process of the server counts together):
per client address, per user, and a stricter budget for the token endpoints (password
guessing). The address is :func:`codeai.kernel.client_address.client_address`, never a header a
client could rotate.

DRF's throttle keeps a key's history as one list of timestamps, read, unpickled, pruned,
pickled and written back by every request: at a high rate the list is thousands of floats per
request, and two processes writing it at once lose each other's entry. On Redis the same
sliding window is a sorted set changed by one Lua script (one round trip, atomic): prune what
is older than the period, count, and add this request only when it is allowed (as DRF, a
refused request does not count). The other shared stores keep DRF's list.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.conf import settings
from django.core.cache import BaseCache, caches
from django_redis.cache import RedisCache
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from codeai.kernel.client_address import client_address

# KEYS[1] the sorted set; ARGV: now, period (s), allowed count, a unique member. Answers
# {1, count} when allowed (this request included), else {0, count, oldest timestamp}.
SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, count, oldest[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return {1, count + 1}
"""


class _SharedThrottle(throttling.SimpleRateThrottle):
    num_requests: int  # set by DRF's __init__ from the rate
    duration: int

    # DRF reads the rates and the cache once at import; reading them per request lets tests
    # and override_settings change them.
    def get_rate(self) -> str | None:
        return cast("str | None", api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or ""))

    @property
    def cache(self) -> BaseCache:  # type: ignore[override]  # DRF's class attribute
        return caches[settings.SHARED_CACHE]

    def get_ident(self, request: Request) -> str:
        return client_address(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        cache = self.cache
        if self.rate is None or not isinstance(cache, RedisCache):
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        client = cache.client.get_client(write=True)
        answer = client.register_script(SLIDING_WINDOW)(
            keys=[cache.make_key(f"{self.key}:window")],
            args=[repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex],
        )
        self._window: tuple[int, float] | None = None
        if answer[0]:
            return True
        self._window = (int(answer[1]), float(answer[2]))
        return False

    def wait(self) -> float | None:
        window = getattr(self, "_window", None)
        if window is None:
            return super().wait()
        # DRF's own answer from the window's count and its oldest request.
        count, oldest = window
        available = self.num_requests - count + 1
        if available <= 0:
            return None
        return (self.duration - (self.now - oldest)) / available


class AnonThrottle(_SharedThrottle, throttling.AnonRateThrottle):
    pass


class UserThrottle(_SharedThrottle, throttling.UserRateThrottle):
    """Per user; outside identities have no primary key, so they count by their qualified
    name (``name@issuer``, which no local user id can equal)."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if not (user and user.is_authenticated):
            return None
        ident = user.pk if user.pk is not None else f"external:{user.username}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AuthThrottle(_SharedThrottle):
    """Token endpoints, per client address whoever asks."""

    scope = "auth"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
