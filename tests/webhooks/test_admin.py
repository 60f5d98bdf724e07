"""Webhooks in the admin: admins manage them, the secret and header values never reach the
page, an empty secret field keeps the stored secret; deliveries are read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from webhooks import services
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "admin-page-secret-never-shown"


def login(role: str) -> Client:
    user = User.objects.create_user(f"{role}-user", password="pw-123456")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def webhook() -> Webhook:
    return services.webhook_create(
        url="https://hooks.example.com/x",
        events=["execution.failed"],
        secret=SECRET,
        headers={"Authorization": "Bearer header-secret"},
    )


def test_the_change_page_shows_neither_secret_nor_header_values(webhook):
    admin = login("admin")

    for url in (
        reverse("admin:webhooks_webhook_changelist"),
        reverse("admin:webhooks_webhook_change", args=[webhook.pk]),
    ):
        page = admin.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert SECRET not in text
        assert "header-secret" not in text
        assert "**** (set)" in text


def test_saving_with_an_empty_secret_keeps_it_and_masked_headers_stay(webhook):
    admin = login("admin")

    response = admin.post(
        reverse("admin:webhooks_webhook_change", args=[webhook.pk]),
        {
            "url": "https://hooks.example.com/renamed",
            "events": ["execution.failed", "execution.succeeded"],
            "secret": "",
            "headers": '{"Authorization": "****", "X-Env": "prod"}',
            "deployment": "",
            "active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.example.com/renamed"
    assert webhook.secret == SECRET
    assert webhook.headers == {"Authorization": "Bearer header-secret", "X-Env": "prod"}
    assert webhook.events == ["execution.failed", "execution.succeeded"]


def test_a_bad_url_is_refused_with_the_reason(webhook):
    response = login("admin").post(
        reverse("admin:webhooks_webhook_add"),
        {"url": "ftp://example.com/", "events": [], "secret": "", "headers": "{}"},
    )

    assert response.status_code == 200
    assert "only http and https URLs are accepted" in response.content.decode()
    assert Webhook.objects.count() == 1


def test_deliveries_are_read_only_and_listed(webhook):
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        event="webhook.test",
        success=True,
        status_code=200,
        completed_at=timezone.now(),
    )
    admin = login("admin")

    assert admin.get(reverse("admin:webhooks_webhookdelivery_changelist")).status_code == 200
    page = admin.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert SECRET not in page.content.decode()


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_admins_see_webhooks(webhook, role):
    client = login(role)

    assert client.get(reverse("admin:webhooks_webhook_changelist")).status_code == 403
    assert client.get(reverse("admin:webhooks_webhook_change", args=[webhook.pk])).status_code in (
        302,
        403,
    )


def test_the_admin_sends_tests_and_sends_deliveries_again(webhook):
    admin = login("admin")

    response = admin.post(
        reverse("admin:webhooks_webhook_changelist"),
        {"action": "send_test", "_selected_action": [str(webhook.pk)]},
    )
    assert response.status_code == 302
    [test] = WebhookDelivery.objects.all()
    assert test.event == "webhook.test"
    WebhookDelivery.objects.filter(pk=test.pk).update(completed_at=timezone.now())

    response = admin.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "retry", "_selected_action": [str(test.pk)]},
    )
    assert response.status_code == 302
    again = WebhookDelivery.objects.exclude(pk=test.pk).get()
    assert again.retry_of_id == test.pk
    searched = admin.get(reverse("admin:webhooks_webhook_changelist"), {"q": "hooks.example"})
    assert searched.status_code == 200
    assert "hooks.example.com/x" in searched.content.decode()
