"""Bearer tokens: local HS256, RS256 with a key pair, keys from a JWKS URL, issuer and
audience, expiry, alg none, forgeries, roles from the claim; the token endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from prometheus_client import REGISTRY
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from codeai.kernel import outbound
from codeai.kernel.api import jwks as jwks_store
from configs.models import Config
from deployments.services import deployment_create
from executions.models import Execution
from tests.api.conftest import VALID_CONTENT, make_user, run_fresh

CONFIGS = "/api/v1/configs/"
JWKS_PORTS = range(18150, 18160)


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return private_key()


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "carol", "iat": now, "exp": now + 300, **extra}


def local_claims(user, **extra: Any) -> dict[str, Any]:
    return claims(user_id=user.pk, token_type="access", jti="x", **extra)


def hs256(payload: dict[str, Any], key: str | None = None) -> str:
    return jwt.encode(payload, key or settings.JWT_HMAC_KEY, algorithm="HS256")


def rs256(payload: dict[str, Any], key: rsa.RSAPrivateKey, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers=headers or None)


def get(token: str, url: str = CONFIGS):
    return APIClient().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def post_config(token: str):
    return APIClient().post(
        CONFIGS,
        {"name": "from-token", "content": VALID_CONTENT},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def assert_401(response, message: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json() == {"error": message}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def viewer(db):
    return make_user("viewer")


@pytest.fixture
def outside_idp(settings, idp_key):
    settings.JWT_PUBLIC_KEY = public_pem(idp_key)
    return idp_key


# --- Local tokens ----------------------------------------------------------------------


def test_local_hs256_token_of_a_viewer_reads(viewer):
    assert get(hs256(local_claims(viewer))).status_code == 200


def test_simplejwt_access_token_works(viewer):
    assert get(str(RefreshToken.for_user(viewer).access_token)).status_code == 200


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda u: hs256(local_claims(u), key="x" * 40), "token signature is invalid"),
        (lambda u: hs256(local_claims(u, exp=int(time.time()) - 120)), "token has expired"),
        (
            lambda u: jwt.encode(local_claims(u), None, algorithm="none"),
            "token is unsigned (alg: none is not allowed)",
        ),
        (lambda u: hs256({"user_id": u.pk, "token_type": "access"}), "token lacks the 'exp' claim"),
        (lambda u: str(RefreshToken.for_user(u)), "token is not an access token"),
        (lambda u: "not.a.token", "token is malformed"),
        (
            lambda u: jwt.encode(local_claims(u), "x" * 40, algorithm="HS512"),
            "token algorithm 'HS512' is not allowed",
        ),
    ],
    ids=["forged", "expired", "alg-none", "no-exp", "refresh-as-access", "garbage", "hs512"],
)
def test_bad_tokens_are_401_saying_why(viewer, make_token, message):
    assert_401(get(make_token(viewer)), message)


def test_token_of_an_inactive_user_is_401(viewer):
    viewer.is_active = False
    viewer.save()

    assert_401(get(hs256(local_claims(viewer))), "token user does not exist or is inactive")


def test_token_in_the_query_string_is_ignored(viewer):
    response = APIClient().get(f"{CONFIGS}?token={hs256(local_claims(viewer))}")

    assert_401(response, "authentication required")


@pytest.mark.parametrize(
    ("configured", "token_claims", "message"),
    [
        (
            {"ISSUER": "https://idp.example"},
            {"iss": "https://evil.example"},
            "token has the wrong issuer",
        ),
        ({"ISSUER": "https://idp.example"}, {}, "token lacks the 'iss' claim"),
        ({"AUDIENCE": "codeai"}, {"aud": "other-app"}, "token has the wrong audience"),
        ({"AUDIENCE": "codeai"}, {}, "token lacks the 'aud' claim"),
    ],
    ids=["wrong-issuer", "no-issuer", "wrong-audience", "no-audience"],
)
def test_issuer_and_audience_are_enforced_when_set(
    settings, viewer, configured, token_claims, message
):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, **configured}

    assert_401(get(hs256(local_claims(viewer, **token_claims))), message)


def test_matching_issuer_and_audience_are_accepted(settings, viewer):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": "https://idp", "AUDIENCE": "codeai"}

    token = hs256(local_claims(viewer, iss="https://idp", aud=["codeai", "other"]))

    assert get(token).status_code == 200


# --- Tokens of an outside identity provider (RS256) --------------------------------------


@pytest.mark.parametrize(
    "roles_claim",
    [["editor"], "viewer editor", ["admin", "unknown"]],
    ids=["list", "string", "extra"],
)
def test_outside_user_is_accepted_statelessly_with_the_claims_roles(outside_idp, db, roles_claim):
    token = rs256(claims(roles=roles_claim), outside_idp)

    assert post_config(token).status_code == 201
    assert not User.objects.filter(username="carol").exists()


def test_outside_user_gets_exactly_the_claims_roles(outside_idp, db):
    token = rs256(claims(roles=["viewer"]), outside_idp)

    assert get(token).status_code == 200
    response = post_config(token)
    assert response.status_code == 403
    assert response.json() == {"error": "insufficient permissions"}


def test_outside_user_without_roles_is_403(outside_idp, db):
    assert get(rs256(claims(), outside_idp)).status_code == 403


def test_roles_claim_name_is_configurable(settings, outside_idp, db):
    settings.JWT_ROLES_CLAIM = "groups"
    token = rs256(claims(groups=["editor"], roles=["viewer"]), outside_idp)

    assert post_config(token).status_code == 201


def test_outside_user_named_like_a_local_user_is_not_that_user(outside_idp, db):
    make_user("admin", username="carol")
    deployment = deployment_create(
        name="d", config=Config.objects.create(name="c", content=VALID_CONTENT)
    )

    response = APIClient().post(
        f"/api/v1/deployments/{deployment.pk}/execute/",
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {rs256(claims(roles=['editor']), outside_idp)}",
    )

    assert response.status_code == 202
    execution = Execution.objects.get()
    assert (execution.triggered_by, execution.triggered_by_name) == (None, "carol@external")
    admin_only = APIClient().delete(
        f"/api/v1/deployments/{deployment.pk}/",
        HTTP_AUTHORIZATION=f"Bearer {rs256(claims(roles=['editor']), outside_idp)}",
    )
    assert admin_only.status_code == 403


def test_outside_user_executions_record_the_name_qualified_by_the_issuer(outside_idp, deployment):
    token = rs256(
        claims(sub="id-123", preferred_username="dave", iss="https://idp", roles="editor"),
        outside_idp,
    )

    response = APIClient().post(
        f"/api/v1/deployments/{deployment.pk}/execute/",
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 202
    assert response.json()["triggered_by"] == "dave@https://idp"
    execution = Execution.objects.get()
    assert (execution.triggered_by, execution.triggered_by_name) == (None, "dave@https://idp")


def test_outside_token_with_a_user_id_is_not_that_local_user(outside_idp, db):
    superuser = make_user("superuser")

    token = rs256(claims(user_id=superuser.pk, roles=[]), outside_idp)

    assert get(token).status_code == 403


def test_local_token_without_a_user_id_is_401(viewer):
    assert_401(get(hs256(claims(token_type="access"))), "token lacks the 'user_id' claim")


def test_rs256_signed_by_another_key_is_401(outside_idp, db):
    assert_401(get(rs256(claims(roles=["admin"]), private_key())), "token signature is invalid")


def test_rs256_without_a_configured_public_key_is_401(idp_key, db):
    assert_401(
        get(rs256(claims(roles=["admin"]), idp_key)),
        "token algorithm 'RS256' is not allowed: no public key is configured",
    )


def test_hs256_signed_with_the_public_key_is_401(outside_idp, db):
    # The algorithm-confusion attack: the public key used as an HMAC secret.
    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    signed = part({"alg": "HS256", "typ": "JWT"}) + b"." + part(claims(roles=["admin"]))
    mac = hmac.new(public_pem(outside_idp).encode(), signed, hashlib.sha256).digest()
    forged = signed + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")

    assert_401(get(forged.decode()), "token signature is invalid")


# --- Keys from a JWKS URL ------------------------------------------------------------------


def serve_json(document: dict[str, Any]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    for port in JWKS_PORTS:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError:
            continue
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server, f"http://127.0.0.1:{port}/.well-known/jwks.json"
    raise RuntimeError(f"no free port in {JWKS_PORTS}")


@pytest.fixture
def jwks(settings, idp_key, db) -> Iterator[str]:
    # The kept document and the cooldown live in the shared cache, cleared before each test.
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(idp_key.public_key()))
    server, url = serve_json({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})
    settings.JWT_JWKS_URL = url
    yield url
    server.shutdown()
    server.server_close()


def test_key_from_the_jwks_document(jwks, idp_key, db):
    token = rs256(claims(roles=["viewer"]), idp_key, kid="key-1")

    assert get(token).status_code == 200


def test_unknown_kid_is_401(jwks, idp_key, db):
    token = rs256(claims(roles=["viewer"]), idp_key, kid="key-2")

    assert_401(get(token), "token signing key is not in the JWKS document")


def test_unreachable_jwks_url_is_401(settings, idp_key, db):
    settings.JWT_JWKS_URL = f"http://127.0.0.1:{JWKS_PORTS[-1] + 1}/jwks.json"

    token = rs256(claims(roles=["viewer"]), idp_key, kid="key-1")

    assert_401(get(token), "token signing keys cannot be fetched from the JWKS URL")


@pytest.fixture
def fresh_circuit_breakers() -> Iterator[None]:
    # Breakers are process-wide; a test that opens one must not leak it into the next.
    outbound._breakers.clear()
    yield
    outbound._breakers.clear()


def test_a_dead_idp_is_asked_once_per_cooldown_and_each_fetch_is_measured(
    settings, idp_key, db, fresh_circuit_breakers
):
    settings.JWT_JWKS_URL = f"http://127.0.0.1:{JWKS_PORTS[-1] + 1}/jwks.json"
    token = rs256(claims(roles=["viewer"]), idp_key, kid="key-1")

    def errors() -> float:
        labels = {"service_name": "jwks", "status": "error"}
        return REGISTRY.get_sample_value("codeai_integration_calls_total", labels) or 0.0

    errors_before = errors()
    for _ in range(5):
        assert_401(get(token), "token signing keys cannot be fetched from the JWKS URL")
    assert errors() == errors_before + 1

    # The cooldown over (its key gone from the shared cache): one more try.
    caches[settings.SHARED_CACHE].delete_many(list(jwks_store._cache_keys(settings.JWT_JWKS_URL)))
    assert_401(get(token), "token signing keys cannot be fetched from the JWKS URL")
    assert errors() == errors_before + 2


# --- Token endpoints and session login ---------------------------------------------------


def test_obtain_refresh_and_verify(viewer):
    client = APIClient()
    pair = client.post(
        "/api/auth/token/", {"username": "viewer-user", "password": "pw-viewer-user"}, format="json"
    )
    assert pair.status_code == 200
    assert set(pair.json()) == {"access", "refresh"}

    refreshed = client.post(
        "/api/auth/token/refresh", {"refresh": pair.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert get(refreshed.json()["access"]).status_code == 200

    verified = client.post(
        "/api/auth/token/verify/", {"token": pair.json()["access"]}, format="json"
    )
    assert verified.status_code == 200


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        ("/api/auth/token/", {"username": "viewer-user", "password": "wrong"}, 401),
        ("/api/auth/token/", {"username": 123, "password": "pw-viewer-user"}, 400),
        ("/api/auth/token/", ["viewer-user"], 400),
        ("/api/auth/token/refresh/", {"refresh": "garbage"}, 401),
        ("/api/auth/token/refresh/", {"refresh": 1}, 400),
        ("/api/auth/token/verify/", {"token": "garbage"}, 401),
        ("/api/auth/token/verify/", {}, 400),
    ],
)
def test_token_endpoints_refuse_bad_input(viewer, url, body, status):
    response = APIClient().post(url, body, format="json")

    assert response.status_code == status
    assert response.json()["error"]


def test_refresh_for_a_deleted_user_is_401(viewer):
    refresh = str(RefreshToken.for_user(viewer))
    viewer.delete()

    response = APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")

    assert response.status_code == 401


def test_browsable_api_with_a_session_login(viewer):
    client = APIClient()
    client.force_login(viewer)

    response = client.get(CONFIGS, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


# --- Local tokens signed with a key pair (settings read at start-up: a fresh process) -----

SIGN_AND_VERIFY = """
import django, jwt
django.setup()
from rest_framework_simplejwt.tokens import AccessToken
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from codeai.kernel.api.authentication import verify_token
token = AccessToken()
token["user_id"] = 7
verified = verify_token(str(token))
print(jwt.get_unverified_header(str(token))["alg"], verified.claims["user_id"], verified.local)
hs256 = jwt.encode(dict(token.payload), settings.JWT_HMAC_KEY, algorithm="HS256")
try:
    verify_token(hs256)
except AuthenticationFailed as refused:
    print(refused.detail)
"""


def test_local_tokens_are_rs256_with_a_configured_key_pair(tmp_path, idp_key):
    private_pem = idp_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()

    result = run_fresh(
        ["-c", SIGN_AND_VERIFY],
        tmp_path,
        CODEAI_JWT_PRIVATE_KEY=private_pem,
        CODEAI_JWT_PUBLIC_KEY=public_pem(idp_key),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["RS256 7 True", "token algorithm 'HS256' is not allowed"]


def test_a_private_key_without_its_public_key_stops_start_up(tmp_path):
    result = run_fresh(
        ["-c", "import django; django.setup()"], tmp_path, CODEAI_JWT_PRIVATE_KEY="-----BEGIN…"
    )

    assert result.returncode == 1
    assert "CODEAI_JWT_PRIVATE_KEY needs CODEAI_JWT_PUBLIC_KEY" in result.stderr
