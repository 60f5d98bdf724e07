"""The real processes ``codeai`` becomes: gunicorn (reload on HUP, graceful SIGTERM) on each
pass's database, Celery worker and beat, and the migration dry run against PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import shelve
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from codeai import cli
from codeai.kernel.cpus import cpu_count
from tests.conftest import require_service, uses_postgres
from tests.deploy.support import (
    CODEAI,
    child_pids,
    clean_env,
    command_line,
    embedded_env,
    free_port,
    http_get,
    pass_env,
    run_codeai,
    stop,
    wait_for_health,
    wait_for_output,
)


@pytest.mark.django_db
def test_migrate_dry_run_reads_the_postgresql_named_by_the_flags():
    require_service("postgres")
    if not uses_postgres():
        pytest.skip("runs in the PostgreSQL pass, against its migrated test database")
    db = settings.DATABASES["default"]
    result = run_codeai(
        "server",
        "migrate",
        "--dry-run",
        "--db-host",
        db["HOST"],
        "--db-port",
        str(db["PORT"]),
        "--db-name",
        db["NAME"],
        "--db-user",
        db["USER"],
        "--db-password",
        db["PASSWORD"],
        "--db-sslmode",
        "disable",
        env=clean_env(CODEAI_DATA_DIR=str(settings.DATA_DIR)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No pending migrations."


@pytest.mark.slow
@pytest.mark.django_db
def test_server_start_becomes_gunicorn_reloads_on_hup_and_stops_on_sigterm(tmp_path):
    # The port comes from $HOME/.codeai.yaml, which a HUP must read again.
    home_config = tmp_path / ".codeai.yaml"
    port = free_port()
    home_config.write_text(f"server:\n  port: {port}\n")
    env = pass_env(tmp_path / "data", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(CODEAI), "server", "start", "--host", "127.0.0.1"],
            env=env | {"HOME": str(tmp_path)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        status, body = wait_for_health(log, port, server)
        assert status == 200, body
        # exec, not a wrapper: the PID systemd or Docker signals is gunicorn's master.
        assert "gunicorn" in command_line(server.pid)
        first_workers = child_pids(server.pid)
        assert len(first_workers) == 2 * cpu_count() + 1

        new_port = free_port()
        home_config.write_text(f"server:\n  port: {new_port}\n")
        server.send_signal(signal.SIGHUP)
        assert wait_for_health(log, new_port, server)[0] == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and child_pids(server.pid) & first_workers:
            time.sleep(0.3)
        assert not child_pids(server.pid) & first_workers, "HUP did not replace the workers"
    finally:
        returncode = stop(server, timeout=40)
    assert returncode == 0, log.read_text()
    assert "Handling signal: term" in log.read_text()


@contextlib.contextmanager
def json_logging_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``codeai server start`` logging JSON at info: its port and log; stopped after."""
    port = free_port()
    env = pass_env(tmp_path / "data", CODEAI_LOG_FORMAT="json", CODEAI_LOG_LEVEL="info")
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(CODEAI), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env | {"HOME": str(tmp_path)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for_health(log, port, server)[0] == 200
        yield port, log
    finally:
        assert stop(server, timeout=40) == 0, log.read_text()


def json_entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.django_db
def test_server_start_logs_each_request_once(tmp_path):
    # One line per request, the app's own (with its request id; probes are not logged);
    # gunicorn's access line would be a second copy.
    with json_logging_server(tmp_path) as (port, log):
        assert http_get(f"http://127.0.0.1:{port}/admin/login/")[0] == 200

    requests = [entry for entry in json_entries(log) if "/admin/login/" in entry["msg"]]
    assert [(entry["logger"], entry.get("path")) for entry in requests] == [
        ("codeai.request", "/admin/login/")
    ]


@pytest.mark.django_db
def test_server_start_logs_a_client_error_with_its_request_id_and_without_its_query(tmp_path):
    # Django's own line of a 4xx is written after the middleware returned, with the request:
    # its text was the full URL, whose query string can carry credentials.
    with json_logging_server(tmp_path) as (port, log):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/configs/?code=query-code-secret",
            headers={"Host": "localhost", "X-Request-ID": "trace-43"},
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 401

    django_line = next(entry for entry in json_entries(log) if entry["logger"] == "django.request")
    assert (django_line["request_id"], django_line["request"]) == (
        "trace-43",
        "GET /api/v1/configs/",
    )
    assert "query-code-secret" not in log.read_text()


def schedule_written(path: Path) -> bool:
    """Beat's shelve file holds its entries (read-only: the writer is never disturbed)."""
    try:
        with shelve.open(str(path), flag="r") as stored:
            return "entries" in stored
    except Exception:  # not there yet, or caught mid-write: look again
        return False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "ready"),
    [
        (["worker", "start", "--beat", "--concurrency", "1"], "ready."),
        (["worker", "beat"], "beat: Starting..."),
    ],
)
@pytest.mark.usefixtures("embedded_pass_only")
def test_worker_becomes_celery_and_shuts_down_warmly_on_sigterm(tmp_path, argv, ready):
    # The embedded filesystem broker in the test's own folder: no other test's tasks.
    data = tmp_path / "data"
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [str(CODEAI), *argv],
            env=embedded_env(data),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        text = wait_for_output(log, ready, worker, timeout=60)
        cmdline = command_line(worker.pid)
        assert cmdline[1:4] == ["-m", "celery", "--app"]
        if argv[1] == "start":
            assert cmdline[cmdline.index("--queues") + 1] == "executions,celery"
            assert ".> executions" in text
            assert ".> celery" in text
        # Beat writes its schedule just after starting; a SIGTERM in the middle of that first
        # write makes Celery's beat exit 1, so wait until the schedule is complete.
        schedule = data / cli.BEAT_SCHEDULE_FILE
        deadline = time.monotonic() + 15
        while not schedule_written(schedule) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(data.glob(f"{cli.BEAT_SCHEDULE_FILE}*")), "beat schedule not in the data dir"
    finally:
        returncode = stop(worker, timeout=60)
    assert returncode == 0, log.read_text()
