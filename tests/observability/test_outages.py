"""The API while PostgreSQL is really down: a clear 503 JSON answer, and nothing half-written."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.observability.conftest import PYTHON, ROOT, app_env

SEED = """
import django; django.setup()
from django.contrib.auth.models import Group, User
from rest_framework_simplejwt.tokens import RefreshToken
from configs.services import config_create
from deployments.services import deployment_create
user = User.objects.create_user("erin", password="pw-erin-outage")
user.groups.add(Group.objects.get(name="editor"))
config = config_create(name="outage", content="exec { true }\\n")
deployment = deployment_create(name="outage-prod", config=config)
print(deployment.pk, RefreshToken.for_user(user).access_token)
"""

COUNT = """
import django; django.setup()
from executions.models import Execution
print(Execution.objects.count())
"""


def post(url: str, token: str, body: dict) -> tuple[int, str, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], json.load(error)


@pytest.mark.slow
def test_execute_with_postgresql_stopped_answers_503_and_writes_nothing(
    server_factory, throwaway_postgres
):
    database = {
        "CODEAI_DB_HOST": "127.0.0.1",
        "CODEAI_DB_PORT": str(throwaway_postgres.port),
        "CODEAI_DB_USER": "postgres",
        "CODEAI_DB_NAME": "postgres",
    }

    def python(script: str) -> str:
        return subprocess.run(
            [PYTHON, "-c", script], cwd=ROOT, env=app_env(**database), check=True,
            capture_output=True, text=True, timeout=120,
        ).stdout.strip()  # fmt: skip

    subprocess.run(
        [PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=app_env(**database), check=True,
        timeout=120,
    )  # fmt: skip
    deployment_id, token = python(SEED).split()
    server = server_factory(**database)
    execute = f"{server.url}/api/v1/deployments/{deployment_id}/execute/"

    throwaway_postgres.stop()
    try:
        started = time.monotonic()
        status, content_type, body = post(execute, token, {"variables": {"who": "ops"}})
        elapsed = time.monotonic() - started
    finally:
        throwaway_postgres.start()

    assert status == 503, body
    assert content_type == "application/json"
    assert body == {"error": "database unavailable, retry later"}
    assert elapsed < 5, f"the 503 took {elapsed:.1f}s"
    assert python(COUNT) == "0"
