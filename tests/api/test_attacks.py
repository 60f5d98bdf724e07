"""Each attack of issue 11 against a real gunicorn (two worker processes) on the test database:
outside tokens posing as local users, throttles dodged with X-Forwarded-For, password guessing
on the admin login, JWKS fetch amplification, refresh-token reuse, tokens of inactive users,
and the Content-Security-Policy.

The server trusts 127.0.0.2 as a proxy: requests sent from that loopback address stand for a
proxy's, requests from 127.0.0.1 for a client's own.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User
from django.test import Client

from configs.services import config_create
from deployments.models import Deployment
from deployments.services import deployment_create
from executions.models import Execution
from tests.api.conftest import VALID_CONTENT
from tests.api.test_authentication import claims, public_pem
from tests.deploy.support import CODEAI
from tests.observability.conftest import app_env, start_server

# Committed rows, so the servers see them. No serialized rollback: the browser test, which runs
# before, leaves the database flushed in a way a restore would collide with; the role groups
# are made again where needed (roles are decided by group name).
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROXY = "127.0.0.2"
AUTH_RATE = 5
ADMIN_FAILURE_LIMIT = 5
PASSWORD = "attack-pw-123456"
ISSUER = "https://idp.example"
INACTIVE = {"error": "token user does not exist or is inactive"}
SERVER_HASHER = PBKDF2PasswordHasher()


class JwksServer:
    """A tiny JWKS provider on a free loopback port that counts the fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        owner = self
        self.fetches = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_server(jwks_key) -> Iterator[JwksServer]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(jwks_key.public_key()))
    provider = JwksServer({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})
    yield provider
    provider.stop()


def start_attacked_server(folder, idp_key, jwks_server):
    return start_server(
        folder,
        workers=2,
        CODEAI_JWT_PUBLIC_KEY=public_pem(idp_key),
        CODEAI_JWT_JWKS_URL=jwks_server.url,
        CODEAI_TRUSTED_PROXIES=f"{PROXY}/32",
        CODEAI_RATE_LIMIT_AUTH=f"{AUTH_RATE}/min",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker, idp_key, jwks_server):
    running = start_attacked_server(tmp_path_factory.mktemp("attacks"), idp_key, jwks_server)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def other_server(tmp_path_factory, server, idp_key, jwks_server):
    """A second gunicorn on the same data folder and database: other processes of one server."""
    running = start_attacked_server(tmp_path_factory.mktemp("attacks"), idp_key, jwks_server)
    yield running
    running.stop()


def call(
    server,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
    form: bool = False,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=15, source_address=(source, 0)
    )
    sent = {"Host": "localhost", **(headers or {})}
    data = None
    if body is not None:
        if form:
            data = "&".join(f"{key}={value}" for key, value in body.items()).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def local_user(username: str, role: str | None = None, **fields: Any) -> User:
    # PBKDF2: the server process does not know the tests' fast MD5 hasher.
    user = User.objects.create(
        username=username, password=SERVER_HASHER.encode(PASSWORD, SERVER_HASHER.salt()), **fields
    )
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def token_pair(server, username: str) -> dict[str, str]:
    status, _, body = call(
        server, "POST", "/api/auth/token/", {"username": username, "password": PASSWORD}
    )
    assert status == 200, body
    return json.loads(body)


def outside_token(key: rsa.RSAPrivateKey, **extra: Any) -> str:
    return jwt.encode(claims(**extra), key, algorithm="RS256")


# --- Outside identities stay outside -------------------------------------------------------


def test_outside_token_with_a_local_user_id_cannot_use_an_admin_route(server, idp_key):
    superuser = local_user("root", is_superuser=True, is_staff=True)
    deployment = deployment_create(
        name="kept", config=config_create(name="c", content=VALID_CONTENT)
    )

    for roles in ([], ["editor"]):
        token = outside_token(idp_key, sub="mallory", user_id=superuser.pk, roles=roles)
        status, _, body = call(
            server, "DELETE", f"/api/v1/deployments/{deployment.pk}/", headers=bearer(token)
        )
        assert status == 403, body
        assert json.loads(body) == {"error": "insufficient permissions"}
    assert Deployment.objects.filter(pk=deployment.pk).exists()


