"""Schedule endpoints: create with its next run, a 400 that says why for a bad cron, time
zone or variables, update and delete; editors manage, viewers read (every route and role:
tests/api/test_routes.py)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from deployments.services import deployment_create
from schedules.cron import next_run
from schedules.models import Schedule
from schedules.services import schedule_create

pytestmark = pytest.mark.django_db

SCHEDULE_KEYS = {
    "id",
    "deployment_id",
    "cron_spec",
    "timezone",
    "variables",
    "enabled",
    "next_run_at",
    "last_run_at",
    "last_execution_id",
    "last_error",
    "created_at",
    "updated_at",
}


def url(deployment, schedule=None) -> str:
    base = f"/api/v1/deployments/{deployment.pk}/schedules/"
    return base if schedule is None else f"{base}{schedule.pk}/"


@pytest.fixture
def editor(client_for):
    return client_for("editor")


def test_create_answers_201_with_the_next_run_in_the_time_zone(editor, deployment):
    before = timezone.now()
    response = editor.post(
        url(deployment),
        {"cron_spec": "0 9 * * *", "timezone": "Europe/Paris", "variables": {"target": "eu"}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SCHEDULE_KEYS
    assert body["deployment_id"] == str(deployment.pk)
    assert body["enabled"] is True
    assert body["variables"] == {"target": "eu"}
    assert body["last_run_at"] is None
    next_run_at = datetime.fromisoformat(body["next_run_at"].replace("Z", "+00:00"))
    assert next_run_at == next_run("0 9 * * *", "Europe/Paris", after=before)
    assert next_run_at.astimezone(timezone.get_fixed_timezone(0)).minute == 0


def test_the_time_zone_defaults_to_utc(editor, deployment):
    body = editor.post(url(deployment), {"cron_spec": "*/5 * * * *"}, format="json").json()

    assert body["timezone"] == "UTC"
    assert body["variables"] == {}
    next_run_at = datetime.fromisoformat(body["next_run_at"].replace("Z", "+00:00"))
    assert next_run_at.minute % 5 == 0
    assert 0 < (next_run_at - timezone.now()).total_seconds() <= 300


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"cron_spec": "0 2 * *"},
            "cron_spec",
            "must have 5 fields (minute hour day-of-month month day-of-week), not 4",
        ),
        (
            {"cron_spec": "99 2 * * *"},
            "cron_spec",
            "not a valid cron expression: [99 2 * * *] is not acceptable, out of range",
        ),
        (
            {"cron_spec": "0 2 * * *", "timezone": "Moon/Tranquility"},
            "timezone",
            "unknown time zone 'Moon/Tranquility': use an IANA name such as 'UTC' or "
            "'Europe/Paris'",
        ),
        (
            {"cron_spec": "0 2 * * *", "variables": {"not a name": 1}},
            "variables",
            "'not a name' is not a valid variable name",
        ),
        (
            {"cron_spec": "0 2 * * *", "variables": {"LD_PRELOAD": "/tmp/x.so"}},
            "variables",
            "'LD_PRELOAD' is not allowed: it changes how programs load or start",
        ),
        ({"cron_spec": "0 2 * * *", "enabled": "yes"}, "enabled", "Must be true or false."),
        ({"cron_spec": 5}, "cron_spec", "Must be a string."),
        ({}, "cron_spec", "This field is required."),
    ],
)
def test_an_invalid_schedule_is_a_400_that_says_why(editor, deployment, body, field, message):
    response = editor.post(url(deployment), body, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": "validation failed", "details": {field: [message]}}
    assert not Schedule.objects.exists()


def test_list_and_get(client_for, deployment, config):
    first = schedule_create(deployment=deployment, cron_spec="0 2 * * *")
    second = schedule_create(deployment=deployment, cron_spec="0 3 * * *", enabled=False)
    viewer = client_for("viewer")

    listed = viewer.get(url(deployment)).json()
    assert [item["id"] for item in listed["data"]] == [str(first.pk), str(second.pk)]
    assert listed["count"] == 2
    assert viewer.get(url(deployment, second)).json()["next_run_at"] is None


def test_a_schedule_of_another_deployment_is_not_found(client_for, deployment):
    other = deployment_create(name="other")
    schedule = schedule_create(deployment=other, cron_spec="0 2 * * *")

    response = client_for("viewer").get(url(deployment, schedule))
    assert response.status_code == 404
    assert response.json() == {"error": "schedule not found"}


def test_patch_disables_and_enabling_again_works_the_next_run_out_from_now(editor, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="* * * * *")

    disabled = editor.patch(url(deployment, schedule), {"enabled": False}, format="json")
    assert disabled.status_code == 200
    assert disabled.json()["next_run_at"] is None
    assert disabled.json()["cron_spec"] == "* * * * *"

    enabled = editor.patch(url(deployment, schedule), {"enabled": True}, format="json").json()
    next_run_at = datetime.fromisoformat(enabled["next_run_at"].replace("Z", "+00:00"))
    assert 0 < (next_run_at - timezone.now()).total_seconds() <= 60


def test_put_replaces_and_a_bad_cron_changes_nothing(editor, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 2 * * *", timezone="Asia/Tokyo")

    bad = editor.put(url(deployment, schedule), {"cron_spec": "0 2 * * * *"}, format="json")
    assert bad.status_code == 400
    schedule.refresh_from_db()
    assert (schedule.cron_spec, schedule.timezone) == ("0 2 * * *", "Asia/Tokyo")

    body = editor.put(url(deployment, schedule), {"cron_spec": "0 4 * * *"}, format="json").json()
    assert (body["cron_spec"], body["timezone"]) == ("0 4 * * *", "UTC")


def test_writing_next_run_at_is_refused_naming_it(editor, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 2 * * *")

    response = editor.patch(
        url(deployment, schedule), {"next_run_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["details"] == {"next_run_at": ["read-only: follows the cron_spec"]}


def test_delete(editor, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 2 * * *")

    assert editor.delete(url(deployment, schedule)).status_code == 204
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_viewers_read_but_do_not_manage(client_for, deployment, method):
    schedule = schedule_create(deployment=deployment, cron_spec="0 2 * * *")
    viewer = client_for("viewer")
    target = url(deployment) if method == "post" else url(deployment, schedule)

    response = getattr(viewer, method)(target, {"cron_spec": "0 5 * * *"}, format="json")

    assert response.status_code == 403
    assert response.json() == {"error": "insufficient permissions"}
    assert Schedule.objects.get().cron_spec == "0 2 * * *"
