"""Every metric family of the guide on /metrics, after real requests, queries and executions."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from codeai.kernel import outbound
from configs.models import Config
from deployments.models import Deployment
from duties.models import PeriodicDuty
from executions import services
from executions.metrics import QUEUE_LEASE, QueueCollector
from executions.models import Execution, ExecutionStatus
from tests.observability.conftest import (
    PYTHON,
    ROOT,
    Samples,
    app_env,
    free_port,
    parse_samples,
    sample,
)

pytestmark = pytest.mark.django_db


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse_samples(response.content.decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return sample(samples, name, **labels) or 0.0


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    user = User.objects.create_superuser("metrics-admin", password="pw-metrics-admin")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def test_http_metrics_label_route_patterns_not_urls(client, api):
    before = scrape(client)
    for _ in range(2):
        assert api.get(f"/api/v1/configs/{uuid.uuid4()}/").status_code == 404
    body = json.dumps({"name": "metrics", "content": 'exec { echo "hi" }\n'})
    assert api.post("/api/v1/configs/", body, content_type="application/json").status_code == 201
    assert client.get("/no/such/page/").status_code == 404
    after = scrape(client)

    detail = {"method": "GET", "path": "/api/v1/configs/{id}/"}
    create = {"method": "POST", "path": "/api/v1/configs/"}
    requests_total = "codeai_http_requests_total"
    assert (
        value(after, requests_total, **detail, status_code="404")
        - value(before, requests_total, **detail, status_code="404")
        == 2
    )
    assert (
        value(after, requests_total, **create, status_code="201")
        - value(before, requests_total, **create, status_code="201")
        == 1
    )
    assert value(after, requests_total, method="GET", path="<unmatched>", status_code="404") >= 1
    for name in ("duration_seconds", "size_bytes"):
        count = f"codeai_http_request_{name}_count"
        assert value(after, count, **detail) - value(before, count, **detail) == 2
    size_sum = "codeai_http_request_size_bytes_sum"
    assert value(after, size_sum, **create) - value(before, size_sum, **create) == len(body)
    response_count = "codeai_http_response_size_bytes_count"
    assert value(after, response_count, **create) - value(before, response_count, **create) == 1
    # No raw URL with an id ever becomes a label value.
    paths = {dict(labels).get("path", "") for _, labels in after}
    assert not any(len(part) == 36 for path in paths for part in path.split("/"))


def test_active_requests_counts_the_scrape_in_flight(client):
    assert sample(scrape(client), "codeai_http_active_requests") == 1


def test_database_query_and_error_metrics(client):
    before = scrape(client)
    Deployment.objects.create(name="duplicate")
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(name="duplicate")
    list(Deployment.objects.all())
    after = scrape(client)

    for operation in ("insert", "select"):
        queries = "codeai_db_queries_total"
        assert value(after, queries, operation=operation) > value(
            before, queries, operation=operation
        )
        durations = "codeai_db_query_duration_seconds_count"
        assert value(after, durations, operation=operation) > value(
            before, durations, operation=operation
        )
    errors = "codeai_db_query_errors_total"
    assert (
        value(after, errors, error_type="IntegrityError")
        - value(before, errors, error_type="IntegrityError")
        == 1
    )
    assert sample(after, "codeai_db_connections_active") is not None
    assert sample(after, "codeai_db_connections_idle") is not None


def test_nothing_is_measured_twice(client, api):
    """One metrics layer: requests and queries are the guide's codeai_* series only;
    django-prometheus adds its cache figures (django_cache_*), nothing it measures again."""
    assert api.get("/api/v1/configs/").status_code == 200
    list(Deployment.objects.all())
    families = {name for name, _labels in scrape(client)}
    assert {"codeai_http_requests_total", "codeai_db_queries_total"} <= families
    doubles = sorted(name for name in families if name.startswith(("django_http", "django_db")))
    assert not doubles


@pytest.mark.django_db(transaction=True)  # each turn closes the connection (back to the pool)
def test_a_query_is_counted_once_however_often_its_pooled_connection_is_reused():
    # django-prometheus's PostgreSQL backend wrapped a pooled connection's cursor factory
    # again at every checkout: the same SELECT counted 1, 1, 2, 2... (why it is not used).
    def selects() -> float:
        value = REGISTRY.get_sample_value("codeai_db_queries_total", {"operation": "select"})
        return value or 0.0

    for _turn in range(6):
        before = selects()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert selects() - before == 1
        connection.close()


def _moves(samples_before: Samples, samples_after: Samples, name: str, **labels: str) -> float:
    return value(samples_after, name, **labels) - value(samples_before, name, **labels)


def _execute_and_cancel_then_roll_back(deployment: Deployment) -> None:
    with transaction.atomic():
        execution = services.deployment_execute(deployment=deployment, user=None)
        services.execution_cancel(execution=execution, user=None)
        raise RuntimeError("the caller's transaction rolls back: nothing counted")


@pytest.mark.django_db(transaction=True)  # moves are counted on commit
def test_workflow_metrics_are_recorded_where_the_status_moves(client, settings):
    """Each move counted once by the process making it (this one), after its commit."""
    settings.EXEC_SANDBOX = "off"
    config = Config.objects.create(name="metrics-run", content="exec { true }\nexec { true }\n")
    build = Deployment.objects.create(name="build", config=config)
    before = scrape(client)

    ran = services.deployment_execute(deployment=build, user=None)
    cancelled = services.deployment_execute(deployment=build, user=None)
    services.execution_cancel(execution=cancelled, user=None)
    with pytest.raises(RuntimeError, match="rolls back"):
        _execute_and_cancel_then_roll_back(build)
    assert (
        services.execution_claim(execution_id=ran.pk, worker="here") is services.ClaimResult.CLAIMED
    )
    outcome = services.execution_run(execution_id=str(ran.pk))
    assert outcome.status == ExecutionStatus.SUCCEEDED
    after = scrape(client)

    executions = "codeai_workflow_executions_total"
    expected = {"queued": 2, "running": 1, "succeeded": 1, "cancelled": 1}
    for status in ExecutionStatus.values:
        assert _moves(before, after, executions, status=status) == expected.get(status, 0), status
    duration = "codeai_workflow_execution_duration_seconds_count"
    assert _moves(before, after, duration, status="succeeded") == 1
    assert _moves(before, after, duration, status="cancelled") == 0  # it never started
    assert _moves(before, after, "codeai_workflow_step_duration_seconds_count") == 2
    # Nothing runs now: the live gauge went up for the run and down after it.
    assert sample(after, "codeai_workflow_active_count", workflow_name="build") == 0


def test_queue_gauges_come_from_the_one_lease_holder():
    build = Deployment.objects.create(name="build")
    queued = Execution.objects.create(deployment=build)
    Execution.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    Execution.objects.create(deployment=build, status=ExecutionStatus.RUNNING)
    first, second = QueueCollector("worker-a pid 1"), QueueCollector("worker-b pid 2")

    families = {family.name: family for family in first.collect()}
    assert families["codeai_workflow_queued_count"].samples[0].value == 1
    age = families["codeai_workflow_oldest_queued_age_seconds"].samples[0].value
    assert 120 <= age < 180
    assert list(second.collect()) == []  # the lease is held: the other worker exports nothing
    assert len(list(first.collect())) == 2  # the holder keeps it by asking again
    lapsed = timezone.now() - timedelta(seconds=2)
    PeriodicDuty.objects.filter(name=QUEUE_LEASE).update(next_run_at=lapsed)
    assert len(list(second.collect())) == 2  # lapsed (its holder stopped asking): taken over
    assert list(first.collect()) == []


# --- Integrations: real outbound HTTP calls to a local server ---------------------------------
class _JWKSHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"keys": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _JWKSHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def test_integration_calls_errors_retries_and_circuit_breaker(client, jwks_url):
    service = f"jwks-{uuid.uuid4().hex[:8]}"
    breaker = outbound.circuit_breaker(service, failure_threshold=2, reset_after=0.3)
    dead_url = f"http://127.0.0.1:{free_port()}/jwks.json"

    @outbound.track_integration_call(service)
    def fetch(url: str) -> dict:
        response = requests.get(url, timeout=2)
        response.raise_for_status()
        return response.json()

    assert fetch(jwks_url) == {"keys": []}
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            fetch(dead_url)
        outbound.record_integration_retry(service)
    assert breaker.state == "open"
    with pytest.raises(outbound.CircuitOpenError):
        fetch(jwks_url)  # refused without calling while open
    open_samples = scrape(client)
    time.sleep(0.35)
    assert fetch(jwks_url) == {"keys": []}  # half-open trial succeeds: closed again
    samples = scrape(client)

    assert sample(samples, "codeai_integration_calls_total", service_name=service, status="success")
    assert value(samples, "codeai_integration_calls_total", service_name=service, status="error")
    assert (
        value(samples, "codeai_integration_calls_total", service_name=service, status="rejected")
        == 1
    )
    assert value(samples, "codeai_integration_errors_total", service_name=service,
                 error_type="ConnectionError") == 2  # fmt: skip
    assert value(samples, "codeai_integration_retries_total", service_name=service) == 2
    assert (
        value(samples, "codeai_integration_call_duration_seconds_count", service_name=service) == 4
    )
    state = "codeai_integration_circuit_breaker_state"
    assert sample(open_samples, state, service_name=service, state="open") == 1
    assert sample(samples, state, service_name=service, state="open") == 0
    assert sample(samples, state, service_name=service, state="closed") == 1


# --- Settings: CODEAI_METRICS_ENABLED, _PATH, _PROCESS, _RUNTIME ---------------------------------
PROBE_SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
print(json.dumps({path: [r.status_code, r.content.decode()] for path in ("/metrics", "/internal/m")
                  for r in [client.get(path)]}))
"""