def test_outside_admin_is_not_shown_as_the_local_admin(server, idp_key):
    local_admin = local_user("admin", is_superuser=True, is_staff=True)
    deployment = deployment_create(
        name="web", config=config_create(name="c", content=VALID_CONTENT)
    )
    token = outside_token(
        idp_key, sub="id-1", preferred_username="admin", iss=ISSUER, roles=["editor"]
    )

    status, _, body = call(
        server, "POST", f"/api/v1/deployments/{deployment.pk}/execute/", headers=bearer(token)
    )

    assert status == 202, body
    assert json.loads(body)["triggered_by"] == f"admin@{ISSUER}"
    execution = Execution.objects.get()
    assert (execution.triggered_by, execution.triggered_by_name) == (None, f"admin@{ISSUER}")
    admin_page = Client()
    admin_page.force_login(local_admin)
    listing = admin_page.get("/admin/executions/execution/").content.decode()
    assert f"admin@{ISSUER}" in listing


# --- No header resets a throttle ---------------------------------------------------------


def wrong_password(server, forwarded_for: str, source: str = "127.0.0.1") -> int:
    status, headers, _ = call(
        server,
        "POST",
        "/api/auth/token/",
        {"username": "nobody", "password": "guess"},
        headers={"X-Forwarded-For": forwarded_for},
        source=source,
    )
    if status == 429:
        assert int(headers["Retry-After"]) > 0
    return status


def test_a_rotating_x_forwarded_for_is_still_throttled_by_every_process(server, other_server):
    # Alternating between two gunicorns: one budget for the whole server, not one per process.
    statuses = [
        wrong_password((server, other_server)[n % 2], f"203.0.113.{n}")
        for n in range(AUTH_RATE + 1)
    ]

    assert statuses == [401] * AUTH_RATE + [429]


def test_a_trusted_proxy_s_x_forwarded_for_is_honoured(server):
    # Different clients behind the proxy each have their own budget...
    distinct = [wrong_password(server, f"198.51.100.{n}", PROXY) for n in range(AUTH_RATE + 2)]
    assert distinct == [401] * (AUTH_RATE + 2)

    # ...and a client that prepends made-up hops is still the hop the proxy saw.
    spoofing = [
        wrong_password(server, f"10.9.9.{n}, 192.0.2.7", PROXY) for n in range(AUTH_RATE + 1)
    ]
    assert spoofing == [401] * AUTH_RATE + [429]


# --- Admin login attempts are limited ----------------------------------------------------


def admin_login(server, username: str, password: str, source: str = "127.0.0.1"):
    status, headers, body = call(server, "GET", "/admin/login/", source=source)
    assert status == 200
    csrf_cookie = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    return call(
        server,
        "POST",
        "/admin/login/",
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": form_token.decode(),
            "next": "/admin/",
        },
        headers={"Cookie": f"csrftoken={csrf_cookie}"},
        source=source,
        form=True,
    )


