"""Metrics that add up: two real web instances (gunicorn, two workers each, multiprocess mode)
and one real ``codeai worker start`` (a prefork pool of two) on one database. Summed over the
three targets, the guide's workflow series equal the rows in the database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User

from configs.models import Config
from deployments.models import Deployment
from executions.models import Execution, ExecutionStatus
from tests.deploy.support import CODEAI
from tests.executions.conftest import sleeping
from tests.observability.conftest import (
    ROOT,
    Samples,
    Server,
    app_env,
    free_port,
    http_get,
    parse_samples,
    start_server,
)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-replicas-admin"
WORKFLOW = "codeai_workflow_executions_total"


@dataclass
class Worker:
    port: int
    process: subprocess.Popen
    log_path: Path

    def scrape(self) -> Samples:
        status, _headers, body = http_get(f"http://127.0.0.1:{self.port}/metrics")
        assert status == 200
        return parse_samples(body.decode())

    def stop(self) -> None:
        self.process.terminate()  # a warm shutdown: nothing runs any more
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_worker(folder: Path) -> Worker:
    port = free_port()
    log_path = folder / "worker.log"
    env = app_env(
        CODEAI_WORKER_METRICS_PORT=str(port),
        CODEAI_HOST="127.0.0.1",
        CODEAI_EXEC_SANDBOX="off",
        PROMETHEUS_MULTIPROC_DIR=str(folder / "metrics"),
    )
    process = subprocess.Popen(
        [str(CODEAI), "worker", "start", "--concurrency", "2"],
        cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = Worker(port, process, log_path)
    deadline = time.monotonic() + 120  # generous: the machine is shared and loaded
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited: {log_path.read_text()[-3000:]}")
        try:
            worker.scrape()
            return worker
        except OSError:
            time.sleep(0.2)
    worker.stop()
    raise RuntimeError(f"the worker served no metrics: {log_path.read_text()[-3000:]}")


@dataclass
class Cluster:
    web: list[Server]
    worker: Worker

    def scrapes(self) -> list[Samples]:
        pages = []
        for server in self.web:
            status, _headers, body = server.get("/metrics")
            assert status == 200
            pages.append(parse_samples(body.decode()))
        return [*pages, self.worker.scrape()]

    def total(self, name: str, **labels: str) -> float:
        """``sum(name{labels})`` over every target, as Prometheus would add them up."""
        wanted = set(labels.items())
        return sum(
            value
            for samples in self.scrapes()
            for (sample_name, sample_labels), value in samples.items()
            if sample_name == name and wanted <= sample_labels
        )


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("replicas")
    web = [start_server(root / f"web{i}", workers=2, multiproc=True) for i in range(2)]
    (root / "worker").mkdir()
    worker = start_worker(root / "worker")
    yield Cluster(web, worker)
    worker.stop()
    for server in web:
        server.stop()
    # The worker removed the metrics folder it made inside PROMETHEUS_MULTIPROC_DIR.
    assert list((root / "worker" / "metrics").iterdir()) == []


def api(server: Server, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def token(cluster: Cluster) -> str:
    # Hashed as the servers hash (the test settings use a faster hasher they do not know).
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, "replicas-salt", iterations=1000)
    User.objects.create_superuser("replicas-admin")
    User.objects.filter(username="replicas-admin").update(password=hashed)
    request = urllib.request.Request(
        cluster.web[0].url + "/api/auth/token/",
        data=json.dumps({"username": "replicas-admin", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access"]


def deployment(content: str) -> Deployment:
    suffix = uuid.uuid4().hex[:8]
    config = Config.objects.create(name=f"replicas-{suffix}", content=content)
    return Deployment.objects.create(name=f"replicas-{suffix}", config=config)


def wait_for(predicate: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s")


def test_every_guide_series_exists_at_zero_from_the_start(cluster: Cluster):
    """Before any execution (this test runs first): 0, not "no data", for alerts and panels."""
    known = deployment('exec { echo "never run" }\n')
    for samples in cluster.scrapes():
        names = {name for name, _labels in samples}
        for status in ExecutionStatus.values:
            assert samples[(WORKFLOW, frozenset({("status", status)}))] == 0
        assert (
            samples[("codeai_integration_retries_total", frozenset({("service_name", "jwks")}))]
            == 0
        )
        for error_type in ("IntegrityError", "OperationalError", "DatabaseError"):
            key = ("codeai_db_query_errors_total", frozenset({("error_type", error_type)}))
            assert samples[key] == 0
        assert {
            "codeai_workflow_execution_duration_seconds_count",
            "codeai_workflow_step_duration_seconds_count",
            "codeai_integration_errors_total",
            "codeai_integration_circuit_breaker_state",
            "codeai_db_queries_total",
        } <= names
    worker = cluster.worker.scrape()
    active = ("codeai_workflow_active_count", frozenset({("workflow_name", known.name)}))
    assert worker[active] == 0
    assert worker[("codeai_workflow_queued_count", frozenset())] == 0
    assert worker[("codeai_workflow_oldest_queued_age_seconds", frozenset())] == 0


def test_workflow_series_summed_over_every_target_equal_the_database(cluster: Cluster, token):
    quick = deployment('exec { echo "ok" }\nexec { true }\n')
    failing = deployment("exec { false }\n")
    slow = deployment("exec { sleep 30 }\n")
    a, b = cluster.web
    # Executions created through both web instances.
    for server, target in ((a, quick), (b, quick), (a, failing), (b, quick)):
        api(server, "POST", f"/api/v1/deployments/{target.pk}/execute/", token)
    wait_for(lambda: not Execution.objects.filter(status__in=ExecutionStatus.active()).exists())

    # Two long runs at once: one in each of the pool's two processes, summed by the worker.
    long_runs = [
        api(server, "POST", f"/api/v1/deployments/{slow.pk}/execute/", token)["id"]
        for server in (a, b)
    ]
    wait_for(lambda: Execution.objects.filter(status=ExecutionStatus.RUNNING).count() == 2)
    wait_for(lambda: cluster.total("codeai_workflow_active_count", workflow_name=slow.name) == 2)
    assert cluster.total("codeai_workflow_active_count") == 2
    workers = set(Execution.objects.filter(pk__in=long_runs).values_list("worker", flat=True))
    assert len(workers) == 2, workers  # two pool processes ("<host> pid <pid>")
    for server, execution_id in zip((b, a), long_runs, strict=True):
        api(server, "POST", f"/api/v1/executions/{execution_id}/cancel/", token)
    wait_for(lambda: not Execution.objects.filter(status__in=ExecutionStatus.active()).exists())
    wait_for(lambda: cluster.total("codeai_workflow_active_count") == 0)

    rows = Execution.objects.all()
    assert rows.count() == 6
    assert cluster.total(WORKFLOW, status="queued") == rows.count()
    assert (
        cluster.total(WORKFLOW, status="running") == rows.filter(started_at__isnull=False).count()
    )
    for status in ExecutionStatus.terminal():
        in_database = rows.filter(status=status).count()
        assert cluster.total(WORKFLOW, status=status) == in_database, status
        assert (
            cluster.total("codeai_workflow_execution_duration_seconds_count", status=status)
            == rows.filter(status=status, started_at__isnull=False).count()
        ), status
    assert rows.filter(status=ExecutionStatus.SUCCEEDED).count() == 3
    assert rows.filter(status=ExecutionStatus.CANCELLED).count() == 2
    steps = sum(1 for run in rows for step in run.steps if isinstance(step.get("duration_ms"), int))
    assert cluster.total("codeai_workflow_step_duration_seconds_count") == steps == 9
    # Created by the web instances, run by the worker: each counted where it happened.
    web_created = sum(
        samples[(WORKFLOW, frozenset({("status", "queued")}))] for samples in cluster.scrapes()[:2]
    )
    assert web_created == 6
    worker = cluster.worker.scrape()
    assert worker[(WORKFLOW, frozenset({("status", "queued")}))] == 0
    # The pool processes' own queries (claims, heartbeats, finishes: updates) are theirs.
    assert worker[("codeai_db_queries_total", frozenset({("operation", "update")}))] >= 12
    # The database's own figures come from one place: the worker holding their lease.
    assert cluster.total("codeai_workflow_queued_count") == 0
    assert all(
        ("codeai_workflow_queued_count", frozenset()) not in s for s in cluster.scrapes()[:2]
    )


def test_a_pool_process_that_dies_leaves_its_counts_and_loses_its_live_gauge(cluster, token):
    slow = deployment("exec { sleep 31 }\n")
    started = cluster.worker.scrape()[(WORKFLOW, frozenset({("status", "running")}))]
    execution_id = api(cluster.web[0], "POST", f"/api/v1/deployments/{slow.pk}/execute/", token)[
        "id"
    ]
    wait_for(lambda: Execution.objects.filter(pk=execution_id, status="running").exists())
    active = ("codeai_workflow_active_count", frozenset({("workflow_name", slow.name)}))
    wait_for(lambda: cluster.worker.scrape().get(active) == 1)
    child = int(Execution.objects.get(pk=execution_id).worker.rsplit(" pid ", 1)[1])
    os.kill(child, signal.SIGKILL)  # the pool process running it dies (the OOM killer, say)

    wait_for(lambda: cluster.worker.scrape().get(active) == 0)
    samples = cluster.worker.scrape()
    assert samples[(WORKFLOW, frozenset({("status", "running")}))] == started + 1  # kept
    assert cluster.worker.process.poll() is None  # the worker replaced its pool process
    for orphan in sleeping("31"):  # the step the dead process left behind
        os.kill(orphan, signal.SIGKILL)
