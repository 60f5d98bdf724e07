"""Roles in the admin: members of the viewer, editor and admin groups enter without
``is_staff``; viewers see but cannot change, editors execute and cancel, only admins
delete deployments; users with no role stay out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from deployments.models import Deployment
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("admin:login")


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_role_members_log_in_without_is_staff(make_user, role):
    user = make_user(role)
    assert not user.is_staff
    client = Client()
    response = client.post(
        LOGIN_URL, {"username": user.username, "password": "pw-123456", "next": "/admin/"}
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_user_with_no_role_cannot_log_in(make_user):
    user = make_user(None)
    response = Client().post(LOGIN_URL, {"username": user.username, "password": "pw-123456"})
    assert response.status_code == 200
    assert b"Please enter the correct username and password" in response.content


def test_inactive_role_member_cannot_log_in(make_user):
    user = make_user("admin")
    user.is_active = False
    user.save()
    response = Client().post(LOGIN_URL, {"username": user.username, "password": "pw-123456"})
    assert response.status_code == 200


def test_viewer_sees_everything_but_changes_nothing(client_for, deployment):
    viewer = client_for("viewer")
    execution = Execution.objects.create(deployment=deployment, status=ExecutionStatus.RUNNING)
    for name, obj in [
        ("configs_config", deployment.config),
        ("deployments_deployment", deployment),
        ("executions_execution", execution),
    ]:
        assert viewer.get(reverse(f"admin:{name}_changelist")).status_code == 200
        page = viewer.get(reverse(f"admin:{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
    assert viewer.get(reverse("admin:configs_config_add")).status_code == 403
    edit = viewer.post(
        reverse("admin:configs_config_change", args=[deployment.config_id]),
        {"name": "x", "content": "var x = 1\n"},
    )
    assert edit.status_code == 403


def test_viewer_cannot_execute_or_cancel(client_for, deployment):
    viewer = client_for("viewer")
    execution = Execution.objects.create(deployment=deployment, status=ExecutionStatus.RUNNING)
    change = viewer.get(reverse("admin:deployments_deployment_change", args=[deployment.pk]))
    assert b"Execute\xe2\x80\xa6" not in change.content
    execute = reverse("admin:deployments_deployment_execute", args=[deployment.pk])
    assert viewer.get(execute).status_code == 403
    assert viewer.post(execute, {"confirm": "yes"}).status_code == 403
    listing = viewer.get(reverse("admin:deployments_deployment_changelist"))
    assert b'value="execute"' not in listing.content
    cancel = reverse("admin:executions_execution_cancel", args=[execution.pk])
    assert viewer.post(cancel).status_code == 403
    assert (
        b"Cancel execution"
        not in viewer.get(reverse("admin:executions_execution_change", args=[execution.pk])).content
    )
    assert Execution.objects.count() == 1
    execution.refresh_from_db()
    assert execution.cancel_requested_at is None


def test_editor_executes_and_cancels_but_cannot_delete_deployments(client_for, deployment):
    editor = client_for("editor")
    listing = editor.get(reverse("admin:deployments_deployment_changelist"))
    assert b'value="execute"' in listing.content
    assert b'value="stop"' in listing.content
    assert b'value="delete_selected"' not in listing.content
    execute = reverse("admin:deployments_deployment_execute", args=[deployment.pk])
    assert editor.post(execute, {"confirm": "yes", "variables": "a=1"}).status_code == 302
    execution = Execution.objects.get()
    cancel = reverse("admin:executions_execution_cancel", args=[execution.pk])
    assert editor.post(cancel).status_code == 302
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    delete = reverse("admin:deployments_deployment_delete", args=[deployment.pk])
    assert editor.post(delete, {"post": "yes"}).status_code == 403
    assert Deployment.objects.filter(pk=deployment.pk).exists()


def test_admin_role_deletes_deployments(client_for, deployment):
    admin = client_for("admin")
    delete = reverse("admin:deployments_deployment_delete", args=[deployment.pk])
    assert admin.post(delete, {"post": "yes"}).status_code == 302
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
