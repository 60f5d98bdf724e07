"""The API behind a real PgBouncer in transaction mode (the guide's pool_mode): gunicorn's
processes share two server connections, so consecutive transactions of one client land on
whichever is free; nothing of the app may rely on session state between them."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import missing, require_service, uses_postgres
from tests.deploy.support import CODEAI, free_port, pass_env, run_codeai, stop, wait_for_health

PGBOUNCER = "/usr/sbin/pgbouncer"
VALID_CONTENT = 'var greeting = "hello"\nexec { echo hello }\n'
SERVER_CONNECTIONS = 2

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def start_pgbouncer(folder: Path, port: int) -> subprocess.Popen:
    """PgBouncer on ``port`` in front of the pass's PostgreSQL. It refuses to run as root: as
    root it runs as ``postgres`` from ``folder``, which that user owns (pytest's own folders
    are closed to other users)."""
    db = settings.DATABASES["default"]
    (folder / "userlist.txt").write_text(f'"{db["USER"]}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={db["HOST"]} port={db["PORT"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 200
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""
    )
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        for path in folder.iterdir():
            shutil.chown(path, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    with (folder / "stderr.log").open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            psycopg.connect(
                host="127.0.0.1", port=port, dbname=db["NAME"], user=db["USER"], connect_timeout=2
            ).close()
            return process
        except psycopg.OperationalError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    logs = [path.read_text() for path in folder.glob("*.log")]
    raise AssertionError("pgbouncer did not start:\n" + "\n".join(logs))


@pytest.fixture(scope="module")
def pgbouncer_port() -> Iterator[int]:
    require_service("postgres")
    if not uses_postgres():
        pytest.skip("runs in the PostgreSQL pass, against its migrated test database")
    if not Path(PGBOUNCER).exists():
        missing("pgbouncer is not installed on this machine")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="codeai-pgbouncer-"))
    try:
        process = start_pgbouncer(folder, port)
        try:
            yield port
        finally:
            stop(process, timeout=10)
    finally:
        shutil.rmtree(folder)


def delete_configs(ids: list[int]) -> None:
    """Outside the test's transaction: the server's rows were committed."""
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"], autocommit=True
    ) as direct:
        # Django cascades to revisions itself; the database's foreign key does not.
        direct.execute("DELETE FROM configs_configrevision WHERE config_id = ANY(%s)", [ids])
        direct.execute("DELETE FROM configs_config WHERE id = ANY(%s)", [ids])


def api(
    port: int, method: str, path: str, body: dict | None = None, token: str = ""
) -> tuple[int, dict]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        client.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={
                "Host": "localhost",
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        response = client.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        client.close()


def test_connections_never_prepare_and_never_hold_cursors():
    """The two settings transaction pooling needs, as the backend applies them."""
    if not uses_postgres():
        pytest.skip("PostgreSQL settings")
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    connection.ensure_connection()
    assert connection.connection.prepare_threshold is None


def test_the_api_works_through_pgbouncer_in_transaction_mode(tmp_path, pgbouncer_port):
    env = pass_env(
        tmp_path / "data",
        CODEAI_DB_HOST="127.0.0.1",
        CODEAI_DB_PORT=str(pgbouncer_port),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
        GUNICORN_CMD_ARGS="--workers 2",
    )
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(CODEAI), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    prefix = f"pgb-{uuid.uuid4().hex[:8]}"
    created: list[int] = []
    password = uuid.uuid4().hex
    made = run_codeai(
        *(
            "manage",
            "createsuperuser",
            "--noinput",
            "--username",
            prefix,
            "--email",
            "pgbouncer@example.com",
        ),
        env=env | {"DJANGO_SUPERUSER_PASSWORD": password},
    )
    assert made.returncode == 0, made.stderr
    try:
        status, body = wait_for_health(log, port, server)
        assert status == 200, body
        status, body = api(
            port, "POST", "/api/auth/token/", {"username": prefix, "password": password}
        )
        assert status == 200, body
        token = body["access"]

        def create(number: int) -> tuple[int, dict]:
            return api(
                port,
                "POST",
                "/api/v1/configs/",
                {"name": f"{prefix}-{number}", "content": VALID_CONTENT},
                token,
            )

        # More clients than server connections: transactions interleave on shared ones.
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(create, range(24)))
        for status, body in results:
            assert status == 201, body
            created.append(body["id"])
        changed = VALID_CONTENT.replace("hello", "bonjour")
        for config_id in created[:6]:
            status, body = api(
                port, "PATCH", f"/api/v1/configs/{config_id}/", {"content": changed}, token
            )
            assert status == 200, body
            status, body = api(
                port, "PUT", f"/api/v1/configs/{config_id}/", {"name": "only"}, token
            )
            assert status == 400, body  # a clear 4xx, nothing lost
            status, body = api(port, "GET", f"/api/v1/configs/{config_id}/", token=token)
            assert (status, body["content"]) == (200, changed)
            status, body = api(port, "POST", f"/api/v1/configs/{config_id}/validate/", token=token)
            assert status == 200, body
        status, body = api(port, "GET", f"/api/v1/configs/?name={prefix}&limit=100", token=token)
        assert status == 200, body
        assert body["count"] == len(created)
        assert sorted(item["id"] for item in body["data"]) == sorted(created)
        for config_id in created:
            status, _ = api(port, "DELETE", f"/api/v1/configs/{config_id}/", token=token)
            assert status == 204
        created.clear()
        assert "Traceback" not in log.read_text()
    finally:
        returncode = stop(server, timeout=40)
        if created:  # what this test made, should an assertion have stopped it early
            delete_configs(created)
        run_codeai(
            *("manage", "shell", "-c"),
            "from django.contrib.auth import get_user_model as m;"
            f" m().objects.filter(username='{prefix}').delete()",
            env=env,
        )
    assert returncode == 0, log.read_text()
