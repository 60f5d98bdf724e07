"""The admin index as a dashboard: counts by status, what runs now, the last failures with
their explanation and executions per hour over the last day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from executions import selectors
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


def test_index_shows_counts_running_failures_and_chart(admin_client, deployment):
    Execution.objects.create(deployment=deployment, status=ExecutionStatus.SUCCEEDED)
    running = Execution.objects.create(
        deployment=deployment, status=ExecutionStatus.RUNNING, started_at=timezone.now()
    )
    Execution.objects.create(
        deployment=deployment, status=ExecutionStatus.FAILED, explanation="exit code 3 in step 2"
    )
    response = admin_client.get(reverse("admin:index"))
    page = response.content.decode()
    dashboard = response.context["dashboard"]
    counts = {row["status"]: row["count"] for row in dashboard["execution_counts"]}
    assert counts == {
        "queued": 0,
        "running": 1,
        "succeeded": 1,
        "failed": 1,
        "timed_out": 0,
        "cancelled": 0,
    }
    assert [e.pk for e in dashboard["active"]] == [running.pk]
    assert "exit code 3 in step 2" in page
    assert page.count('class="codeai-chart-col"') == 24
    assert dashboard["chart"]["total"] == 3
    assert 'id="dash-failures"' in page


def test_index_query_count_does_not_grow_with_executions(
    admin_client, deployment, django_assert_max_num_queries
):
    Execution.objects.bulk_create(
        Execution(deployment=deployment, status=status) for status in ExecutionStatus.values * 20
    )
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:index"))


def test_per_hour_series_has_every_hour_and_counts_failures(deployment):
    now = timezone.now().replace(minute=30)
    rows = [
        (now, ExecutionStatus.SUCCEEDED),
        (now, ExecutionStatus.FAILED),
        (now - timedelta(hours=2), ExecutionStatus.TIMED_OUT),
        (now - timedelta(hours=30), ExecutionStatus.SUCCEEDED),  # older than a day
    ]
    for created_at, status in rows:
        execution = Execution.objects.create(deployment=deployment, status=status)
        Execution.objects.filter(pk=execution.pk).update(created_at=created_at)
    series = selectors.executions_per_hour(hours=24, now=now)
    assert len(series) == 24
    assert series[-1]["hour"] == now.replace(minute=0, second=0, microsecond=0)
    assert (series[-1]["total"], series[-1]["failed"]) == (2, 1)
    assert (series[-3]["total"], series[-3]["failed"]) == (1, 1)
    assert sum(bucket["total"] for bucket in series) == 3


def test_viewers_see_the_dashboard_and_users_without_a_role_do_not(client_for, deployment):
    assert "dashboard" in client_for("viewer").get(reverse("admin:index")).context
    outsider = client_for(None).get(reverse("admin:index"))
    assert outsider.status_code == 302


def test_index_warns_when_exec_steps_run_unsandboxed(admin_client, settings):
    settings.EXEC_SANDBOX = "off"
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="dash-sandbox-warning"' in page
    assert "exec steps run unsandboxed (CODEAI_EXEC_SANDBOX=off)" in page


def test_index_has_no_sandbox_warning_by_default(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "dash-sandbox-warning" not in page
