"""``make test`` leaves the developer's own services as they were: scripts/test.sh, run on a
few tests that clear the cache and the broker's queues, must not touch databases 0 and 1
of the Redis on the usual port (where a laptop's own Redis listens)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import missing, uses_postgres

ROOT = Path(__file__).resolve().parents[1]
MACHINE_REDIS = ("127.0.0.1", 6379)
# One test that clears the cache, one that starts a worker (which purges its queues).
INNER_TESTS = [
    "tests/api/test_http.py::test_users_are_throttled_by_user",
    "tests/executions/test_worker.py::test_first_nonzero_exit_stops_the_run",
]

pytestmark = pytest.mark.skipif(
    os.environ.get("CODEAI_TEST_INNER_RUN") == "1", reason="the inner run of this very test"
)


def test_the_suite_leaves_the_machines_redis_databases_as_they_were():
    if uses_postgres():
        pytest.skip("one run is enough: it runs in the embedded pass")
    host, port = MACHINE_REDIS
    databases = {db: redis.Redis(host=host, port=port, db=db) for db in (0, 1)}
    sentinel = f"codeai-test-sentinel-{uuid.uuid4().hex}"
    try:
        for db, client in databases.items():
            client.set(sentinel, f"db {db}", ex=3600)
    except redis.ConnectionError:
        missing(f"no Redis at {host}:{port} to hold a sentinel key")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CODEAI_") or name == "CODEAI_TEST_REQUIRE_SERVICES"
    }
    env["CODEAI_TEST_INNER_RUN"] = "1"
    env["CODEAI_TEST_DB_NAME"] = f"{os.environ.get('CODEAI_TEST_DB_NAME', 'codeai')}_hermetic"
    try:
        run = subprocess.run(
            ["scripts/test.sh", "-q", "-p", "no:cacheprovider", *INNER_TESTS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        assert "this run's own Redis: redis://127.0.0.1:" in output, output
        assert output.count("2 passed") == 2, output  # both passes ran both tests
        for db, client in databases.items():
            assert client.get(sentinel) == f"db {db}".encode(), f"database {db} lost its key"
    finally:
        for client in databases.values():
            client.delete(sentinel)
