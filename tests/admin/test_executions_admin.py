"""Executions in the admin: read-only, badges and durations, a list that never counts the
table, the output panel's polling endpoint, the text download and cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from codeai.kernel.admin_site import PeekPaginator
from deployments.services import deployment_create
from executions.models import Execution, ExecutionStatus, ExecutionTrigger
from tests.admin.conftest import messages_of

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:executions_execution_changelist")


def change_url(execution: Execution) -> str:
    return reverse("admin:executions_execution_change", args=[execution.pk])


def list_sql(client, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(LIST_URL, params or {}).status_code == 200
    return [query["sql"] for query in captured]


def test_list_never_counts_and_keeps_its_query_count(admin_client, deployment):
    Execution.objects.create(deployment=deployment)
    few = list_sql(admin_client)
    other = deployment_create(name="other", config=deployment.config)
    Execution.objects.bulk_create(
        Execution(deployment=d, output="x" * 1000) for d in [deployment, other] * 120
    )
    many = list_sql(admin_client)
    # A short list is read once more whole (Django does that below one page); never more.
    assert len(many) <= len(few)
    execution_queries = [sql for sql in many if '"executions_execution"' in sql]
    assert not [sql for sql in execution_queries if "COUNT(" in sql.upper()]
    # The big columns stay in the database on the list, and the page is read without a
    # join (deployments come in a query of their own).
    assert all('"executions_execution"."output"' not in sql for sql in execution_queries)
    page_query = next(sql for sql in execution_queries if "LIMIT 101" in sql)
    assert "JOIN" not in page_query.upper()


def test_list_pages_forward_without_knowing_the_total(admin_client, deployment):
    Execution.objects.bulk_create(Execution(deployment=deployment) for _ in range(230))
    first = admin_client.get(LIST_URL)
    assert len(first.context["cl"].result_list) == 100
    assert first.context["cl"].paginator.num_pages == 2  # this page and "there is more"
    third = admin_client.get(LIST_URL, {"p": 3})
    assert len(third.context["cl"].result_list) == 30
    assert not third.context["cl"].multi_page or third.context["cl"].paginator.num_pages == 3
    assert b"Show all" not in first.content


def test_peek_paginator_reads_one_row_past_the_page():
    rows = list(range(250))
    page = PeekPaginator(rows, 100, 2).page(2)
    assert list(page.object_list) == list(range(100, 200))
    assert page.has_next()
    last = PeekPaginator(rows, 100, 3).page(3)
    assert list(last.object_list) == list(range(200, 250))
    assert not last.has_next()


def test_list_filters_by_status_deployment_and_date(admin_client, deployment):
    other = deployment_create(name="other", config=deployment.config)
    failed = Execution.objects.create(deployment=deployment, status=ExecutionStatus.FAILED)
    Execution.objects.create(deployment=other, status=ExecutionStatus.SUCCEEDED)
    old = Execution.objects.create(deployment=other, status=ExecutionStatus.SUCCEEDED)
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))

    def shown(params):
        return {e.pk for e in admin_client.get(LIST_URL, params).context["cl"].result_list}

    assert shown({"status__exact": "failed"}) == {failed.pk}
    assert shown({"deployment__id__exact": deployment.pk}) == {failed.pk}
    week = {"created_at__gte": str(timezone.now() - timedelta(days=7))}
    recent = shown(week)
    assert old.pk not in recent
    assert failed.pk in recent


def test_detail_is_read_only_with_badge_duration_and_trigger(admin_client, deployment):
    started = timezone.now() - timedelta(seconds=90)
    execution = Execution.objects.create(
        deployment=deployment,
        status=ExecutionStatus.SUCCEEDED,
        started_at=started,
        completed_at=started + timedelta(seconds=75),
        triggered_by_name="alice",
        trigger=ExecutionTrigger.SCHEDULE,
        output="line one\n<b>not bold</b>\n",
    )
    page = admin_client.get(change_url(execution)).content.decode()
    assert '<div class="readonly">Schedule</div>' in page
    assert f"<h2>hello-prod: execution {str(execution.pk)[:8]}</h2>" in page
    assert 'codeai-status-succeeded">Succeeded<' in page
    assert "1 min 15 s" in page
    assert "alice" in page
    assert 'id="codeai-output"' in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page
    assert 'data-complete="true"' in page
    assert 'name="_save"' not in page
    assert "Cancel execution" not in page
    assert admin_client.post(change_url(execution), {}).status_code == 403


def test_output_endpoint_returns_the_text_after_an_offset(admin_client, deployment):
    execution = Execution.objects.create(
        deployment=deployment, status=ExecutionStatus.RUNNING, output="hello\nwörld\n"
    )
    url = reverse("admin:executions_execution_output", args=[execution.pk])
    body = admin_client.get(url, {"offset": 6}).json()
    assert body == {
        "output": "wörld\n",
        "offset": 6,
        "next_offset": 12,
        "complete": False,
        "status": "running",
        "status_label": "Running",
        "duration": "—",  # never started: no started_at
    }
    assert admin_client.get(url, {"offset": 12}).json()["output"] == ""
    assert admin_client.get(url, {"offset": 10**30}).json()["output"] == ""
    assert admin_client.get(url, {"offset": "x"}).json()["output"] == "hello\nwörld\n"
    bad = reverse("admin:executions_execution_output", args=["not-a-uuid"])
    assert admin_client.get(bad).status_code == 404


def test_output_downloads_as_text(admin_client, deployment):
    execution = Execution.objects.create(deployment=deployment, output="all of it\n")
    response = admin_client.get(reverse("admin:executions_execution_download", args=[execution.pk]))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="execution-{execution.pk}.txt"'
    assert response.content == b"all of it\n"


def test_output_and_download_need_a_login(client, deployment):
    execution = Execution.objects.create(deployment=deployment, output="secret")
    for name in ("output", "download"):
        response = client.get(reverse(f"admin:executions_execution_{name}", args=[execution.pk]))
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_running_execution_shows_a_live_panel_and_a_cancel_button(admin_client, deployment):
    execution = Execution.objects.create(
        deployment=deployment, status=ExecutionStatus.RUNNING, started_at=timezone.now()
    )
    page = admin_client.get(change_url(execution)).content.decode()
    assert 'data-complete="false"' in page
    assert "Cancel execution" in page
    assert "so far" in page
    response = admin_client.post(
        reverse("admin:executions_execution_cancel", args=[execution.pk]), follow=True
    )
    execution.refresh_from_db()
    assert execution.cancel_requested_by == "admin"
    assert any("Cancel requested for 1 execution" in m for m in messages_of(response))


def test_cancel_needs_post(admin_client, deployment):
    execution = Execution.objects.create(deployment=deployment)
    url = reverse("admin:executions_execution_cancel", args=[execution.pk])
    assert admin_client.get(url).status_code == 405
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED


def test_cancel_action_cancels_only_active_ones(admin_client, deployment):
    queued = Execution.objects.create(deployment=deployment)
    done = Execution.objects.create(deployment=deployment, status=ExecutionStatus.FAILED)
    admin_client.post(
        LIST_URL, {"action": "cancel", "_selected_action": [queued.pk, done.pk], "index": 0}
    )
    queued.refresh_from_db()
    done.refresh_from_db()
    assert (queued.status, done.status) == (ExecutionStatus.CANCELLED, ExecutionStatus.FAILED)
