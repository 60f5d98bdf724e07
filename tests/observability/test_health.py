"""/health, /ready and /live as spec/api.md describes them, with dependencies really stopped."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings

from tests.conftest import RABBITMQ_URL, require_service
from tests.observability.conftest import free_port

pytestmark = pytest.mark.django_db

ALL_CHECKS = {"database", "cache", "broker", "disk", "memory", "sandbox"}


def test_health_answers_healthy_with_every_check(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "healthy", body  # the guide's `jq -e '.status == "healthy"'`
    assert set(body) == {"status", "timestamp", "version", "uptime_seconds", "checks"}
    assert body["timestamp"].endswith("Z")
    assert set(body["checks"]) == ALL_CHECKS
    for check in body["checks"].values():
        assert check["status"] == "healthy"
        assert check["duration_ms"] >= 0


def test_ready_runs_only_the_critical_checks_and_live_none(client):
    assert set(client.get("/ready").json()["checks"]) == {"database", "cache"}
    assert set(client.get("/health/ready/").json()["checks"]) == {"database", "cache"}
    live = client.get("/live")
    assert live.status_code == 200
    assert live.json()["checks"] == {}
    assert client.get("/health/live").status_code == 200


@pytest.mark.parametrize("path", ["/health", "/health/", "/ready", "/live/", "/metrics"])
def test_probes_need_no_login_and_accept_any_host(client, path):
    # Kubernetes probes and scrapes address the pod IP, which is not an allowed host.
    response = client.get(path, HTTP_HOST="10.244.3.17:8080")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/health", "/ready", "/live", "/metrics"])
def test_head_is_answered_without_a_body(client, path):
    response = client.head(path)

    assert response.status_code == 200
    assert response.content == b""


def test_other_methods_are_refused(client):
    assert client.post("/health").status_code == 405
    assert client.post("/metrics").status_code == 405


def test_no_secret_appears_in_the_body(client):
    body = client.get("/health").content.decode()

    assert settings.SECRET_KEY not in body
    for secret in filter(None, [settings.CODEAI["CODEAI_DB_PASSWORD"]]):
        assert secret not in body
    assert "://" not in body  # no broker, cache or database URL


def test_missing_filesystem_broker_folder_degrades(client, settings):
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.skip("the embedded default's filesystem broker is not in use")
    folder = settings.BROKER_FOLDER / "out"
    folder.rename(folder.with_name("out-moved"))
    try:
        response = client.get("/health")
    finally:
        folder.with_name("out-moved").rename(folder)

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "unhealthy"
    assert (
        body["checks"]["broker"]["error"]
        == "broker folder data_folder_in is missing or not writable"
    )


# --- Real services stopped for real (own throwaway instances on this suite's ports) ----------
def _health(server, path="/health"):
    start = time.monotonic()
    status, _, body = server.get(path)
    return status, json.loads(body), time.monotonic() - start


@pytest.mark.slow
def test_stopped_services_turn_health_degraded_then_unhealthy(
    server_factory, throwaway_postgres, throwaway_redis, tmp_path
):
    from tests.observability.conftest import Redis

    broker = Redis()
    broker.start()
    try:
        server = server_factory(
            CODEAI_DB_HOST="127.0.0.1",
            CODEAI_DB_PORT=str(throwaway_postgres.port),
            CODEAI_DB_USER="postgres",
            CODEAI_DB_NAME="postgres",
            CODEAI_CACHE_TYPE="redis",
            CODEAI_REDIS_URL=throwaway_redis.url,
            CODEAI_CELERY_BROKER_URL=broker.url + "/1",
        )
        status, body, _ = _health(server)
        assert (status, body["status"]) == (200, "healthy"), body

        broker.stop()
        status, body, elapsed = _health(server)
        assert (status, body["status"]) == (200, "degraded"), body
        assert body["checks"]["broker"]["status"] == "unhealthy"
        assert body["checks"]["database"]["status"] == "healthy"
        assert elapsed < 3
        assert _health(server, "/ready")[:2][0] == 200

        throwaway_redis.stop()
        status, body, elapsed = _health(server)
        assert (status, body["status"]) == (503, "unhealthy"), body
        assert body["checks"]["cache"]["status"] == "unhealthy"
        assert elapsed < 3

        throwaway_redis.start()
        throwaway_postgres.freeze()  # hangs: the check's deadline answers
        try:
            status, body, elapsed = _health(server)
        finally:
            throwaway_postgres.thaw()
        assert (status, body["status"]) == (503, "unhealthy"), body
        assert body["checks"]["database"]["error"] == "timed out after 2s"
        assert elapsed < 3, f"/health took {elapsed:.2f}s with PostgreSQL hanging"

        throwaway_postgres.stop()
        status, body, elapsed = _health(server)
        assert (status, body["status"]) == (503, "unhealthy"), body
        assert body["checks"]["database"]["status"] == "unhealthy"
        assert elapsed < 3, f"/health took {elapsed:.2f}s with PostgreSQL stopped"
        assert _health(server, "/ready")[0] == 503
        assert _health(server, "/live")[0] == 200  # the process itself still serves

        throwaway_postgres.start()
        deadline = time.monotonic() + 15
        while _health(server)[1]["status"] == "unhealthy" and time.monotonic() < deadline:
            time.sleep(0.2)
        status, body, _ = _health(server)
        assert body["checks"]["database"]["status"] == "healthy", body
        assert body["status"] == "degraded"  # the broker is still down
    finally:
        broker.stop()


@pytest.mark.parametrize("reachable", [True, False], ids=["rabbitmq-up", "amqp-port-closed"])
def test_amqp_broker_check(server_factory, reachable):
    if reachable:
        require_service("rabbitmq")
        url = RABBITMQ_URL
    else:
        url = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    server = server_factory(CODEAI_CELERY_BROKER_URL=url)

    status, body, elapsed = _health(server)

    assert body["checks"]["broker"]["status"] == ("healthy" if reachable else "unhealthy"), body
    assert body["status"] == ("healthy" if reachable else "degraded")
    assert status == 200
    assert elapsed < 3
    assert "guest" not in json.dumps(body)


def test_health_warns_when_exec_steps_run_unsandboxed(client, settings):
    settings.EXEC_SANDBOX = "off"
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["sandbox"]["status"] == "unhealthy"
    assert body["checks"]["sandbox"]["error"] == (
        "exec steps run unsandboxed (CODEAI_EXEC_SANDBOX=off)"
    )
    assert set(client.get("/ready").json()["checks"]) == {"database", "cache"}


def test_health_warns_when_bwrap_is_missing(client, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    body = client.get("/health").json()

    assert body["status"] == "degraded"
    assert body["checks"]["sandbox"]["error"] == (
        "bwrap is not installed: executions fail with 'sandbox unavailable'"
    )
