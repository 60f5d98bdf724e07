"""Request rates counted in the Django cache: per client address, per user, and a stricter
budget for the token endpoints (password guessing)."""

from __future__ import annotations

from typing import Any

from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings


class _RatesFromSettings:
    # DRF reads the rates once at import; reading them per request lets tests and
    # override_settings change them.
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    pass


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Per user; outside identities have no primary key, so they count by username."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if not (user and user.is_authenticated):
            return None
        ident = user.pk if user.pk is not None else f"external:{user.username}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AuthThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Token endpoints, per client address whoever asks."""

    scope = "auth"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
