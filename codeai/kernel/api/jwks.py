"""Signing keys of an outside identity provider from CODEAI_JWT_JWKS_URL, one copy for the
whole server in the shared cache.

The document is fetched when it is missing, older than FRESH_SECONDS or lacks the token's
``kid``, but at most once per REFETCH_COOLDOWN_SECONDS for all processes together (an atomic
``cache.add``): tokens with made-up ``kid``s cannot make the server hammer the provider. The
last document fetched is kept KEEP_SECONDS, so its keys keep working while the provider is down.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import caches

from codeai.kernel.outbound import CircuitOpenError, track_integration_call

FETCH_TIMEOUT_SECONDS = 5
FRESH_SECONDS = 300
REFETCH_COOLDOWN_SECONDS = 60
KEEP_SECONDS = 7 * 24 * 3600
SERVICE = "jwks"


class KeyNotFound(Exception):
    """``fetch_failed``: no document could be fetched (rather than one lacking the key)."""

    def __init__(self, *, fetch_failed: bool) -> None:
        super().__init__()
        self.fetch_failed = fetch_failed


@dataclass(frozen=True)
class SigningKey:
    key: Any
    algorithm: str


def _cache_keys(url: str) -> tuple[str, str]:
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    return f"jwks:document:{digest}", f"jwks:cooldown:{digest}"


def _fetch(url: str) -> list[dict[str, Any]] | None:
    """The document's keys, or None when the provider cannot be reached or answers garbage."""
    client = jwt.PyJWKClient(
        url, cache_jwk_set=False, cache_keys=False, timeout=FETCH_TIMEOUT_SECONDS
    )
    try:
        with track_integration_call(SERVICE):
            document = client.fetch_data()
    except (CircuitOpenError, jwt.PyJWKClientConnectionError, ValueError):
        return None
    keys = document.get("keys") if isinstance(document, dict) else None
    return [key for key in keys if isinstance(key, dict)] if isinstance(keys, list) else None


def _find(keys: list[dict[str, Any]] | None, kid: Any) -> dict[str, Any] | None:
    if not keys or not isinstance(kid, str):
        return None
    return next((key for key in keys if key.get("kid") == kid), None)


def signing_key(url: str, kid: Any) -> SigningKey:
    """The key named ``kid``; KeyNotFound when neither the kept nor a new document has it."""
    cache = caches[settings.SHARED_CACHE]
    document_key, cooldown_key = _cache_keys(url)
    kept = cache.get(document_key)
    keys = kept["keys"] if kept else None
    found = _find(keys, kid)
    stale = kept is None or time.time() - kept["fetched_at"] > FRESH_SECONDS
    if (found is None or stale) and cache.add(cooldown_key, 1, REFETCH_COOLDOWN_SECONDS):
        fetched = _fetch(url)
        if fetched is not None:
            keys = fetched
            cache.set(document_key, {"fetched_at": time.time(), "keys": keys}, KEEP_SECONDS)
            found = _find(keys, kid)
    if found is None:
        raise KeyNotFound(fetch_failed=keys is None)
    try:
        jwk = jwt.PyJWK(found)
    except (jwt.PyJWKError, jwt.InvalidKeyError):
        raise KeyNotFound(fetch_failed=False) from None
    return SigningKey(jwk.key, jwk.algorithm_name)
