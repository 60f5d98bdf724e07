"""Config revisions, pinned deployments, concurrency and relaunch through the API, on a real
Celery worker: the text an execution runs is the pinned revision's, a relaunch replays the
revision and the variables, ``queue`` runs one at a time in order, ``refuse`` answers 409, and
viewers (and, for pinning, editors) are refused."""

from __future__ import annotations

import itertools

import pytest

from configs.models import Config
from executions.models import Execution, ExecutionStatus
from tests.executions.conftest import celery_worker, wait_finished, wait_for  # noqa: F401

pytestmark = [
    # The worker sees committed rows: real commits, the role groups made again.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker", "role_groups"),
]

ONE = 'var who = "nobody"\nexec { echo "one $who" }\n'
TWO = 'var who = "nobody"\nexec { echo "two $who" }\n'
THREE = 'var who = "nobody"\nexec { echo "three $who" }\n'


@pytest.fixture
def admin(client_for):
    return client_for("admin")


@pytest.fixture
def editor(client_for):
    return client_for("editor")


@pytest.fixture
def viewer(client_for):
    return client_for("viewer")


def create_config(client, content: str = ONE) -> str:
    response = client.post("/api/v1/configs/", {"name": "web", "content": content}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def create_deployment(client, config_id: str, **fields) -> str:
    body = {"name": f"web-{len(fields)}-{config_id[:6]}", "config_id": config_id, **fields}
    response = client.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def execute(client, deployment_id: str, **variables) -> dict:
    response = client.post(
        f"/api/v1/deployments/{deployment_id}/execute/", {"variables": variables}, format="json"
    )
    assert response.status_code == 202, response.content
    return response.json()


def finished(execution_id: str, timeout: float = 30.0) -> Execution:
    return wait_finished(Execution.objects.get(pk=execution_id), timeout)


def test_revisions_are_numbered_listed_newest_first_and_read_by_number(editor, viewer):
    config_id = create_config(editor)
    url = f"/api/v1/configs/{config_id}/"
    editor.patch(url, {"content": TWO}, format="json")
    editor.patch(url, {"name": "renamed"}, format="json")  # no revision
    editor.put(url, {"name": "renamed", "content": TWO}, format="json")  # same text: none
    editor.patch(url, {"content": "print(nobody)\n"}, format="json")

    listed = viewer.get(f"{url}revisions/")
    one = viewer.get(f"{url}revisions/1/")

    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 3
    assert [item["number"] for item in body["data"]] == [3, 2, 1]
    assert set(body["data"][0]) == {
        "number",
        "is_valid",
        "validation_errors",
        "created_at",
        "created_by",
    }
    assert body["data"][0]["is_valid"] is False
    assert body["data"][2]["created_by"] == "editor-user"
    assert one.status_code == 200
    assert one.json()["content"] == ONE
    assert one.json()["is_valid"] is True
    for missing in ("4", "0", "abc", "99999999999999999999"):
        response = viewer.get(f"{url}revisions/{missing}/")
        assert response.status_code == 404
        assert response.json() == {"error": "revision not found"}


def test_a_pinned_deployment_runs_the_pinned_text_and_rolls_back(admin, editor):
    config_id = create_config(editor)
    editor.patch(f"/api/v1/configs/{config_id}/", {"content": TWO}, format="json")
    deployment_id = create_deployment(editor, config_id)
    url = f"/api/v1/deployments/{deployment_id}/"

    latest = finished(execute(editor, deployment_id)["id"])
    pinned = admin.patch(url, {"config_revision": 1}, format="json")
    rolled_back = finished(execute(editor, deployment_id)["id"])
    editor.patch(f"/api/v1/configs/{config_id}/", {"content": THREE}, format="json")
    still_pinned = finished(execute(editor, deployment_id)["id"])
    admin.patch(url, {"config_revision": None}, format="json")
    following = finished(execute(editor, deployment_id)["id"])

    assert (latest.config_revision, latest.output) == (2, "two nobody\n")
    assert pinned.status_code == 200, pinned.content
    assert pinned.json()["config_revision"] == 1
    assert (rolled_back.config_revision, rolled_back.output) == (1, "one nobody\n")
    assert rolled_back.config_snapshot == ONE
    assert (still_pinned.config_revision, still_pinned.output) == (1, "one nobody\n")
    assert (following.config_revision, following.output) == (3, "three nobody\n")
    assert admin.get(url).json()["config_revision"] is None


def test_an_unknown_or_mistyped_revision_is_400_and_only_admins_pin(admin, editor, viewer):
    config_id = create_config(editor)
    deployment_id = create_deployment(editor, config_id)
    url = f"/api/v1/deployments/{deployment_id}/"

    unknown = admin.patch(url, {"config_revision": 9}, format="json")
    as_text = admin.patch(url, {"config_revision": "1"}, format="json")
    too_large = admin.patch(url, {"config_revision": 2**31}, format="json")
    bad_policy = admin.patch(url, {"concurrency": "sometimes"}, format="json")
    by_editor = editor.patch(url, {"config_revision": 1}, format="json")
    by_viewer = viewer.patch(url, {"config_revision": 1}, format="json")
    on_create = editor.post(
        "/api/v1/deployments/",
        {"name": "pinned-bad", "config_id": config_id, "config_revision": 2},
        format="json",
    )

    assert unknown.status_code == 400
    assert unknown.json()["details"] == {"config_revision": ["config 'web' has no revision 9"]}
    assert as_text.status_code == 400
    assert as_text.json()["details"] == {"config_revision": ["Must be an integer."]}
    assert too_large.status_code == 400
    assert bad_policy.status_code == 400
    assert (by_editor.status_code, by_viewer.status_code) == (403, 403)
    assert on_create.status_code == 400
    assert admin.get(url).json()["config_revision"] is None


def test_relaunch_replays_the_revision_and_variables_unless_given_others(admin, editor, viewer):
    config_id = create_config(editor)
    deployment_id = create_deployment(editor, config_id)
    first = finished(execute(editor, deployment_id, who="alice")["id"])
    editor.patch(f"/api/v1/configs/{config_id}/", {"content": TWO}, format="json")

    again = editor.post(f"/api/v1/executions/{first.pk}/relaunch/", format="json")
    other = editor.post(
        f"/api/v1/executions/{first.pk}/relaunch/", {"variables": {"who": "bob"}}, format="json"
    )
    refused = viewer.post(f"/api/v1/executions/{first.pk}/relaunch/", format="json")

    assert (first.config_revision, first.output) == (1, "one alice\n")
    assert again.status_code == 202, again.content
    body = again.json()
    assert body["relaunch_of"] == str(first.pk)
    assert (first.trigger, body["trigger"]) == ("api", "relaunch")
    assert body["config_revision"] == 1
    assert body["variables"] == {"who": "alice"}
    assert body["deployment_id"] == deployment_id
    replayed = finished(body["id"])
    assert replayed.output == "one alice\n"  # revision 1, though the config is at 2 now
    assert replayed.status == ExecutionStatus.SUCCEEDED
    assert other.status_code == 202
    assert finished(other.json()["id"]).output == "one bob\n"
    assert refused.status_code == 403
    assert Execution.objects.filter(relaunch_of=first).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [({"variables": {"1bad": "x"}}, "variables"), ({"variabls": {"who": "bob"}}, "variabls")],
    ids=["bad variables", "misspelt key"],
)
def test_relaunch_refuses_a_bad_body_naming_the_field_and_runs_nothing(editor, body, field):
    config_id = create_config(editor)
    first = finished(execute(editor, create_deployment(editor, config_id))["id"])

    response = editor.post(f"/api/v1/executions/{first.pk}/relaunch/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == [field]
    assert not Execution.objects.filter(relaunch_of=first).exists()


def test_queue_runs_one_at_a_time_in_order(editor):
    config_id = create_config(editor, 'exec { sleep 1; echo "done $who" }\n')
    deployment_id = create_deployment(editor, config_id, concurrency="queue")

    ids = [execute(editor, deployment_id, who=str(index))["id"] for index in range(3)]
    waiting = Execution.objects.get(pk=ids[2])
    runs = [finished(execution_id, timeout=60) for execution_id in ids]

    assert waiting.status == ExecutionStatus.QUEUED
    assert [run.status for run in runs] == [ExecutionStatus.SUCCEEDED] * 3
    assert [run.output for run in runs] == ["done 0\n", "done 1\n", "done 2\n"]
    for before, after in itertools.pairwise(runs):
        assert after.started_at >= before.completed_at, (before.completed_at, after.started_at)


def test_parallel_runs_overlap(editor):
    """The control of the queue test: the same runs of a parallel deployment overlap (the
    worker runs two at a time)."""
    config_id = create_config(editor, "exec { sleep 2 }\n")
    deployment_id = create_deployment(editor, config_id)

    ids = [execute(editor, deployment_id)["id"] for _ in range(2)]
    first, second = (finished(execution_id, timeout=60) for execution_id in ids)

    assert second.started_at < first.completed_at


def test_queue_moves_on_when_the_running_one_is_cancelled(editor):
    config_id = create_config(editor, 'exec { sleep 30 }\nexec { echo "next $who" }\n')
    deployment_id = create_deployment(editor, config_id, concurrency="queue")
    first = execute(editor, deployment_id, who="1")["id"]
    second = execute(editor, deployment_id, who="2")["id"]

    wait_for_status(first, ExecutionStatus.RUNNING)
    editor.post(f"/api/v1/executions/{first}/cancel/")
    wait_for_status(second, ExecutionStatus.RUNNING, timeout=30)

    assert Execution.objects.get(pk=first).status == ExecutionStatus.CANCELLED
    editor.post(f"/api/v1/executions/{second}/cancel/")
    assert finished(second).status == ExecutionStatus.CANCELLED


def wait_for_status(execution_id: str, status: str, timeout: float = 20.0) -> None:
    wait_for(lambda: Execution.objects.get(pk=execution_id).status == status, timeout)


def test_refuse_answers_409_with_the_reason_while_one_is_active(editor):
    config_id = create_config(editor, "exec { sleep 2 }\n")
    deployment_id = create_deployment(editor, config_id, concurrency="refuse")
    first = execute(editor, deployment_id)["id"]

    refused = editor.post(f"/api/v1/deployments/{deployment_id}/execute/", format="json")
    relaunch_refused = editor.post(f"/api/v1/executions/{first}/relaunch/", format="json")
    finished(first)
    afterwards = editor.post(f"/api/v1/deployments/{deployment_id}/execute/", format="json")

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert "concurrency: refuse" in error
    assert first in error
    assert relaunch_refused.status_code == 409
    assert afterwards.status_code == 202
    assert Execution.objects.filter(deployment_id=deployment_id).count() == 2
    finished(afterwards.json()["id"])


def test_the_admin_role_changes_concurrency_editors_do_not(admin, editor):
    config_id = create_config(editor)
    deployment_id = create_deployment(editor, config_id)
    url = f"/api/v1/deployments/{deployment_id}/"

    by_editor = editor.patch(url, {"concurrency": "queue"}, format="json")
    by_admin = admin.patch(url, {"concurrency": "queue"}, format="json")

    assert by_editor.status_code == 403
    assert by_admin.status_code == 200
    assert by_admin.json()["concurrency"] == "queue"
    assert Config.objects.get(pk=config_id).revisions.count() == 1
