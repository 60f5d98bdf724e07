"""Deployment endpoints: shape, conflicts, strict config ids, execute through the service."""

from __future__ import annotations

import uuid

import pytest

from configs.services import config_create
from deployments.models import Deployment
from deployments.services import deployment_create, deployment_update
from executions.models import Execution, ExecutionStatus
from tests.api.conftest import SCOPE_ERROR_CONTENT, make_execution
from tests.conftest import PROGRAM_LOADING_NAMES

DEPLOYMENT_KEYS = {
    "id",
    "name",
    "config_id",
    "config_revision",
    "concurrency",
    "status",
    "created_at",
    "updated_at",
    "last_execution",
}


@pytest.fixture
def editor(client_for):
    return client_for("editor")


def test_create_is_pending_and_points_at_its_config(editor, config):
    response = editor.post("/api/v1/deployments/", {"name": "api", "config_id": str(config.pk)})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == DEPLOYMENT_KEYS
    assert body["status"] == "pending"
    assert body["config_id"] == str(config.pk)
    assert body["last_execution"] is None


def test_detail_shows_the_newest_execution(client_for, deployment):
    make_execution(deployment, status=ExecutionStatus.FAILED, exit_code=1)
    newest = make_execution(deployment, status=ExecutionStatus.SUCCEEDED, exit_code=0)

    body = client_for("viewer").get(f"/api/v1/deployments/{deployment.pk}/").json()

    assert body["last_execution"]["id"] == str(newest.pk)
    assert body["last_execution"]["status"] == "succeeded"
    assert body["last_execution"]["triggered_by"] == "alice"


def test_duplicate_name_is_409(editor, deployment):
    response = editor.post("/api/v1/deployments/", {"name": deployment.name})

    assert response.status_code == 409
    assert response.json() == {"error": "a deployment named 'web-prod' already exists"}


