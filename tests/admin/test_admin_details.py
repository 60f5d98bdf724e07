"""Admin details an operator hit: login over plain HTTP, "View site", line ends of configs
saved from the editor, the editor's Check, and the live fields of a running execution."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from configs.models import Config
from executions.models import Execution, ExecutionStatus


@pytest.fixture
def from_server(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "server"]
    return Client(enforce_csrf_checks=True, HTTP_HOST="server:8080")


def test_admin_login_over_plain_http_sets_no_secure_cookie_and_works(from_server, make_user):
    """``http://server:8080``, no TLS proxy: a Secure cookie would be neither kept nor sent
    by a browser, and the login would fail its CSRF check."""
    user = make_user("viewer")
    form = from_server.get(reverse("admin:login"))
    csrf = form.cookies["csrftoken"]
    assert not csrf["secure"]

    response = from_server.post(
        reverse("admin:login"),
        {
            "username": user.username,
            "password": "pw-123456",
            "next": "/admin/",
            "csrfmiddlewaretoken": csrf.value,
        },
        HTTP_ORIGIN="http://server:8080",
    )

    assert response.status_code == 302, response.content.decode()[:500]
    assert not response.cookies["sessionid"]["secure"]
    assert from_server.get(reverse("admin:index")).status_code == 200


def test_view_site_goes_to_the_api_docs(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert '<a href="/api/docs/">View site</a>' in page
    assert admin_client.get("/api/docs/").status_code == 200


def test_a_config_saved_from_the_editor_keeps_unix_line_ends(admin_client):
    response = admin_client.post(
        reverse("admin:configs_config_add"),
        {"name": "typed", "content": "var a = 1\r\nprint(a)\r\n"},
    )

    assert response.status_code == 302
    assert Config.objects.get(name="typed").content == "var a = 1\nprint(a)\n"


def test_check_reports_positions_of_the_text_as_typed(admin_client):
    response = admin_client.post(
        reverse("admin:configs_config_check"), {"content": "var a = 1\r\nprint(b)\r\n"}
    )

    body = response.json()
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, 7)]
    assert "2 | print(b)\n" in body["html"]
    clean = admin_client.post(reverse("admin:configs_config_check"), {"content": "var a = 1\n"})
    assert clean.json()["valid"] is True
    assert "no problems" in clean.json()["html"]


def test_the_output_poll_carries_the_running_duration(admin_client, deployment):
    execution = Execution.objects.create(
        deployment=deployment,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now() - timezone.timedelta(seconds=5),
    )

    chunk = admin_client.get(
        reverse("admin:executions_execution_output", args=[execution.pk])
    ).json()

    assert chunk["status_label"] == "Running"
    assert chunk["duration"].endswith(" s so far")
    assert float(chunk["duration"].split()[0]) >= 5
