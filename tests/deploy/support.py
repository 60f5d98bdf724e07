"""Helpers for the deployment tests: the real ``codeai`` command in child processes."""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from tests.conftest import uses_postgres

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
# The console script the project's install put beside this interpreter.
CODEAI = Path(sys.executable).with_name("codeai")
# Shuffled, each handed out once: the two passes and back-to-back servers need not wait
# for the ports an earlier server used to be released.
_UNUSED_PORTS = iter(random.sample(range(18400, 18500), 100))
SERVICE_VARIABLE_PREFIXES = ("CODEAI_DB_", "CODEAI_REDIS_", "CODEAI_CACHE_", "CODEAI_CELERY_")


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any CODEAI_* setting of the running test pass."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEAI_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # A worker started by a test serves no metrics unless the test gives it a port.
    return {**env, "CODEAI_LOG_FORMAT": "text", "CODEAI_WORKER_METRICS_PORT": "0", **variables}


def embedded_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """The embedded default (SQLite, filesystem broker) in a folder of the test's own."""
    return clean_env(CODEAI_DATA_DIR=str(data_dir), **variables)


def pass_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """The embedded default, or in the services pass this pass's PostgreSQL (its migrated test
    database: use with ``django_db``), Redis cache and broker."""
    env = embedded_env(data_dir, **variables)
    if uses_postgres():
        env |= {k: v for k, v in os.environ.items() if k.startswith(SERVICE_VARIABLE_PREFIXES)}
        env["CODEAI_DB_NAME"] = settings.DATABASES["default"]["NAME"]
    return env


def run_codeai(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CODEAI), *args],
        env=env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    """A port of this suite's range not handed out before in this run, bindable right now."""
    for port in _UNUSED_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port left in 18400-18499")


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """GET with ``Host: localhost`` (what the probes send); any status, no exception."""
    request = urllib.request.Request(url, headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_output(path: Path, text: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = path.read_text(errors="replace")
        if text in output:
            return output
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before {text!r}:\n{output}")
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not seen within {timeout}s:\n{path.read_text()}")


def wait_for_health(log: Path, port: int, server: subprocess.Popen) -> tuple[int, bytes]:
    """``/health`` once this server's own log says it listens on ``port`` (so that no other
    process that held the port a moment earlier can answer in its place)."""
    wait_for_output(log, f"Listening at: http://127.0.0.1:{port}", server, timeout=45)
    # The master listens before its workers have booted (after a HUP, five fresh workers
    # import Django at once): the request waits in the socket's backlog until one accepts.
    return http_get(f"http://127.0.0.1:{port}/health", timeout=30)


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]


def child_pids(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children |= {int(child) for child in (task / "children").read_text().split()}
    return children


def stop(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM and wait; a process still running after ``timeout`` is killed and fails."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"still running {timeout}s after SIGTERM") from None


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions per stage as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for found, arguments in stage if found == name]


def dockerfile_runtime_env() -> dict[str, str]:
    """The runtime stage's ENV, values as written (``${VERSION}`` unexpanded)."""
    pairs = shlex.split(" ".join(instruction(dockerfile_stages()[-1], "ENV")))
    return dict(pair.split("=", 1) for pair in pairs)
