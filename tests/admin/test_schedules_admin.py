"""Schedules in the admin: inline on the deployment's page with their next runs, their own
pages where editors add and change them through the service (a bad cron or time zone is
shown on its field), read-only for viewers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from schedules.models import Schedule
from schedules.services import schedule_create

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:schedules_schedule_add")


def deployment_url(deployment) -> str:
    return reverse("admin:deployments_deployment_change", args=[deployment.pk])


def test_the_deployment_page_lists_its_schedules_with_their_next_runs(admin_client, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 9 * * *", timezone="Asia/Tokyo")
    schedule_create(deployment=deployment, cron_spec="0 3 * * *", enabled=False)

    page = admin_client.get(deployment_url(deployment)).content.decode()

    assert "Schedules" in page
    runs = page.count(" 09:00 JST")
    assert runs == 3, page
    assert schedule.next_run_at is not None
    assert "— (disabled)" in page


def test_an_admin_changes_a_schedule_inline_through_the_service(admin_client, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 9 * * *")
    page = admin_client.get(deployment_url(deployment))
    form = {
        "name": deployment.name,
        "config": deployment.config_id,
        "timeout_seconds": "",
        "_save": "Save",
    }
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for field in management:
            form[field.html_name] = field.value()
    form.update(
        {
            "schedules-0-id": schedule.pk,
            "schedules-0-deployment": deployment.pk,
            "schedules-0-cron_spec": "30 6 * * *",
            "schedules-0-timezone": "Europe/Paris",
            "schedules-0-variables": '{"target": "eu"}',
            "schedules-0-enabled": "on",
        }
    )

    response = admin_client.post(deployment_url(deployment), form)

    assert response.status_code == 302, response.context and response.context["errors"]
    schedule.refresh_from_db()
    assert (schedule.cron_spec, schedule.timezone) == ("30 6 * * *", "Europe/Paris")
    assert schedule.variables == {"target": "eu"}
    assert schedule.next_run_at.astimezone().minute == 30


def test_an_editor_adds_a_schedule_on_its_page(client_for, deployment):
    editor = client_for("editor")

    response = editor.post(
        ADD_URL,
        {
            "deployment": deployment.pk,
            "cron_spec": "*/10 * * * *",
            "timezone": "UTC",
            "variables": "{}",
            "enabled": "on",
        },
    )

    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.deployment_id == deployment.pk
    assert schedule.next_run_at is not None
    assert schedule.next_run_at.minute % 10 == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cron_spec", "0 9 * *", "must have 5 fields"),
        ("timezone", "Nowhere/Land", "unknown time zone &#x27;Nowhere/Land&#x27;"),
        ("variables", '{"1bad": 1}', "&#x27;1bad&#x27; is not a valid variable name"),
    ],
)
def test_a_bad_field_is_shown_on_the_form(client_for, deployment, field, value, message):
    data = {
        "deployment": deployment.pk,
        "cron_spec": "0 9 * * *",
        "timezone": "UTC",
        "variables": "{}",
        "enabled": "on",
        field: value,
    }

    response = client_for("editor").post(ADD_URL, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Schedule.objects.exists()


def test_viewers_see_schedules_but_do_not_add_them(client_for, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 9 * * *")
    viewer = client_for("viewer")

    assert viewer.get(ADD_URL).status_code == 403
    change = reverse("admin:schedules_schedule_change", args=[schedule.pk])
    page = viewer.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


def test_an_editor_sees_the_inline_with_links_to_the_schedule_pages(client_for, deployment):
    schedule = schedule_create(deployment=deployment, cron_spec="0 9 * * *")

    page = client_for("editor").get(deployment_url(deployment)).content.decode()

    assert "0 9 * * *" in page
    assert reverse("admin:schedules_schedule_change", args=[schedule.pk]) in page


def test_an_admin_adds_a_schedule_inline_through_the_service(admin_client, deployment):
    page = admin_client.get(deployment_url(deployment))
    form = {"name": deployment.name, "config": deployment.config_id, "timeout_seconds": ""}
    for formset in page.context["inline_admin_formsets"]:
        for field in formset.formset.management_form:
            form[field.html_name] = field.value()
    form.update(
        {
            "schedules-TOTAL_FORMS": "1",
            "schedules-0-deployment": deployment.pk,
            "schedules-0-cron_spec": "15 * * * *",
            "schedules-0-timezone": "UTC",
            "schedules-0-variables": "{}",
            "schedules-0-enabled": "on",
        }
    )

    response = admin_client.post(deployment_url(deployment), form)

    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.deployment_id == deployment.pk
    assert schedule.next_run_at is not None
    assert schedule.next_run_at.minute == 15
