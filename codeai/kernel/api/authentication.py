"""Bearer-token authentication: local simplejwt tokens and tokens of an outside identity provider.

Which of the two a token is, is decided by the key that verifies its signature, never by a
claim the token carries:

- the **local** key signs this server's own tokens: the HS256 secret (CODEAI_JWT_SECRET, else
  SECRET_KEY), or, when CODEAI_JWT_PRIVATE_KEY is set, its public half CODEAI_JWT_PUBLIC_KEY
  (RS256; then HS256 is refused). A local token names a local user by ``user_id``; roles
  come from that user's groups.
- **outside** keys: CODEAI_JWT_PUBLIC_KEY when there is no local private key (the algorithms
  of its key type), and the key named by the token's ``kid`` in the JWKS document at
  CODEAI_JWT_JWKS_URL (that key's algorithm). An outside token never maps to a local account,
  whatever its ``user_id`` or name: its user is a stateless :class:`ExternalUser` named
  ``preferred_username`` (else ``sub``) ``@`` issuer, with exactly the roles of the
  CODEAI_JWT_ROLES_CLAIM claim.

A local user and its roles are kept up to 30 s in the shared store, removed by every change
of the user or its groups (codeai.kernel.api.token_users).

One decoder for both, so each failure gets its own message (expired, wrong issuer, wrong
audience, bad signature, algorithm not allowed) instead of simplejwt's generic one.
``alg: none`` and every algorithm no configured key has are refused; CODEAI_JWT_ISSUER and
CODEAI_JWT_AUDIENCE are enforced when set; CODEAI_JWT_LEEWAY seconds of clock skew are allowed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from codeai.kernel import roles
from codeai.kernel.api import jwks, token_users

RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = ("ES256", "ES384", "ES512")
PUBLIC_KEY_ALGORITHMS = (*RSA_ALGORITHMS, *EC_ALGORITHMS, "EdDSA")
# Shown after the name of an outside user whose token has no ``iss`` claim.
UNNAMED_ISSUER = "external"


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


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    local: bool


@dataclass(frozen=True)
class _Key:
    key: Any
    algorithms: tuple[str, ...]
    local: bool


def _fail(message: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(message, code="token_not_valid")


def _local_key() -> _Key:
    signing = jwt_settings.ALGORITHM
    if signing == "HS256":
        return _Key(settings.JWT_HMAC_KEY, ("HS256",), local=True)
    return _Key(jwt_settings.VERIFYING_KEY, (signing,), local=True)


@functools.cache
def _algorithms_of(pem: str) -> tuple[str, ...]:
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        return ()
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return EC_ALGORITHMS
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("EdDSA",)
    return ()


def _outside_public_key() -> _Key | None:
    """CODEAI_JWT_PUBLIC_KEY, unless it is the public half of the local key pair."""
    if not settings.JWT_PUBLIC_KEY or jwt_settings.ALGORITHM != "HS256":
        return None
    return _Key(settings.JWT_PUBLIC_KEY, _algorithms_of(settings.JWT_PUBLIC_KEY), local=False)


def _jwks_key(header: dict[str, Any]) -> _Key:
    try:
        found = jwks.signing_key(settings.JWT_JWKS_URL, header.get("kid"))
    except jwks.KeyNotFound as missing:
        if missing.fetch_failed:
            raise _fail("token signing keys cannot be fetched from the JWKS URL") from None
        raise _fail("token signing key is not in the JWKS document") from None
    return _Key(found.key, (found.algorithm,), local=False)


def _candidate_keys(header: dict[str, Any], algorithm: str) -> Iterator[_Key]:
    """Keys that may have signed a token of ``algorithm``: local first, the JWKS last (it may
    need a fetch)."""
    for key in (_local_key(), _outside_public_key()):
        if key is not None and algorithm in key.algorithms:
            yield key
    if settings.JWT_JWKS_URL and algorithm in PUBLIC_KEY_ALGORITHMS:
        key = _jwks_key(header)
        if algorithm in key.algorithms:
            yield key


def _not_allowed(algorithm: str) -> exceptions.AuthenticationFailed:
    if (
        algorithm in PUBLIC_KEY_ALGORITHMS
        and not settings.JWT_PUBLIC_KEY
        and not settings.JWT_JWKS_URL
    ):
        return _fail(f"token algorithm {algorithm!r} is not allowed: no public key is configured")
    return _fail(f"token algorithm {algorithm!r} is not allowed")


def _decode(raw_token: str, key: Any, algorithm: str) -> dict[str, Any]:
    """Claims of a token whose signature ``key`` verifies; InvalidSignatureError otherwise."""
    issuer, audience = settings.SIMPLE_JWT.get("ISSUER"), settings.SIMPLE_JWT.get("AUDIENCE")
    try:
        return jwt.decode(
            raw_token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            leeway=settings.SIMPLE_JWT["LEEWAY"],
            options={"require": ["exp"], "verify_aud": audience is not None},
        )
    except jwt.InvalidSignatureError:
        raise
    except jwt.ExpiredSignatureError:
        raise _fail("token has expired") from None
    except jwt.InvalidIssuerError:
        raise _fail("token has the wrong issuer") from None
    except jwt.InvalidAudienceError:
        raise _fail("token has the wrong audience") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _fail(f"token lacks the {exc.claim!r} claim") from None
    except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError):
        raise _fail(f"token algorithm {algorithm!r} does not match the configured key") from None
    except jwt.InvalidTokenError:
        raise _fail("token is invalid") from None


def verify_token(raw_token: str) -> VerifiedToken:
    """Verify a bearer token: its claims, and whether the local key signed it.
    AuthenticationFailed says what is wrong."""
    try:
        header = jwt.get_unverified_header(raw_token)
    except jwt.InvalidTokenError:
        raise _fail("token is malformed") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm.lower() == "none":
        raise _fail("token is unsigned (alg: none is not allowed)")
    tried = False
    for key in _candidate_keys(header, algorithm):
        tried = True
        try:
            claims = _decode(raw_token, key.key, algorithm)
        except jwt.InvalidSignatureError:
            continue
        token_type = claims.get(jwt_settings.TOKEN_TYPE_CLAIM)
        if token_type is not None and token_type != "access":
            raise _fail("token is not an access token")
        return VerifiedToken(claims, key.local)
    if not tried:
        raise _not_allowed(algorithm)
    raise _fail("token signature is invalid")


def local_user(claims: dict[str, Any]) -> Any:
    """The active local user a token signed by this server names; AuthenticationFailed else."""
    if jwt_settings.USER_ID_CLAIM not in claims:
        raise _fail(f"token lacks the {jwt_settings.USER_ID_CLAIM!r} claim")
    user_id = claims[jwt_settings.USER_ID_CLAIM]
    if not isinstance(user_id, int | str) or isinstance(user_id, bool):
        raise _fail(f"token has a malformed {jwt_settings.USER_ID_CLAIM!r} claim")
    # Kept only under the id as this server issues it (the integer primary key, in decimal),
    # so that one user has one entry, the one its changes remove.
    keepable = jwt_settings.USER_ID_FIELD == "id" and str(user_id) == _canonical_id(user_id)
    if keepable and (user := token_users.cached_user(user_id)) is not None:
        return user
    try:
        user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
    except (ValueError, TypeError, OverflowError):
        raise _fail(f"token has a malformed {jwt_settings.USER_ID_CLAIM!r} claim") from None
    if user is None or not user.is_active:
        raise _fail("token user does not exist or is inactive")
    if keepable:
        token_users.keep(user)
    return user


def _canonical_id(user_id: int | str) -> str | None:
    """The decimal spelling of an integer id ("7", 7), None for any other."""
    if isinstance(user_id, str) and not (user_id.isascii() and user_id.isdigit()):
        return None
    try:
        return str(int(user_id))
    except (ValueError, OverflowError):
        return None


def outside_username(claims: dict[str, Any]) -> str:
    """``name@issuer``: an issuer is a URL or at least a name of its own, so the result
    cannot be taken for a local username of the same name."""
    name = claims.get("preferred_username") or claims.get("sub")
    if not isinstance(name, str) or not name:
        raise _fail("token names no user (no 'preferred_username' or 'sub' claim)")
    issuer = claims.get("iss")
    return f"{name}@{issuer if isinstance(issuer, str) and issuer else UNNAMED_ISSUER}"


def _outside_user(claims: dict[str, Any]) -> ExternalUser:
    token_roles = roles.roles_from_claim(claims.get(settings.JWT_ROLES_CLAIM))
    return ExternalUser(outside_username(claims), token_roles)


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
        token = verify_token(raw_token)
        if token.local:
            return local_user(token.claims), token.claims
        return _outside_user(token.claims), token.claims

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
