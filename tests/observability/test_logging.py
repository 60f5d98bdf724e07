"""Log lines: JSON or text, request ids from the request to the worker, no secrets."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from codeai.kernel.logs import (
    JSONFormatter,
    RequestIdFilter,
    TextFormatter,
    bind_request_id,
    get_request_id,
    redact,
)
from configs.models import Config
from deployments.models import Deployment
from executions.models import Execution, ExecutionStatus
from tests.observability.conftest import (
    PYTHON,
    ROOT,
    app_env,
    free_port,
    http_get,
    parse_samples,
    sample,
)

FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def json_lines(text: str) -> list[dict]:
    """Every line parsed: fails on any line that is not one JSON object."""
    entries = []
    for line in filter(str.strip, text.splitlines()):
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
    return entries


def format_record(
    formatter: logging.Formatter, message: str, *args, exc_info: bool = False, **extra
) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"tests.observability.{id(formatter)}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(message, *args, exc_info=exc_info, extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


# --- Formats ---------------------------------------------------------------------------
def test_json_format_has_the_fields_promtail_reads():
    with bind_request_id("req-1"):
        line = format_record(JSONFormatter(), "deployed %s", "web", deployment="web")

    entry = json.loads(line)
    assert entry["msg"] == "deployed web"
    assert entry["level"] == "warning"
    assert entry["request_id"] == "req-1"
    assert entry["deployment"] == "web"
    assert entry["logger"].startswith("tests.observability")
    assert entry["time"].endswith("Z")
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None  # RFC 3339


def test_text_format_is_one_readable_line():
    with bind_request_id("req-2"):
        line = format_record(TextFormatter(), "deployed %s", "web", deployment="web")

    assert line.count("\n") == 1
    assert " WARNING " in line
    assert "[req-2]" in line
    assert line.rstrip().endswith("deployed web deployment=web")


def test_request_id_binding_nests_and_resets():
    assert get_request_id() is None
    with bind_request_id("outer"):
        with bind_request_id("inner"):
            assert get_request_id() == "inner"
        assert get_request_id() == "outer"
    assert get_request_id() is None


@pytest.mark.parametrize("formatter", [JSONFormatter(), TextFormatter()], ids=["json", "text"])
def test_secrets_never_reach_the_output(formatter):
    line = format_record(
        formatter,
        "key %s auth %s url %s form %s",
        settings.SECRET_KEY,
        f"Authorization: Bearer {FAKE_JWT}",
        "postgres://codeai:hunter2-pass@db:5432/codeai",
        "password=hunter3",
        authorization="Bearer abc.def",
        token="opaque-token-value",
    )

    for secret in (settings.SECRET_KEY, FAKE_JWT, "hunter2-pass", "hunter3", "abc.def"):
        assert secret not in line
    assert "opaque-token-value" not in line
    assert "****" in line


@pytest.mark.parametrize("formatter", [JSONFormatter(), TextFormatter()], ids=["json", "text"])
def test_secrets_in_tracebacks_are_masked(formatter):
    try:
        raise ConnectionError(f"postgres://codeai:hunter4-pass@db/codeai rejected {FAKE_JWT}")
    except ConnectionError:
        line = format_record(formatter, "could not connect", exc_info=True)

    assert "ConnectionError" in line
    assert "hunter4-pass" not in line
    assert FAKE_JWT not in line


@pytest.mark.parametrize("formatter", [JSONFormatter(), TextFormatter()], ids=["json", "text"])
def test_a_request_passed_by_djangos_loggers_shows_its_path_without_the_query(formatter, rf):
    request = rf.get("/api/v1/configs/", {"code": "reset-code-secret", "state": "s"})
    line = format_record(formatter, "Not Found: %s", request.path, request=request, status_code=404)

    assert "GET /api/v1/configs/" in line
    assert "reset-code-secret" not in line


def test_a_record_logged_after_the_middleware_returned_carries_its_requests_id(rf):
    request = rf.get("/nope/")
    request.request_id = "trace-7"  # what the observability middleware sets
    record = logging.makeLogRecord({"msg": "Not Found: /nope/", "request": request})

    assert RequestIdFilter().filter(record)
    assert record.request_id == "trace-7"


def test_redact_keeps_ordinary_text():
    assert redact("GET /api/v1/configs/ 200 in 3 ms") == "GET /api/v1/configs/ 200 in 3 ms"


# --- Request ids through the middleware --------------------------------------------------
@pytest.mark.django_db
def test_a_valid_request_id_is_echoed_and_a_bad_one_replaced(client):
    assert client.get("/live", HTTP_X_REQUEST_ID="abc-123.x")["X-Request-ID"] == "abc-123.x"
    for bad in ("a" * 65, "has space", "new\nline", "<script>"):
        echoed = client.get("/live", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert echoed != bad
        assert len(echoed) == 32
        int(echoed, 16)
    generated = client.get("/live")["X-Request-ID"]
    assert len(generated) == 32


@pytest.mark.django_db(transaction=True)
def test_server_logs_are_json_lines_with_the_request_id_and_no_credentials(server_factory):
    server = server_factory()
    status, headers, _ = server.get(
        "/api/v1/configs/?token=query-secret",
        headers={"X-Request-ID": "trace-42", "Authorization": f"Bearer {FAKE_JWT}"},
    )
    assert status == 401
    assert headers["X-Request-ID"] == "trace-42"
    server.stop()

    logs = server.logs()
    entries = json_lines(logs)  # gunicorn's own lines included
    request_lines = [e for e in entries if e.get("request_id") == "trace-42"]
    access = next(e for e in request_lines if e["logger"] == "codeai.request")
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/configs/"  # no query string
    assert access["status"] == 401
    assert access["duration"] > 0
    assert {"time", "level", "msg", "logger"} <= set(access)
    assert any(e["logger"].startswith("gunicorn") for e in entries)
    assert FAKE_JWT not in logs
    assert "query-secret" not in logs


# --- Worker ---------------------------------------------------------------------------
# Celery prints these at shutdown straight to the console, after logging is torn down.
SHUTDOWN_NOTICE = re.compile(
    r"^(worker: (Warm|Cold) shutdown \(MainProcess\)|Restoring \d+ unacknowledged message\(s\))$"
)


def start_worker(log_path: Path, metrics_port: int) -> subprocess.Popen:
    env = app_env(
        CODEAI_LOG_FORMAT="json",
        CODEAI_LOG_LEVEL="info",
        CODEAI_HOST="127.0.0.1",
        CODEAI_WORKER_METRICS_PORT=str(metrics_port),
    )
    # The tests run as root, production does not (the guide's runAsUser: 1000): silence
    # Celery's warning about root, printed before any logging is configured.
    env["PYTHONWARNINGS"] = "ignore:You're running the worker with superuser privileges"
    return subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "codeai", "--quiet", "worker", "--pool", "solo",
         "--without-mingle", "--without-gossip", "-Q", "executions,celery", "-n", "obs@%h"],
        cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_request_id_follows_the_execution_to_the_worker_and_metrics_see_the_run(client, tmp_path):
    config = Config.objects.create(name="logged", content="exec { echo logged }\n")
    deployment = Deployment.objects.create(name="logged", config=config)
    api = APIClient()
    user = User.objects.create_superuser("log-admin", password="pw-log-admin")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    web_before = parse_samples(client.get("/metrics").content.decode())
    log_path = tmp_path / "worker.log"
    metrics_port = free_port()
    worker = start_worker(log_path, metrics_port)
    try:
        response = api.post(
            f"/api/v1/deployments/{deployment.pk}/execute/", HTTP_X_REQUEST_ID="exec-trace-7"
        )
        assert response.status_code == 202, response.content
        assert response["X-Request-ID"] == "exec-trace-7"
        execution = Execution.objects.get(pk=response.json()["id"])
        deadline = time.monotonic() + 60
        while execution.status not in ExecutionStatus.terminal():
            assert worker.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
            execution.refresh_from_db()
        # The worker counted the run it made (one process: the solo pool, no metrics folder).
        status, _headers, body = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        worker_samples = parse_samples(body.decode())
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    assert execution.request_id == "exec-trace-7"
    lines = log_path.read_text().splitlines()
    entries = json_lines("\n".join(line for line in lines if not SHUTDOWN_NOTICE.match(line)))
    # The lines of the run (the task's own, its outcome) carry the request's id; only the
    # worker's "received" notice precedes the task and has none.
    # (The worker shares the broker with the rest of the suite: pick this execution's task.)
    received = next(
        e for e in entries
        if e["logger"] == "celery.worker.strategy" and str(execution.pk) in e.get("data", "")
    )  # fmt: skip
    task_id = re.search(r"\[([0-9a-f-]{36})\]", received["msg"]).group(1)
    run = [e for e in entries if task_id in e["msg"] and e is not received]
    run += [
        e for e in entries if e["logger"].startswith("executions") and str(execution.pk) in e["msg"]
    ]
    assert any(e["logger"] == "celery.app.trace" for e in run), entries
    assert all(e["request_id"] == "exec-trace-7" for e in run), run

    samples = worker_samples
    assert sample(samples, "codeai_workflow_executions_total", status="running") == 1
    assert sample(samples, "codeai_workflow_executions_total", status="succeeded") == 1
    assert sample(samples, "codeai_workflow_execution_duration_seconds_count",
                  status="succeeded") == 1  # fmt: skip
    assert sample(samples, "codeai_workflow_step_duration_seconds_count") == 1
    # This process (the web side) created it, and counted only that.
    web = parse_samples(client.get("/metrics").content.decode())
    for status, created in (("queued", 1), ("running", 0), ("succeeded", 0)):
        moved = sample(web, "codeai_workflow_executions_total", status=status) - sample(
            web_before, "codeai_workflow_executions_total", status=status
        )
        assert moved == created, status
