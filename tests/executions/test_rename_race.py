"""Renaming a deployment while its executions run never writes back a stale status: a real
worker moves the status while the API or the admin saves the deployment again and again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from deployments.models import Deployment, DeploymentStatus
from executions.models import Execution, ExecutionStatus
from tests.executions.conftest import wait_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

RUNS = 6


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "100000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password="unused-password")


def api_renamer(superuser) -> Callable[[Deployment, str], None]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(superuser)}")

    def rename(deployment: Deployment, name: str) -> None:
        response = client.patch(
            f"/api/v1/deployments/{deployment.pk}/", {"name": name}, format="json"
        )
        assert response.status_code == 200, response.content

    return rename


def admin_renamer(superuser) -> Callable[[Deployment, str], None]:
    client = Client()
    client.force_login(superuser)

    def rename(deployment: Deployment, name: str) -> None:
        url = f"/admin/deployments/deployment/{deployment.pk}/change/"
        # The inlines (executions, read-only; schedules) are not saved: empty management
        # forms will do.
        management = {
            f"{prefix}-{count}": "0"
            for prefix in ("executions", "schedules")
            for count in ("TOTAL_FORMS", "INITIAL_FORMS")
        }
        form = {"name": name, "config": str(deployment.config_id), "timeout_seconds": ""}
        response = client.post(url, {**form, **management})
        assert response.status_code == 302, response.context["adminform"].form.errors

    return rename


@pytest.mark.parametrize("renamer", [api_renamer, admin_renamer], ids=["api", "admin"])
def test_renames_while_executions_run_never_leave_a_stale_status(
    renamer, superuser, make_deployment
):
    rename = renamer(superuser)
    deployment = make_deployment("exec { sleep 0.3 }")
    renames = 0
    for run in range(RUNS):
        response = execute(superuser, deployment)
        execution = Execution.objects.get(pk=response["id"])
        # Saves keep coming while the worker claims, runs and finishes the execution, so
        # some land between reading the deployment and writing it back.
        while execution.status in ExecutionStatus.active():
            renames += 1
            rename(deployment, f"renamed-{run}-{renames}")
            execution.refresh_from_db()
        wait_finished(execution)
        for _ in range(3):
            rename(deployment, f"renamed-{run}-after-{renames}")
            renames += 1
        deployment.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        assert deployment.status == DeploymentStatus.COMPLETE, (
            f"run {run}: deployment {deployment.status} after its execution {execution.status}"
        )
    assert renames > RUNS * 4


def execute(user, deployment: Deployment) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    response = client.post(f"/api/v1/deployments/{deployment.pk}/execute/", {}, format="json")
    assert response.status_code == 202, response.content
    return response.json()