def test_renaming_onto_another_name_is_409(client_for, deployment):
    other = deployment_create(name="other")

    response = client_for("admin").patch(
        f"/api/v1/deployments/{other.pk}/", {"name": deployment.name}
    )

    assert response.status_code == 409
    other.refresh_from_db()
    assert other.name == "other"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_writing_the_status_is_400_saying_it_follows_executions(client_for, deployment, method):
    response = getattr(client_for("admin"), method)(
        f"/api/v1/deployments/{deployment.pk}/",
        {"name": "renamed", "status": "flying"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "validation failed",
        "details": {"status": ["read-only: status follows executions"]},
    }
    deployment.refresh_from_db()
    assert (deployment.name, deployment.status) == ("web-prod", "pending")


def test_writing_the_status_on_create_is_400(editor, db):
    response = editor.post(
        "/api/v1/deployments/", {"name": "new", "status": "running"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"status": ["read-only: status follows executions"]}
    assert not Deployment.objects.filter(name="new").exists()


def test_a_misspelt_field_on_create_is_400_naming_it_and_creates_nothing(editor, config):
    response = editor.post(
        "/api/v1/deployments/", {"name": "new", "config": str(config.pk)}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "validation failed",
        "details": {"config": ["unknown field"]},
    }
    assert not Deployment.objects.filter(name="new").exists()


def test_an_unknown_field_on_update_is_400_and_changes_nothing(client_for, deployment):
    response = client_for("admin").patch(
        f"/api/v1/deployments/{deployment.pk}/",
        {"name": "renamed", "timeout": 5},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"timeout": ["unknown field"]}
    deployment.refresh_from_db()
    assert deployment.name == "web-prod"


def test_a_body_read_back_and_put_with_a_new_name_is_accepted(client_for, deployment):
    admin = client_for("admin")
    url = f"/api/v1/deployments/{deployment.pk}/"
    body = admin.get(url).json()

    response = admin.put(url, {**body, "name": "renamed"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "renamed"


def test_an_update_writes_only_its_own_fields(client_for, deployment):
    """The status the worker wrote after the deployment was read survives the save."""
    admin = client_for("admin")
    stale = Deployment.objects.get(pk=deployment.pk)
    Deployment.objects.filter(pk=deployment.pk).update(status="complete")

    deployment_update(deployment=stale, name="renamed")

    assert stale.status == "complete"
    deployment.refresh_from_db()
    assert (deployment.name, deployment.status) == ("renamed", "complete")
    assert admin.get(f"/api/v1/deployments/{deployment.pk}/").json()["status"] == "complete"


@pytest.mark.parametrize(
    ("config_id", "message"),
    [
        (str(uuid.UUID(int=7)), f"No config with id {uuid.UUID(int=7)}."),
        ("not-a-uuid", "Must be a UUID string."),
        (123, "Must be a UUID string."),
        (True, "Must be a UUID string."),
    ],
)
def test_unknown_or_malformed_config_id_is_400(editor, db, config_id, message):
    response = editor.post("/api/v1/deployments/", {"name": "x", "config_id": config_id})

    assert response.status_code == 400
    assert response.json()["details"] == {"config_id": [message]}
    assert not Deployment.objects.exists()


def test_name_must_be_a_string(editor, db):
    response = editor.post("/api/v1/deployments/", {"name": 123})

    assert response.status_code == 400
    assert response.json()["details"] == {"name": ["Must be a string."]}


@pytest.mark.parametrize("status", ExecutionStatus.active())
def test_deleting_with_an_active_execution_is_409(client_for, deployment, status):
    make_execution(deployment, status=status)

    response = client_for("admin").delete(f"/api/v1/deployments/{deployment.pk}/")

    assert response.status_code == 409
    assert "queued or running" in response.json()["error"]
    assert Deployment.objects.filter(pk=deployment.pk).exists()


def test_deleting_with_only_finished_executions_removes_them(client_for, deployment):
    make_execution(deployment, status=ExecutionStatus.SUCCEEDED)

    response = client_for("admin").delete(f"/api/v1/deployments/{deployment.pk}/")

    assert response.status_code == 204
    assert not Execution.objects.exists()


def test_execute_queues_an_execution_with_the_variables(editor, deployment):
    response = editor.post(
        f"/api/v1/deployments/{deployment.pk}/execute/", {"variables": {"target": "eu"}}
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["command"] == "execute"
    assert body["variables"] == {"target": "eu"}
    assert body["triggered_by"] == "editor-user"
    assert body["trigger"] == "api"
    execution = Execution.objects.get(pk=body["id"])
    assert execution.triggered_by.username == "editor-user"
    assert execution.request_id == response["X-Request-ID"]


def test_execute_without_a_config_is_409(editor, db):
    bare = deployment_create(name="bare")

    response = editor.post(f"/api/v1/deployments/{bare.pk}/execute/")

    assert response.status_code == 409
    assert response.json() == {"error": "deployment has no config"}


def test_execute_with_an_invalid_config_is_409(editor, db):
    broken = deployment_create(
        name="broken", config=config_create(name="bad", content=SCOPE_ERROR_CONTENT)
    )

    response = editor.post(f"/api/v1/deployments/{broken.pk}/execute/")

    assert response.status_code == 409
    assert response.json()["error"].startswith("config is invalid")
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "variables", [[], "x", 1, {"bad name": "x"}, {"x": {"nested": 1}}, {"x": None}]
)
def test_execute_with_bad_variables_is_400(editor, deployment, variables):
    response = editor.post(
        f"/api/v1/deployments/{deployment.pk}/execute/", {"variables": variables}
    )

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["variables"]
    assert not Execution.objects.exists()


def test_execute_with_a_misspelt_key_is_400_naming_it_and_runs_nothing(editor, deployment):
    response = editor.post(
        f"/api/v1/deployments/{deployment.pk}/execute/",
        {"variabels": {"target": "eu"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "validation failed",
        "details": {"variabels": ["unknown field"]},
    }
    assert not Execution.objects.exists()


@pytest.mark.parametrize("name", PROGRAM_LOADING_NAMES)
def test_execute_with_a_variable_that_changes_program_loading_is_400_naming_it(
    editor, deployment, name
):
    response = editor.post(
        f"/api/v1/deployments/{deployment.pk}/execute/",
        {"variables": {"greeting": "hi", name: "/tmp/evil"}},
    )

    assert response.status_code == 400
    assert response.json()["details"]["variables"] == [
        f"'{name}' is not allowed: it changes how programs load or start"
    ]
    assert not Execution.objects.exists()
