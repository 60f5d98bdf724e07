"""Helpers for the observability tests: scraping, real server processes and throwaway services.

Ports come from this suite's own range (18300-18399); the machine's shared PostgreSQL, Redis and
RabbitMQ are never stopped: the "service is down" tests start and stop their own instances.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import missing, uses_postgres

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PORTS = iter(range(18310, 18400))  # 18300-18309: kept free for manual runs
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port left in 18310-18399")


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_samples(text: str) -> Samples:
    """``{(sample name, labels): value}`` of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def http_get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10):
    """``(status, headers, body)``, also for 4xx/5xx answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def app_env(**overrides: str) -> dict[str, str]:
    """Environment for a CodeAI process sharing this test run's data folder and database."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["CODEAI_DATA_DIR"] = str(settings.DATA_DIR)
    env["CODEAI_ALLOWED_HOSTS"] = "localhost,127.0.0.1"
    if uses_postgres():
        env["CODEAI_DB_NAME"] = settings.DATABASES["default"]["NAME"]  # the test database
    else:
        env["CODEAI_SQLITE_PATH"] = str(settings.DATABASES["default"]["NAME"])
    env.update(overrides)
    return env


@dataclass
class Server:
    """A real gunicorn serving CodeAI on a spare port; its stderr (the logs) kept in a file."""

    port: int
    process: subprocess.Popen
    log_path: Path
    multiproc_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs):
        return http_get(self.url + path, **kwargs)

    def logs(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


GUNICORN_CONFIG = """
from codeai.gunicorn_hooks import child_exit, on_exit, on_starting  # noqa: F401
from codeai.kernel.logs import logging_config

logconfig_dict = logging_config("json", "DEBUG")
"""


def start_server(
    tmp_path: Path, *, workers: int = 1, multiproc: bool = False, **env: str
) -> Server:
    port = free_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "gunicorn_test_conf.py"
    config.write_text(GUNICORN_CONFIG)
    environment = app_env(CODEAI_LOG_FORMAT="json", CODEAI_LOG_LEVEL="debug", **env)
    multiproc_dir = None
    if multiproc:
        multiproc_dir = tmp_path / "prometheus"
        multiproc_dir.mkdir()
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc_dir)
    log_path = tmp_path / f"server-{port}.log"
    process = subprocess.Popen(
        [
            PYTHON, "-m", "gunicorn", "codeai.wsgi:application", "-c", str(config),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "sync", "--timeout", "30",
        ],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )  # fmt: skip
    server = Server(port, process, log_path, multiproc_dir)
    deadline = time.monotonic() + 90  # generous: the machine is shared and loaded
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.logs()[-3000:]}")
        try:
            if server.get("/live", timeout=2)[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer: {server.logs()[-3000:]}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    servers: list[Server] = []

    def factory(**kwargs) -> Server:
        server = start_server(tmp_path / f"s{len(servers)}", **kwargs)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


# --- Throwaway Redis and PostgreSQL, stopped for real by the tests ---------------------------
class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Postgres:
    """A PostgreSQL cluster in a temporary folder, run as the postgres user."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="codeai-obs-pg-"))
        shutil.chown(self.folder, "postgres")
        self.data = self.folder / "data"
        self._as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        )

    def _as_postgres(self, command: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + command, check=True, capture_output=True)

    def start(self) -> None:
        self._as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
             "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start"]
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"])

    def _pids(self) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """A server that hangs instead of refusing: every process of this cluster stopped."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def can_run_postgres() -> bool:
    return (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser"))


@pytest.fixture
def throwaway_redis() -> Iterator[Redis]:
    if not shutil.which("redis-server"):
        missing("redis-server is not installed")
    redis = Redis()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def throwaway_postgres() -> Iterator[Postgres]:
    if not can_run_postgres():
        missing("PostgreSQL server binaries are not installed")
    postgres = Postgres()
    postgres.start()
    yield postgres
    with contextlib.suppress(subprocess.CalledProcessError):  # a test may have stopped it
        postgres.stop()
    postgres.remove()
