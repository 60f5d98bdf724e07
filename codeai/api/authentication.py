"""Bearer-token authentication: local simplejwt tokens and tokens of an outside identity provider.

One decoder for both, so each failure gets its own message (expired, wrong issuer, wrong
audience, bad signature, algorithm not allowed) instead of simplejwt's generic one:

- HS256 tokens are checked with the local signing secret (CODEAI_JWT_SECRET, else SECRET_KEY);
- RS256/ES256 tokens with CODEAI_JWT_PUBLIC_KEY, or with the key named by the token's ``kid``
  in the JWKS document at CODEAI_JWT_JWKS_URL;
- ``alg: none`` and every other algorithm are refused; CODEAI_JWT_ISSUER and
  CODEAI_JWT_AUDIENCE are enforced when set.

A token with simplejwt's ``user_id`` claim is a local token for that user, whose roles come
from groups. Any other valid token is an outside identity: a local user of the same name is
used when one exists, else a stateless :class:`ExternalUser`; either way its roles are exactly
those of the CODEAI_JWT_ROLES_CLAIM claim.
"""

from __future__ import annotations

import functools
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from codeai import roles
from codeai.metrics import CircuitOpenError, track_integration_call

HMAC_ALGORITHMS = ("HS256",)
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
JWKS_TIMEOUT_SECONDS = 5
JWKS_SERVICE = "jwks"
LEEWAY_SECONDS = 30


class ExternalUser:
    """A user known only from a verified token of an outside identity provider."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, username: str, token_roles: frozenset[str]) -> None:
        self.username = username
        self.token_roles = token_roles

    def __str__(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username


def _fail(message: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(message, code="token_not_valid")


class _MeasuredJWKClient(jwt.PyJWKClient):
    """Fetches of the JWKS document are outbound calls: counted, timed and circuit-broken.

    Only ``fetch_data`` is wrapped, so lookups answered from the key cache are not calls.
    """

    def fetch_data(self) -> Any:
        try:
            with track_integration_call(JWKS_SERVICE):
                return super().fetch_data()
        except CircuitOpenError as error:
            raise jwt.PyJWKClientConnectionError(str(error)) from None


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return _MeasuredJWKClient(url, cache_keys=True, lifespan=300, timeout=JWKS_TIMEOUT_SECONDS)


def _verification_key(raw_token: str, algorithm: str) -> Any:
    if algorithm in HMAC_ALGORITHMS:
        return settings.JWT_HMAC_KEY
    if algorithm not in PUBLIC_KEY_ALGORITHMS:
        raise _fail(f"token algorithm {algorithm!r} is not allowed")
    if settings.JWT_JWKS_URL:
        try:
            return _jwks_client(settings.JWT_JWKS_URL).get_signing_key_from_jwt(raw_token)
        except jwt.PyJWKClientConnectionError:
            raise _fail("token signing keys cannot be fetched from the JWKS URL") from None
        except jwt.PyJWKClientError:
            raise _fail("token signing key is not in the JWKS document") from None
        except jwt.InvalidTokenError:
            raise _fail("token is malformed") from None
    if settings.JWT_PUBLIC_KEY:
        return settings.JWT_PUBLIC_KEY
    raise _fail(f"token algorithm {algorithm!r} is not allowed: no public key is configured")


def decode_token(raw_token: str) -> dict[str, Any]:
    """Verify a bearer token and return its claims; AuthenticationFailed says what is wrong."""
    try:
        header = jwt.get_unverified_header(raw_token)
    except jwt.InvalidTokenError:
        raise _fail("token is malformed") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm.lower() == "none":
        raise _fail("token is unsigned (alg: none is not allowed)")
    key = _verification_key(raw_token, algorithm)
    issuer, audience = settings.SIMPLE_JWT.get("ISSUER"), settings.SIMPLE_JWT.get("AUDIENCE")
    try:
        claims = jwt.decode(
            raw_token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise _fail("token has expired") from None
    except jwt.InvalidIssuerError:
        raise _fail("token has the wrong issuer") from None
    except jwt.InvalidAudienceError:
        raise _fail("token has the wrong audience") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _fail(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise _fail("token signature is invalid") from None
    except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError):
        raise _fail(f"token algorithm {algorithm!r} does not match the configured key") from None
    except jwt.InvalidTokenError:
        raise _fail("token is invalid") from None
    token_type = claims.get(jwt_settings.TOKEN_TYPE_CLAIM)
    if token_type is not None and token_type != "access":
        raise _fail("token is not an access token")
    return claims


def _local_user(claims: dict[str, Any]) -> Any:
    user_id = claims[jwt_settings.USER_ID_CLAIM]
    if not isinstance(user_id, int | str) or isinstance(user_id, bool):
        raise _fail(f"token has a malformed {jwt_settings.USER_ID_CLAIM!r} claim")
    try:
        user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
    except (ValueError, TypeError, OverflowError):
        raise _fail(f"token has a malformed {jwt_settings.USER_ID_CLAIM!r} claim") from None
    if user is None or not user.is_active:
        raise _fail("token user does not exist or is inactive")
    return user


def _outside_user(claims: dict[str, Any]) -> Any:
    username = claims.get("preferred_username") or claims.get("sub")
    if not isinstance(username, str) or not username:
        raise _fail("token names no user (no 'preferred_username' or 'sub' claim)")
    token_roles = roles.roles_from_claim(claims.get(settings.JWT_ROLES_CLAIM))
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        return ExternalUser(username, token_roles)
    user.token_roles = token_roles
    return user


class BearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` only (never a query string)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise _fail("Authorization header must be 'Bearer <token>'")
        try:
            raw_token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise _fail("token is malformed") from None
        claims = decode_token(raw_token)
        if jwt_settings.USER_ID_CLAIM in claims:
            return _local_user(claims), claims
        return _outside_user(claims), claims

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
