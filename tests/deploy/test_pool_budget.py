"""The guide's pool figures per instance, seen by PostgreSQL: a real ``codeai server start``
(three gunicorn workers of eight threads) and a real ``codeai worker start`` (two pool
processes and the main one) under load never hold more connections than their
CODEAI_DB_MAX_OPEN_CONNS, keep at most CODEAI_DB_MAX_IDLE_CONNS idle once quiet, and close
connections older than CODEAI_DB_CONN_MAX_LIFETIME, busy or idle. Each instance's
connections are told apart in ``pg_stat_activity`` by their application_name."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from tests.conftest import require_service, uses_postgres
from tests.deploy.support import (
    CODEAI,
    child_pids,
    free_port,
    http_get,
    pass_env,
    run_codeai,
    stop,
    wait_for_health,
    wait_for_output,
)
from tests.deploy.test_pgbouncer import api

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SERVER = {"open": 5, "idle": 2}
WORKER = {"open": 4, "idle": 1}
LIFETIME = 6.0
# A connection is closed at its first return after its lifetime (requests here are short) or by
# the sweep within half a second once idle; the machine is loaded, so allow 4 s more.
LIFETIME_SLACK = 4.0
CONTENT = 'var greeting = "hello"\nexec { echo "$greeting" }\n'


def direct() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"], autocommit=True
    )


def snapshot(probe: psycopg.Connection, name: str) -> list[tuple[int, str, float]]:
    """(pid, state, age in seconds) of every connection whose application_name is ``name``."""
    rows = probe.execute(
        "SELECT pid, coalesce(state, ''), extract(epoch FROM now() - backend_start)::float "
        "FROM pg_stat_activity WHERE application_name = %s",
        [name],
    ).fetchall()
    return [(int(pid), str(state), float(age)) for pid, state, age in rows]


def client_connections(root_pid: int, port: int) -> int:
    """Established TCP connections to PostgreSQL's ``port`` held by ``root_pid`` and its
    children: the instance's own count, as its processes hold them."""
    states: dict[str, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if remote_port == port and state == "01":  # ESTABLISHED
                states[inode] = state
    held = 0
    for pid in {root_pid, *child_pids(root_pid)}:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:  # the process or one of its descriptors went away meanwhile
            continue
        held += sum(1 for link in links if link[8:-1] in states and link.startswith("socket:"))
    return held


class Sampler(threading.Thread):
    """Every 50 ms: the connections each instance's processes hold (their sockets), and what
    pg_stat_activity lists for it: the most seen at once, the oldest, every backend pid.

    PostgreSQL lists a backend until its process has exited, a moment after the client closed
    the connection (a pool replacing an expired connection closes one and opens another), so a
    listing above the limit counts only if that many of its backends are still there 0.3 s
    later; the sockets are counted strictly."""

    def __init__(self, instances: dict[str, int], port: int) -> None:
        super().__init__(daemon=True)
        self.instances, self.port = instances, port
        self.names = list(instances)
        self.most = dict.fromkeys(self.names, 0)
        self.most_held = dict.fromkeys(self.names, 0)
        self.oldest = dict.fromkeys(self.names, 0.0)
        self.pids: dict[str, set[int]] = {name: set() for name in self.names}
        self.samples = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        with direct() as probe:
            while not self.stopped.is_set():
                for name, root_pid in self.instances.items():
                    self.most_held[name] = max(
                        self.most_held[name], client_connections(root_pid, self.port)
                    )
                    rows = snapshot(probe, name)
                    listed = {pid for pid, *_ in rows}
                    if len(listed) > self.most[name]:
                        time.sleep(0.3)
                        still = listed & {pid for pid, *_ in snapshot(probe, name)}
                        self.most[name] = max(self.most[name], len(still))
                    self.oldest[name] = max([self.oldest[name], *(age for *_, age in rows)])
                    self.pids[name] |= listed
                self.samples += 1
                time.sleep(0.05)


def cleanup(env: dict[str, str], prefix: str) -> None:
    """What this test made, outside the test's transaction (the servers committed it)."""
    run_codeai(
        *("manage", "shell", "-c"),
        "from executions.models import Execution; from deployments.models import Deployment;"
        " from configs.models import Config; from django.contrib.auth import get_user_model;"
        f" Execution.objects.filter(deployment__name__startswith='{prefix}').delete();"
        f" Deployment.objects.filter(name__startswith='{prefix}').delete();"
        f" Config.objects.filter(name__startswith='{prefix}').delete();"
        f" get_user_model().objects.filter(username='{prefix}').delete()",
        env=env,
    )


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def test_each_instance_stays_within_its_pool_figures_under_load(tmp_path: Path) -> None:
    require_service("postgres")
    if not uses_postgres():
        pytest.skip("counts PostgreSQL's connections, in the PostgreSQL pass")
    prefix = f"pool-{uuid.uuid4().hex[:8]}"
    server_instance, worker_instance = f"server {prefix}", f"worker {prefix}"
    # Their connections' application_name (codeai.kernel.conf.application_name).
    server_name, worker_name = f"codeai {server_instance}", f"codeai {worker_instance}"
    common = pass_env(
        tmp_path / "data", CODEAI_DB_CONN_MAX_LIFETIME=f"{LIFETIME:g}s", CODEAI_EXEC_SANDBOX="off"
    )
    server_env = common | {
        "CODEAI_DB_MAX_OPEN_CONNS": str(SERVER["open"]),
        "CODEAI_DB_MAX_IDLE_CONNS": str(SERVER["idle"]),
        "CODEAI_INSTANCE": server_instance,
        "GUNICORN_CMD_ARGS": "--workers 3 --threads 8",
        "CODEAI_RATE_LIMIT_USER": "100000/min",  # the load, not the throttle
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    worker_env = common | {
        "CODEAI_DB_MAX_OPEN_CONNS": str(WORKER["open"]),
        "CODEAI_DB_MAX_IDLE_CONNS": str(WORKER["idle"]),
        "CODEAI_INSTANCE": worker_instance,
    }
    password = uuid.uuid4().hex
    made = run_codeai(
        *("manage", "createsuperuser", "--noinput", "--username", prefix),
        *("--email", "pool@example.com"),
        env=common | {"DJANGO_SUPERUSER_PASSWORD": password},
    )
    assert made.returncode == 0, made.stderr
    port = free_port()
    server_log, worker_log = tmp_path / "server.log", tmp_path / "worker.log"
    with server_log.open("w") as output:
        server = subprocess.Popen(
            [str(CODEAI), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    with worker_log.open("w") as output:
        worker = subprocess.Popen(
            [str(CODEAI), "worker", "start", "--concurrency", "2"],
            env=worker_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    sampler: Sampler | None = None
    try:
        status, body = wait_for_health(server_log, port, server)
        assert status == 200, body
        wait_for_output(worker_log, "ready.", worker, timeout=60)
        status, body = api(
            port, "POST", "/api/auth/token/", {"username": prefix, "password": password}
        )
        assert status == 200, body
        token = body["access"]
        status, config = api(
            port, "POST", "/api/v1/configs/", {"name": prefix, "content": CONTENT}, token
        )
        assert status == 201, config
        status, deployment = api(
            port, "POST", "/api/v1/deployments/", {"name": prefix, "config_id": config["id"]}, token
        )
        assert status == 201, deployment
        db_port = int(settings.DATABASES["default"]["PORT"])
        sampler = Sampler({server_name: server.pid, worker_name: worker.pid}, db_port)
        sampler.start()
        started = time.monotonic()
        execution_ids: list[str] = []

        def load(number: int) -> int:
            """Reads, writes and executions from 24 clients, three times the lifetime long."""
            done = 0
            while time.monotonic() - started < 3 * LIFETIME:
                if number % 4 == 0:
                    status, body = api(
                        port, "POST", f"/api/v1/deployments/{deployment['id']}/execute/", {}, token
                    )
                    assert status == 202, body
                    execution_ids.append(body["id"])
                elif number % 4 == 1:
                    status, body = api(
                        port, "POST", "/api/v1/configs/validate/", {"content": CONTENT}, token
                    )
                    assert status == 200, body
                else:
                    status, body = api(port, "GET", "/api/v1/executions/?limit=50", token=token)
                    assert status == 200, body
                done += 1
            return done

        with ThreadPoolExecutor(max_workers=24) as clients:
            # The gauges while the load runs: the instance's figures, within its budget.
            running = [clients.submit(load, number) for number in range(24)]
            time.sleep(LIFETIME)
            status, text = http_get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            active = metric(text.decode(), "codeai_db_connections_active")
            idle = metric(text.decode(), "codeai_db_connections_idle")
            assert active + idle <= SERVER["open"]
            assert idle <= SERVER["idle"]
            requests = sum(future.result() for future in running)
        assert requests > 100
        early = {name: set(pids) for name, pids in sampler.pids.items()}
        # Every execution finishes: the worker's processes shared their four connections.
        deadline = time.monotonic() + 120
        with direct() as probe:
            while time.monotonic() < deadline:
                (left,) = probe.execute(
                    "SELECT count(*) FROM executions_execution e JOIN deployments_deployment d"
                    " ON d.id = e.deployment_id WHERE d.name = %s"
                    " AND e.status IN ('queued', 'running')",
                    [prefix],
                ).fetchone()
                if not left:
                    break
                time.sleep(0.5)
            assert left == 0
            (succeeded,) = probe.execute(
                "SELECT count(*) FROM executions_execution e JOIN deployments_deployment d"
                " ON d.id = e.deployment_id WHERE d.name = %s AND e.status = 'succeeded'",
                [prefix],
            ).fetchone()
        assert succeeded == len(execution_ids) > 0
        # Quiet now: each instance keeps at most its idle figure, after the lifetime none of
        # the load's connections is left, and none ever lived much longer than the lifetime.
        time.sleep(1.0)
        with direct() as probe:
            quiet = {name: snapshot(probe, name) for name in sampler.names}
        assert len(quiet[server_name]) <= SERVER["idle"], quiet
        assert len(quiet[worker_name]) <= WORKER["open"], quiet  # the duty thread may be busy
        time.sleep(LIFETIME + LIFETIME_SLACK)
        with direct() as probe:
            later = {name: snapshot(probe, name) for name in sampler.names}
        sampler.stopped.set()
        sampler.join(timeout=10)
        for name in sampler.names:
            left_over = {pid for pid, *_ in later[name]} & early[name]
            assert not left_over, (name, later[name])
        print("most at once:", sampler.most, "held:", sampler.most_held, "oldest:", sampler.oldest)
        assert sampler.samples > 20
        assert sampler.most[server_name] <= SERVER["open"]
        assert sampler.most[worker_name] <= WORKER["open"]
        assert sampler.most_held[server_name] <= SERVER["open"]
        assert sampler.most_held[worker_name] <= WORKER["open"]
        assert sampler.most[server_name] >= 2  # the load really used the pools
        assert sampler.most[worker_name] >= 1
        for name in sampler.names:
            assert sampler.oldest[name] <= LIFETIME + LIFETIME_SLACK, sampler.oldest
        assert "Traceback" not in server_log.read_text()
    finally:
        if sampler is not None:
            sampler.stopped.set()
        server_code = stop(server, timeout=40)
        worker_code = stop(worker, timeout=60)
        cleanup(common, prefix)
    assert server_code == 0, server_log.read_text()
    assert worker_code == 0, worker_log.read_text()


@pytest.mark.parametrize(
    ("argv", "variables", "message"),
    [
        (
            ["worker", "start", "--concurrency", "3"],
            {"CODEAI_DB_MAX_OPEN_CONNS": "3"},
            "CODEAI_DB_MAX_OPEN_CONNS=3 is too low for 4 processes "
            "(3 pool processes and the main one)",
        ),
        (
            ["server", "start", "--host", "127.0.0.1"],
            {"CODEAI_DB_MAX_OPEN_CONNS": "3", "GUNICORN_CMD_ARGS": "--workers 4"},
            "CODEAI_DB_MAX_OPEN_CONNS=3 is too low for 4 processes (gunicorn workers)",
        ),
    ],
)
def test_an_instance_of_more_processes_than_connections_does_not_start(
    tmp_path, argv, variables, message
):
    if argv[0] == "server":
        argv = [*argv, "--port", str(free_port())]  # refused before it would listen
    result = run_codeai(*argv, env=pass_env(tmp_path, **variables), timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"configuration error: {message}" in result.stderr