def test_admin_login_locks_a_username_out_and_the_command_unlocks_it(server, other_server):
    local_user("operator", role="admin")

    for _ in range(ADMIN_FAILURE_LIMIT - 1):
        assert admin_login(server, "operator", "wrong")[0] == 200  # the form, with its error
    assert admin_login(server, "operator", PASSWORD)[0] == 302  # 4 failures: still allowed

    for _ in range(ADMIN_FAILURE_LIMIT - 1):
        assert admin_login(server, "operator", "wrong")[0] == 200
    status, _, body = admin_login(server, "operator", "wrong")
    assert status == 429
    assert b"Too many failed logins" in body

    # Locked: the right password too, from another address (the username is locked), on
    # another process of the server.
    status, _, body = admin_login(other_server, "operator", PASSWORD, source=PROXY)
    assert (status, b"Too many failed logins" in body) == (429, True)

    result = subprocess.run(
        [str(CODEAI), "manage", "axes_reset_username", "operator"],
        env=app_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert admin_login(server, "operator", PASSWORD, source=PROXY)[0] == 302


def test_admin_login_locks_an_address_out_whatever_usernames_it_tries(server):
    local_user("victim", role="viewer")

    for n in range(ADMIN_FAILURE_LIMIT):
        status = admin_login(server, f"guess-{n}", "wrong", source=PROXY)[0]
    assert status == 429
    # The address is locked for every username; a client elsewhere is not.
    assert admin_login(server, "victim", PASSWORD, source=PROXY)[0] == 429
    assert admin_login(server, "victim", PASSWORD)[0] == 302


def test_wrong_passwords_on_the_token_endpoint_count_towards_the_admin_lockout(server):
    local_user("api-guessed", role="viewer")

    for n in range(ADMIN_FAILURE_LIMIT):
        status, _, _ = call(
            server,
            "POST",
            "/api/auth/token/",
            {"username": "api-guessed", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            source=PROXY,
        )
        assert status == 401

    assert admin_login(server, "api-guessed", PASSWORD)[0] == 429


# --- JWKS: no fetch amplification, cached keys outlive the provider ----------------------


def test_many_unknown_kids_make_one_jwks_fetch_and_cached_keys_outlive_the_provider(
    server, other_server, jwks_server, jwks_key
):
    fetches_before = jwks_server.fetches
    for n in range(30):
        token = jwt.encode(
            claims(roles=["viewer"]), jwks_key, algorithm="RS256", headers={"kid": uuid.uuid4().hex}
        )
        answering = (server, other_server)[n % 2]
        status, _, body = call(answering, "GET", "/api/v1/configs/", headers=bearer(token))
        assert (status, json.loads(body)) == (
            401,
            {"error": "token signing key is not in the JWKS document"},
        )
    assert jwks_server.fetches - fetches_before == 1

    known = jwt.encode(
        claims(roles=["viewer"]), jwks_key, algorithm="RS256", headers={"kid": "key-1"}
    )
    assert call(server, "GET", "/api/v1/configs/", headers=bearer(known))[0] == 200
    jwks_server.stop()
    for answering in (server, other_server):
        assert call(answering, "GET", "/api/v1/configs/", headers=bearer(known))[0] == 200


# --- Refresh tokens rotate; inactive users' tokens stop ----------------------------------


def refresh(server, token: str) -> tuple[int, dict[str, Any]]:
    status, _, body = call(server, "POST", "/api/auth/token/refresh/", {"refresh": token})
    return status, json.loads(body)


def test_a_used_refresh_token_is_refused(server):
    local_user("rota", role="viewer")
    first = token_pair(server, "rota")["refresh"]

    status, rotated = refresh(server, first)
    assert status == 200
    assert set(rotated) == {"access", "refresh"}
    assert rotated["refresh"] != first

    assert refresh(server, first)[0] == 401
    assert refresh(server, rotated["refresh"])[0] == 200


def test_verify_and_refresh_refuse_tokens_of_an_inactive_user(server):
    user = local_user("leaver", role="viewer")
    pair = token_pair(server, "leaver")
    assert call(server, "POST", "/api/auth/token/verify/", {"token": pair["access"]})[0] == 200

    user.is_active = False
    user.save()

    status, _, body = call(server, "POST", "/api/auth/token/verify/", {"token": pair["access"]})
    assert (status, json.loads(body)) == (
        401,
        {"error": "token user does not exist or is inactive"},
    )
    assert refresh(server, pair["refresh"])[0] == 401
    assert call(server, "GET", "/api/v1/configs/", headers=bearer(pair["access"]))[0] == 401


def test_a_password_change_revokes_the_refresh_tokens(server):
    user = local_user("changer", role="viewer")
    pair = token_pair(server, "changer")

    user.set_password("another-pw-654321")
    user.save()

    assert refresh(server, pair["refresh"])[0] == 401


# --- Content-Security-Policy --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_admin_and_docs_carry_a_content_security_policy(server, path):
    status, headers, body = call(server, "GET", path)

    assert status == 200
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert b"<script>" not in body  # no inline script the policy would block


def test_the_docs_script_is_served_from_this_origin(server):
    status, headers, body = call(server, "GET", "/api/docs/?script=")

    assert status == 200
    assert headers["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in body
