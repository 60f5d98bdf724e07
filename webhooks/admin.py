"""Webhooks and their deliveries in the admin: the secret is a password field that is never
filled in again (left empty, the stored one stays), header values are masked, deliveries are
read-only. Saves go through webhooks.services, like the API's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from codeai.kernel.admin_site import ServiceModelAdmin, status_badge
from codeai.kernel.exceptions import Conflict
from webhooks import services
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent


class WebhookForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Signs each delivery. Never shown; leave empty to keep the current one.",
    )
    clear_secret = forms.BooleanField(required=False, help_text="Remove the secret.")
    events = forms.MultipleChoiceField(
        required=False,
        choices=[(event, event) for event in WebhookEvent.subscribable()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Webhook
        fields = ["url", "events", "secret", "headers", "deployment", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Neither the secret nor the header values (secrets too) reach the page.
        self.initial["secret"] = ""
        if self.instance.pk:
            headers = self.instance.headers or {}
            self.initial["headers"] = {name: services.MASKED for name in headers}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            services.webhook_check(
                url=data.get("url") or "",
                events=data.get("events") or [],
                headers=data.get("headers") or {},
            )
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return data


@admin.register(Webhook)
class WebhookAdmin(ServiceModelAdmin):
    form = WebhookForm
    list_display = ["url", "events_text", "deployment", "active", "secret_set", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    list_select_related = ["deployment"]
    readonly_fields = ["id", "secret_set", "created_at", "updated_at"]
    fields = [
        "url",
        "events",
        "secret",
        "secret_set",
        "clear_secret",
        "headers",
        "deployment",
        "active",
        "id",
        "created_at",
        "updated_at",
    ]
    actions = ["send_test"]

    @admin.display(description="events")
    def events_text(self, obj: Webhook) -> str:
        return ", ".join(obj.events) or "—"

    @admin.display(description="secret")
    def secret_set(self, obj: Webhook) -> str:
        return "**** (set)" if obj.secret else "—"

    def save_model(self, request: HttpRequest, obj: Webhook, form: forms.Form, change: bool):
        data = form.cleaned_data
        fields = {name: data[name] for name in ("url", "events", "deployment", "active")}
        fields["headers"] = data["headers"] or {}
        if data["secret"]:
            fields["secret"] = data["secret"]
        elif data["clear_secret"]:
            fields["secret"] = ""
        if change:
            # The form wrote its (empty, masked) secret and headers onto ``obj``: the stored
            # ones come from the row.
            stored = Webhook.objects.get(pk=obj.pk)
            saved = services.webhook_update(webhook=stored, **fields)
        else:
            saved = services.webhook_create(**fields)
        obj.__dict__.update(saved.__dict__)

    def delete_object(self, obj: Webhook) -> None:
        services.webhook_delete(webhook=obj)

    @admin.action(description="Send a test delivery")
    def send_test(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        for webhook in queryset:
            services.webhook_test(webhook=webhook)
        messages.info(request, f"{queryset.count()} test deliveries queued")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "webhook",
        "outcome",
        "status_code",
        "attempts",
        "duration_ms",
    ]
    list_filter = ["success", "event"]
    list_select_related = ["webhook"]
    readonly_fields = [
        "id",
        "webhook",
        "event",
        "execution_id",
        "payload",
        "success",
        "status_code",
        "attempts",
        "duration_ms",
        "last_error",
        "response_excerpt",
        "retry_of",
        "created_at",
        "started_at",
        "completed_at",
    ]
    fields = readonly_fields
    actions = ["retry"]

    @admin.display(description="outcome", ordering="success")
    def outcome(self, obj: WebhookDelivery) -> str:
        if obj.completed_at is None:
            return status_badge("queued", "sending")
        if obj.success:
            return status_badge("succeeded", "delivered")
        return status_badge("failed", "failed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhook")

    @admin.action(description="Send again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = 0
        for delivery in queryset.select_related("webhook"):
            try:
                services.delivery_retry(delivery=delivery)
            except Conflict as error:
                messages.error(request, f"{delivery}: {error}")
            else:
                queued += 1
        if queued:
            messages.info(request, f"{queued} deliveries queued again")
