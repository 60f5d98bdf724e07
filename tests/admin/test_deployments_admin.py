"""Deployments in the admin: badges, config link, last execution, recent executions, and
the execute (with variables) and stop actions, all through the services."""

from __future__ import annotations

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from configs.services import config_create
from deployments.models import Deployment
from deployments.services import deployment_create
from executions.admin import parse_variables
from executions.models import Execution, ExecutionStatus
from tests.admin.conftest import INVALID_CONFIG, messages_of

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:deployments_deployment_changelist")


def execute_url(deployment: Deployment) -> str:
    return reverse("admin:deployments_deployment_execute", args=[deployment.pk])


def test_list_shows_status_badge_config_link_and_last_execution(admin_client, deployment):
    Execution.objects.create(deployment=deployment, status=ExecutionStatus.FAILED)
    newest = Execution.objects.create(deployment=deployment, status=ExecutionStatus.SUCCEEDED)
    page = admin_client.get(LIST_URL).content.decode()
    assert 'codeai-status-pending">Pending<' in page
    assert reverse("admin:configs_config_change", args=[deployment.config_id]) in page
    assert reverse("admin:executions_execution_change", args=[newest.pk]) in page
    assert 'codeai-status-succeeded">Succeeded</span></a> 0' in page


def test_list_query_count_does_not_grow_with_rows(admin_client, config):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST_URL).status_code == 200
        return len(captured)

    deployment_create(name="d0", config=config)
    few = list_queries()
    for index in range(1, 15):
        deployment = deployment_create(name=f"d{index}", config=config)
        Execution.objects.create(deployment=deployment)
    assert list_queries() == few


def test_change_page_lists_recent_executions_newest_first_and_limited(admin_client, deployment):
    for _ in range(12):
        Execution.objects.create(deployment=deployment)
    response = admin_client.get(
        reverse("admin:deployments_deployment_change", args=[deployment.pk])
    )
    inline = response.context["inline_admin_formsets"][0]
    shown = [form.original for form in inline]
    newest = list(Execution.objects.filter(deployment=deployment).order_by("-created_at")[:10])
    assert shown == newest
    assert b"Execute\xe2\x80\xa6" in response.content


def test_execute_asks_for_confirmation_and_variables_first(admin_client, deployment):
    page = admin_client.get(execute_url(deployment))
    assert page.status_code == 200
    assert b'name="variables"' in page.content
    assert Execution.objects.count() == 0


def test_execute_with_name_value_variables_starts_an_execution(admin_client, deployment):
    response = admin_client.post(
        execute_url(deployment), {"confirm": "yes", "variables": "who=world\n# note\nn=3"}
    )
    execution = Execution.objects.get()
    assert response["Location"] == reverse("admin:executions_execution_change", args=[execution.pk])
    assert execution.variables == {"who": "world", "n": "3"}
    assert execution.triggered_by_name == "admin"
    assert execution.trigger == "admin"


def test_execute_action_on_several_deployments_takes_json_variables(admin_client, config):
    first = deployment_create(name="one", config=config)
    second = deployment_create(name="two", config=config)
    selected = {"action": "execute", "_selected_action": [first.pk, second.pk]}
    confirmation = admin_client.post(LIST_URL, {**selected, "index": 0})
    assert b"these 2 deployments" in confirmation.content
    response = admin_client.post(
        LIST_URL, {**selected, "confirm": "yes", "variables": '{"n": 3, "debug": true}'}
    )
    assert response["Location"] == reverse("admin:executions_execution_changelist")
    assert {e.deployment.name for e in Execution.objects.all()} == {"one", "two"}
    assert all(e.variables == {"n": 3, "debug": True} for e in Execution.objects.all())


def test_execute_with_malformed_variables_shows_the_form_again(admin_client, deployment):
    response = admin_client.post(execute_url(deployment), {"confirm": "yes", "variables": "oops"})
    assert response.status_code == 200
    assert "line 1: expected name=value" in response.content.decode()
    assert Execution.objects.count() == 0


def test_execute_refuses_an_invalid_config_with_the_reason(admin_client):
    broken = deployment_create(
        name="broken", config=config_create(name="b", content=INVALID_CONFIG)
    )
    response = admin_client.post(execute_url(broken), {"confirm": "yes"}, follow=True)
    assert any("config is invalid" in message for message in messages_of(response))
    assert Execution.objects.count() == 0


def test_stop_cancels_the_active_executions(admin_client, deployment):
    queued = Execution.objects.create(deployment=deployment)
    done = Execution.objects.create(deployment=deployment, status=ExecutionStatus.SUCCEEDED)
    response = admin_client.post(
        reverse("admin:deployments_deployment_stop", args=[deployment.pk]), follow=True
    )
    queued.refresh_from_db()
    done.refresh_from_db()
    assert queued.status == ExecutionStatus.CANCELLED
    assert queued.explanation == "cancelled by admin"
    assert done.status == ExecutionStatus.SUCCEEDED
    assert any("Cancel requested for 1 execution" in m for m in messages_of(response))


def test_deleting_a_deployment_with_a_running_execution_is_refused(admin_client, deployment):
    Execution.objects.create(deployment=deployment, status=ExecutionStatus.RUNNING)
    response = admin_client.post(
        LIST_URL,
        {"action": "delete_selected", "_selected_action": [deployment.pk], "post": "yes"},
        follow=True,
    )
    assert Deployment.objects.filter(pk=deployment.pk).exists()
    assert any("cancel it first" in message for message in messages_of(response))


def test_add_goes_through_the_service_and_refuses_a_duplicate_name(admin_client, deployment):
    add_url = reverse("admin:deployments_deployment_add")
    response = admin_client.post(add_url, {"name": "new", "config": deployment.config_id})
    assert response.status_code == 302
    assert Deployment.objects.get(name="new").status == "pending"
    duplicate = admin_client.post(add_url, {"name": "hello-prod"})
    assert duplicate.status_code == 200
    assert Deployment.objects.filter(name="hello-prod").count() == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("a=1\n\n b = two words \n", {"a": "1", "b": "two words"}),
        ("url=http://x?a=b", {"url": "http://x?a=b"}),
        ('{"a": [1, 2], "b": "x"}', {"a": [1, 2], "b": "x"}),
    ],
)
def test_parse_variables_accepts_lines_and_json(text, expected):
    assert parse_variables(text) == expected


@pytest.mark.parametrize("text", ["{oops", "[1]", "9x=1", "a"])
def test_parse_variables_rejects_malformed_text(text):
    with pytest.raises(forms.ValidationError):
        parse_variables(text)


def test_delete_page_refusal_returns_to_the_deployment_with_the_reason(admin_client, deployment):
    Execution.objects.create(deployment=deployment, status=ExecutionStatus.QUEUED)
    response = admin_client.post(
        reverse("admin:deployments_deployment_delete", args=[deployment.pk]),
        {"post": "yes"},
        follow=True,
    )
    assert response.redirect_chain[0][0] == reverse(
        "admin:deployments_deployment_change", args=[deployment.pk]
    )
    assert any("cancel it first" in message for message in messages_of(response))
    assert Deployment.objects.filter(pk=deployment.pk).exists()
