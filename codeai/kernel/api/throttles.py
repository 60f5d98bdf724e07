"""Request rates counted in the shared cache (every process of the server counts together):
per client address, per user, and a stricter budget for the token endpoints (password
guessing). The address is :func:`codeai.kernel.client_address.client_address`, never a header a
client could rotate."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.core.cache import BaseCache, caches
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from codeai.kernel.client_address import client_address


class _SharedThrottle(throttling.SimpleRateThrottle):
    # DRF reads the rates and the cache once at import; reading them per request lets tests
    # and override_settings change them.
    def get_rate(self) -> str | None:
        return cast("str | None", api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or ""))

    @property
    def cache(self) -> BaseCache:  # type: ignore[override]  # DRF's class attribute
        return caches[settings.SHARED_CACHE]

    def get_ident(self, request: Request) -> str:
        return client_address(request)


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
