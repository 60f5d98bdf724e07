"""``codeai worker start`` with CODEAI_LOG_FORMAT=json writes nothing but JSON lines: Celery's
banner and its shutdown notices become records like every other line, billiard's pool messages
too; CODEAI_LOG_LEVEL=error leaves only errors."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.support import CODEAI, child_pids, embedded_env, stop, wait_for_output

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("embedded_pass_only")]


def run_worker(tmp_path: Path, level: str) -> tuple[str, str]:
    """A real worker until it runs its pool, then SIGTERM: (stdout, stderr)."""
    out, err = tmp_path / f"{level}.out", tmp_path / f"{level}.err"
    env = embedded_env(
        tmp_path / "data",
        CODEAI_LOG_FORMAT="json",
        CODEAI_LOG_LEVEL=level,
        CODEAI_EXEC_SANDBOX="off",  # a warning at start
    )
    with out.open("w") as stdout, err.open("w") as stderr:
        worker = subprocess.Popen(
            [str(CODEAI), "worker", "start", "--concurrency", "1"],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        if level == "error":  # "ready." is an info line: wait for the pool process instead
            deadline = time.monotonic() + 60
            while not child_pids(worker.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(3)
        else:
            text = "ready." if level == "info" else "CODEAI_EXEC_SANDBOX=off"
            wait_for_output(err, text, worker, timeout=60)
            time.sleep(1)
    finally:
        returncode = stop(worker, timeout=60)
    assert returncode == 0, err.read_text()
    return out.read_text(), err.read_text()


def records(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


@pytest.mark.parametrize("level", ["info", "warning"])
def test_worker_output_is_json_lines_only_banner_and_shutdown_included(tmp_path, level):
    stdout, stderr = run_worker(tmp_path, level)
    assert records(stdout) == []  # nothing printed past logging (Celery's banner was)
    found = records(stderr)
    messages = [record["msg"] for record in found]
    assert any("CODEAI_EXEC_SANDBOX=off" in message for message in messages)
    if level == "info":
        banner = next(record for record in found if "[queues]" in record["msg"])
        assert banner["logger"] == "celery.apps.worker"
        assert ".> executions" in banner["msg"]
        assert any("Warm shutdown" in message for message in messages)
        assert any(message.endswith(" ready.") for message in messages)
    else:
        assert {record["level"] for record in found} <= {"warning", "error"}


def test_worker_at_log_level_error_writes_no_warning(tmp_path):
    stdout, stderr = run_worker(tmp_path, "error")
    assert records(stdout) == []
    assert all(record["level"] == "error" for record in records(stderr)), stderr
    assert "CODEAI_EXEC_SANDBOX=off" not in stderr
