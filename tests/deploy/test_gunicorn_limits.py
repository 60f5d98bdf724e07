"""The limits through the real server ``codeai server start`` runs (gunicorn, one process so
that every client lands on the same one): a 10 KB token, chunked bodies, JSON errors for a
disallowed Host, and ``/live`` answering while a dozen clients trickle their headers."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from codeai import gunicorn_conf
from tests.api.test_authentication import public_pem
from tests.conftest import uses_postgres
from tests.deploy.support import CODEAI, embedded_env, free_port, run_codeai, stop, wait_for_health

# An identity provider's key: a token with many roles is an outside identity's.
IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
MIB = 1024 * 1024
SLOW_CLIENTS = 12

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, str, bytes]:
        """(status, Content-Type, body) of one request on a new connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            connection.request(
                method,
                path,
                body=body,
                headers={"Host": "localhost", **headers},
                encode_chunked=headers.get("Transfer-Encoding") == "chunked",
            )
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if uses_postgres():
        pytest.skip("same child-process environment in both passes: runs in the embedded pass")
    folder = tmp_path_factory.mktemp("gunicorn-limits")
    env = embedded_env(
        folder / "data",
        CODEAI_JWT_PUBLIC_KEY=public_pem(IDP_KEY),
        PROMETHEUS_MULTIPROC_DIR=str(folder / "prom"),
        GUNICORN_CMD_ARGS="--workers 1",
    )
    migrated = run_codeai("server", "migrate", env=env, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log = folder / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(CODEAI), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        status, body = wait_for_health(log, port, process)
        assert status == 200, body
        yield Server(port)
    finally:
        stop(process, timeout=40)


def viewer_token(size: int) -> str:
    """A valid RS256 token of an outside identity, its roles claim padded to ``size`` bytes."""
    claims = {"sub": "alice", "exp": int(time.time()) + 600, "roles": ["viewer"]}
    token = jwt.encode(claims, IDP_KEY, algorithm="RS256")
    team = 0
    while len(token) < size:
        claims["roles"].append(f"team-{team:05}")
        team += 1
        token = jwt.encode(claims, IDP_KEY, algorithm="RS256")
    return token


def chunked(body: bytes, piece: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(body), piece):
        yield body[start : start + piece]


def test_a_10_kb_token_is_accepted(server):
    token = viewer_token(10 * 1024)
    assert 10 * 1024 <= len(token) < gunicorn_conf.MAX_HEADER_FIELD_BYTES

    status, content_type, body = server.request(
        "GET", "/api/v1/configs/", Authorization=f"Bearer {token}"
    )

    assert status == 200, body
    assert content_type == "application/json"
    assert json.loads(body)["count"] == 0


def test_a_chunked_body_is_read_and_one_over_the_limit_is_413(server):
    token = viewer_token(0)
    small = json.dumps({"content": "print(missing)\n"}).encode()
    too_large = b" " * (2 * MIB + 1)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }

    status, _type, body = server.request(
        "POST", "/api/v1/configs/validate/", chunked(small), **headers
    )
    refused, content_type, refusal = server.request(
        "POST", "/api/v1/configs/validate/", chunked(too_large), **headers
    )

    assert status == 200, body
    assert json.loads(body)["valid"] is False
    assert refused == 413
    assert content_type == "application/json"
    assert json.loads(refusal) == {"error": "request body too large: the limit is 2097152 bytes"}


def test_disallowed_host_and_unknown_path_under_api_are_json(server):
    host = server.request("GET", "/api/v1/configs/", Host="evil.example")
    missing = server.request("GET", "/api/v1/nothing/")

    assert host == (400, "application/json", b'{"error": "host not allowed"}')
    assert missing == (404, "application/json", b'{"error": "not found"}')


def trickle(sock: socket.socket, stop_sending: threading.Event) -> None:
    """Send a request's header one byte at a time, never finishing it while the test runs."""
    header = b"GET /live HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"z" * 10_000
    for byte in header:
        if stop_sending.wait(0.2):
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return


def test_live_answers_quickly_while_a_dozen_clients_send_their_headers_slowly(server):
    stop_sending = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(SLOW_CLIENTS)]
    senders = [threading.Thread(target=trickle, args=(s, stop_sending)) for s in sockets]
    for sender in senders:
        sender.start()
    try:
        time.sleep(2)  # every slow client has sent bytes: each holds a thread of the process
        timings = []
        for _ in range(3):
            start = time.monotonic()
            status, _type, _body = server.request("GET", "/live")
            timings.append(time.monotonic() - start)
            assert status == 200
        assert all(sender.is_alive() for sender in senders), "a slow client was dropped"
    finally:
        stop_sending.set()
        for sender in senders:
            sender.join()
        for sock in sockets:
            sock.close()
    assert max(timings) < 2, timings
