"""Deployments in the admin: status badges and the config linked. Every change goes through
the services the API uses. ``executions.admin`` extends this admin with the last execution,
the recent executions and the Execute and Stop actions."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from codeai.kernel.admin_site import ServiceModelAdmin, status_badge
from deployments.models import Deployment
from deployments.services import deployment_create, deployment_delete, deployment_update


@admin.register(Deployment)
class DeploymentAdmin(ServiceModelAdmin):
    list_display = ["name", "status_badge", "config_link", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "config__name"]
    list_select_related = ["config"]
    autocomplete_fields = ["config"]
    fields = ["name", "config", "timeout_seconds", "status_badge", "id", "created_at", "updated_at"]
    readonly_fields = ["id", "status_badge", "created_at", "updated_at"]

    # --- columns ------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Deployment) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="config", ordering="config__name")
    def config_link(self, obj: Deployment) -> str:
        if obj.config is None:
            return "—"
        url = reverse("admin:configs_config_change", args=[obj.config_id])
        badge = "" if obj.config.is_valid else status_badge("invalid", "invalid")
        return format_html('<a href="{}">{}</a> {}', url, obj.config.name, badge)

    # --- saving and deleting through the services ----------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Deployment, form: forms.Form, change: bool
    ) -> None:
        fields = {name: form.cleaned_data[name] for name in ("name", "config", "timeout_seconds")}
        if change:
            deployment_update(deployment=obj, **fields)
        else:
            timeout = fields.pop("timeout_seconds")
            saved = deployment_create(**fields)
            if timeout is not None:
                saved = deployment_update(deployment=saved, timeout_seconds=timeout)
            obj.__dict__.update(saved.__dict__)

    def delete_object(self, obj: Deployment) -> None:
        deployment_delete(deployment=obj)
