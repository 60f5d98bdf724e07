"""The webhook API: admins only, the secret write-only, header values masked, validation
as 400s that say why, the list filters and envelope."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api.conftest import bearer_client, make_user
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "api-secret-never-echoed"


@pytest.fixture
def admin():
    return bearer_client(make_user("admin"))


def create(admin, **body):
    return admin.post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/x", **body}, format="json"
    )


def test_create_answers_201_without_the_secret(admin, make_deployment):
    deployment = make_deployment("exec { true }\n")
    response = create(
        admin,
        events=["execution.failed", "execution.timed_out"],
        secret=SECRET,
        headers={"Authorization": "Bearer chat-token"},
        deployment_id=str(deployment.pk),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert "secret" not in body
    assert SECRET not in response.content.decode()
    assert "chat-token" not in response.content.decode()
    assert body["has_secret"] is True
    assert body["headers"] == {"Authorization": "****"}
    assert body["events"] == ["execution.failed", "execution.timed_out"]
    assert body["deployment_id"] == str(deployment.pk)
    assert body["active"] is True
    stored = Webhook.objects.get(pk=body["id"])
    assert stored.secret == SECRET
    assert stored.headers == {"Authorization": "Bearer chat-token"}


def test_the_secret_is_never_echoed_by_any_read(admin):
    webhook_id = create(admin, secret=SECRET).json()["id"]

    for path in ("/api/v1/webhooks/", f"/api/v1/webhooks/{webhook_id}/"):
        response = admin.get(path)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
    html = admin.get(f"/api/v1/webhooks/{webhook_id}/", HTTP_ACCEPT="text/html")
    assert SECRET not in html.content.decode()


def test_updates_keep_the_secret_and_masked_header_values(admin):
    webhook_id = create(admin, secret=SECRET, headers={"X-Token": "t0k"}).json()["id"]

    replaced = admin.put(
        f"/api/v1/webhooks/{webhook_id}/",
        {"url": "http://hooks.example.com/y", "headers": {"X-Token": "****", "X-Env": "prod"}},
        format="json",
    )

    assert replaced.status_code == 200, replaced.content
    stored = Webhook.objects.get(pk=webhook_id)
    assert stored.secret == SECRET
    assert stored.headers == {"X-Token": "t0k", "X-Env": "prod"}
    assert stored.url == "http://hooks.example.com/y"
    cleared = admin.patch(f"/api/v1/webhooks/{webhook_id}/", {"secret": ""}, format="json")
    assert cleared.json()["has_secret"] is False
    stored.refresh_from_db()
    assert stored.secret == ""
    assert stored.headers == {"X-Token": "t0k", "X-Env": "prod"}  # a PATCH writes what it got


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "ftp://example.com/x"}, "url", "only http and https URLs are accepted"),
        ({"url": "file:///etc/passwd"}, "url", "only http and https URLs are accepted"),
        ({"url": "http:///nohost"}, "url", "the URL has no host"),
        ({"url": "http://u:p@example.com/"}, "url", "credentials in the URL are not accepted"),
        ({"url": "http://example.com:99999/"}, "url", "the port must be from 1 to 65535"),
        ({"url": 42}, "url", "Must be a string."),
        ({"events": ["execution.exploded"]}, "events", "is not a valid choice"),
        ({"events": ["webhook.test"]}, "events", "is not a valid choice"),
        ({"headers": {"Host": "evil"}}, "headers", "is set by the delivery itself"),
        ({"headers": {"X-Webhook-Signature": "x"}}, "headers", "is set by the delivery itself"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, "headers", "must not contain line breaks"),
        ({"headers": {"bad name": "x"}}, "headers", "is not a header name"),
        ({"headers": {"X-A": 1}}, "headers", "Must be a string."),
        ({"active": "yes"}, "active", "Must be true or false."),
        (
            {"deployment_id": "00000000-0000-0000-0000-000000000000"},
            "deployment_id",
            "No deployment",
        ),
        ({"has_secret": True}, "has_secret", "read-only"),
    ],
)
def test_bad_input_is_a_400_that_says_why(admin, body, field, message):
    response = admin.post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/x", **body}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation failed"
    assert message in str(response.json()["details"][field])
    assert not Webhook.objects.exists()


def test_the_list_filters_by_active_in_the_envelope(admin):
    active = create(admin).json()["id"]
    inactive = create(admin, active=False).json()["id"]

    everything = admin.get("/api/v1/webhooks/").json()
    assert set(everything) == {"data", "count", "limit", "offset", "next", "previous"}
    assert everything["count"] == 2
    assert [item["id"] for item in admin.get("/api/v1/webhooks/?active=true").json()["data"]] == [
        active
    ]
    assert [item["id"] for item in admin.get("/api/v1/webhooks/?active=false").json()["data"]] == [
        inactive
    ]


def test_deliveries_list_filters_by_success_newest_first(admin):
    webhook = Webhook.objects.get(pk=create(admin).json()["id"])
    now = timezone.now()
    ok = WebhookDelivery.objects.create(
        webhook=webhook, event="webhook.test", success=True, completed_at=now
    )
    bad = WebhookDelivery.objects.create(
        webhook=webhook, event="webhook.test", success=False, completed_at=now
    )
    path = f"/api/v1/webhooks/{webhook.pk}/deliveries/"

    assert [item["id"] for item in admin.get(path).json()["data"]] == [str(bad.pk), str(ok.pk)]
    assert [item["id"] for item in admin.get(f"{path}?success=true").json()["data"]] == [str(ok.pk)]
    assert [item["id"] for item in admin.get(f"{path}?success=false").json()["data"]] == [
        str(bad.pk)
    ]


def test_retrying_a_delivery_still_being_sent_is_a_409(admin):
    webhook = Webhook.objects.get(pk=create(admin).json()["id"])
    pending = WebhookDelivery.objects.create(webhook=webhook, event="webhook.test")

    response = admin.post(f"/api/v1/webhooks/deliveries/{pending.pk}/retry/")

    assert response.status_code == 409
    assert response.json() == {"error": "delivery is still being sent"}


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_may_not_see_webhooks(role):
    client = bearer_client(make_user(role))

    assert client.get("/api/v1/webhooks/").status_code == 403
    assert create(client, secret=SECRET).status_code == 403
    assert not Webhook.objects.exists()


def test_deleting_a_webhook_deletes_its_deliveries(admin):
    webhook = Webhook.objects.get(pk=create(admin).json()["id"])
    WebhookDelivery.objects.create(webhook=webhook, event="webhook.test")

    assert admin.delete(f"/api/v1/webhooks/{webhook.pk}/").status_code == 204
    assert not WebhookDelivery.objects.exists()


def _queries(admin, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert admin.get(path).status_code == 200
    return len(captured)


def test_lists_cost_the_same_queries_whatever_their_length(admin):
    webhook = Webhook.objects.get(pk=create(admin).json()["id"])
    WebhookDelivery.objects.create(webhook=webhook, event="webhook.test")
    deliveries = f"/api/v1/webhooks/{webhook.pk}/deliveries/"
    one = (_queries(admin, "/api/v1/webhooks/"), _queries(admin, deliveries))

    for _ in range(15):
        create(admin, secret=SECRET, headers={"X-A": "b"})
        WebhookDelivery.objects.create(webhook=webhook, event="webhook.test")

    assert (_queries(admin, "/api/v1/webhooks/"), _queries(admin, deliveries)) == one
