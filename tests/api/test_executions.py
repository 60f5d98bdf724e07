"""Execution endpoints: shape, output tailing by offset, cancel through the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from executions.models import ExecutionStatus
from tests.api.conftest import make_execution

EXECUTION_KEYS = {
    "id",
    "deployment_id",
    "command",
    "status",
    "output",
    "exit_code",
    "explanation",
    "steps",
    "variables",
    "started_at",
    "completed_at",
    "duration_ms",
    "triggered_by",
    "trigger",
    "config_revision",
    "relaunch_of",
}
# The list shape (and a deployment's last execution): without the fields that can be large.
SUMMARY_KEYS = EXECUTION_KEYS - {"output", "steps", "variables"}


def test_execution_shape(client_for, deployment):
    started = timezone.now()
    step = {
        "index": 0,
        "command": "echo hello",
        "exit_code": 3,
        "started_at": started.isoformat(),
        "duration_ms": 12,
    }
    execution = make_execution(
        deployment,
        status=ExecutionStatus.FAILED,
        exit_code=3,
        explanation="exit code 3 in step 1",
        steps=[step],
        started_at=started,
        completed_at=started + timedelta(milliseconds=1500),
    )

    body = client_for("viewer").get(f"/api/v1/executions/{execution.pk}/").json()

    assert set(body) == EXECUTION_KEYS
    assert body["deployment_id"] == str(deployment.pk)
    assert body["duration_ms"] == 1500
    assert body["explanation"] == "exit code 3 in step 1"
    assert body["steps"][0]["command"] == "echo hello"
    assert body["triggered_by"] == "alice"
    assert body["trigger"] == "api"  # the default: rows from before triggers were recorded


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"output": "héllo\nworld\n", "offset": 0, "next_offset": 12}),
        ("?offset=6", {"output": "world\n", "offset": 6, "next_offset": 12}),
        ("?offset=12", {"output": "", "offset": 12, "next_offset": 12}),
        ("?offset=-4", {"output": "héllo\nworld\n", "offset": 0, "next_offset": 12}),
        ("?offset=abc", {"output": "héllo\nworld\n", "offset": 0, "next_offset": 12}),
    ],
)
def test_output_reads_from_a_character_offset(client_for, deployment, query, expected):
    execution = make_execution(deployment, status=ExecutionStatus.RUNNING, output="héllo\nworld\n")

    response = client_for("viewer").get(f"/api/v1/executions/{execution.pk}/output/{query}")

    assert response.status_code == 200
    assert response.json() == {**expected, "complete": False}


def test_output_is_complete_once_finished(client_for, deployment):
    execution = make_execution(deployment, status=ExecutionStatus.SUCCEEDED, output="done\n")

    body = client_for("viewer").get(f"/api/v1/executions/{execution.pk}/output/").json()

    assert body["complete"] is True


def test_cancel_a_queued_execution(client_for, execution):
    response = client_for("editor").post(f"/api/v1/executions/{execution.pk}/cancel/")

    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["explanation"] == "cancelled by editor-user"


def test_cancel_a_running_execution_asks_the_runner(client_for, deployment):
    running = make_execution(deployment, status=ExecutionStatus.RUNNING)

    response = client_for("editor").post(f"/api/v1/executions/{running.pk}/cancel/")

    assert response.status_code == 202
    running.refresh_from_db()
    assert running.cancel_requested_by == "editor-user"


def test_cancel_a_finished_execution_is_409(client_for, deployment):
    finished = make_execution(deployment, status=ExecutionStatus.SUCCEEDED)

    response = client_for("editor").post(f"/api/v1/executions/{finished.pk}/cancel/")

    assert response.status_code == 409
    assert response.json() == {"error": "execution already succeeded"}