def _endpoints(**env: str) -> dict[str, tuple[int, str]]:
    result = subprocess.run(
        [PYTHON, "-c", PROBE_SCRIPT],
        cwd=ROOT,
        env=app_env(DJANGO_SETTINGS_MODULE="codeai.settings", **env),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_metrics_settings_switch_the_endpoint_and_collectors():
    variants = {
        "default": {},
        "disabled": {"CODEAI_METRICS_ENABLED": "false"},
        "moved": {"CODEAI_METRICS_PATH": "/internal/m"},
        "bare": {"CODEAI_METRICS_PROCESS": "false", "CODEAI_METRICS_RUNTIME": "false"},
        "renamed": {"CODEAI_METRICS_NAMESPACE": "acme"},
    }
    with ThreadPoolExecutor(max_workers=len(variants)) as pool:  # one process each, at once
        futures = {name: pool.submit(_endpoints, **env) for name, env in variants.items()}
        answers = {name: future.result() for name, future in futures.items()}

    default = answers["default"]["/metrics"]
    assert default[0] == 200
    assert "process_resident_memory_bytes" in default[1]
    assert "python_gc_collections_total" in default[1]

    assert answers["disabled"]["/metrics"][0] == 404

    assert answers["moved"]["/internal/m"][0] == 200
    assert answers["moved"]["/metrics"][0] == 404

    bare = answers["bare"]["/metrics"][1]
    assert "codeai_http_requests_total" in bare
    assert "process_" not in bare
    assert "python_gc_" not in bare
    assert "python_info" not in bare

    renamed = answers["renamed"]["/metrics"][1]
    assert "acme_http_requests_total" in renamed
    assert "acme_workflow_executions_total" in renamed
    assert "codeai_http_requests_total" not in renamed
