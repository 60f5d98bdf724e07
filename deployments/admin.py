"""Deployments in the admin: status badges, the config linked, the revision it runs (pinned or
the latest) with "Promote latest" and "Roll back to…", its concurrency. Every change goes
through the services the API uses. ``executions.admin`` extends this admin with the last
execution, the recent executions and the Execute and Stop actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from codeai.kernel.admin_site import ServiceModelAdmin, status_badge
from codeai.kernel.exceptions import CodeAIError
from configs import selectors as config_selectors
from deployments.models import Concurrency, Deployment
from deployments.services import (
    deployment_create,
    deployment_delete,
    deployment_pin,
    deployment_update,
    revision_problem,
)

FORM_FIELDS = ("name", "config", "config_revision", "concurrency", "timeout_seconds")


class DeploymentForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = list(FORM_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A form posted without it (a script, an older page) keeps the default; a read-only
        # page (viewers) has no fields.
        if "concurrency" in self.fields:
            self.fields["concurrency"].required = False

    def clean_concurrency(self) -> str:
        return self.cleaned_data.get("concurrency") or Concurrency.PARALLEL

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        problem = revision_problem(
            config=cleaned.get("config"), number=cleaned.get("config_revision")
        )
        if problem:
            self.add_error("config_revision", problem)
        return cleaned


@admin.register(Deployment)
class DeploymentAdmin(ServiceModelAdmin):
    form = DeploymentForm
    list_display = ["name", "status_badge", "config_link", "updated_at"]
    list_filter = ["status", "concurrency"]
    search_fields = ["name", "config__name"]
    list_select_related = ["config"]
    autocomplete_fields = ["config"]
    fields = [
        "name",
        "config",
        "config_revision",
        "revision_panel",
        "concurrency",
        "timeout_seconds",
        "status_badge",
        "id",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["id", "status_badge", "revision_panel", "created_at", "updated_at"]

    def get_urls(self) -> list:
        extra = self.object_urls(
            [
                ("promote/", self.promote_view, "promote"),
                ("rollback/", self.rollback_view, "rollback"),
            ]
        )
        return [*extra, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_pin": self.has_change_permission(request)}
        return super().change_view(request, object_id, form_url, context)

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

    @admin.display(description="runs")
    def revision_panel(self, obj: Deployment) -> str:
        """Which revision an execution runs now: the pinned one, or the latest."""
        if obj.pk is None or obj.config is None:
            return "—"
        latest = config_selectors.config_latest_revision(config_id=obj.config_id)
        if latest is None:
            return "the config's text (it has no revision yet)"

        def link(number: int) -> str:
            url = reverse("admin:configs_config_revision", args=[obj.config_id, number])
            return format_html('<a href="{}">revision {}</a>', url, number)

        if obj.config_revision is None:
            return format_html(
                '<span id="codeai-runs">the latest revision: {}</span>', link(latest.number)
            )
        behind = ""
        if obj.config_revision != latest.number:
            behind = format_html(" (the latest is {})", link(latest.number))
        return format_html(
            '<span id="codeai-runs">pinned to {}{}</span>', link(obj.config_revision), behind
        )

    # --- promote and roll back ------------------------------------------------------------

    def _pin(self, request: HttpRequest, deployment: Deployment, number: int | None) -> None:
        try:
            deployment_pin(deployment=deployment, number=number)
        except (CodeAIError, ValidationError) as error:
            messages.error(request, f"{deployment.name}: {error}")
        else:
            messages.success(request, f"{deployment.name} now runs revision {number}.")

    def _back(self, deployment: Deployment) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:deployments_deployment_change", args=[deployment.pk])
        )

    def promote_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Promote latest": pin the config's latest revision (later saves wait for the next
        promotion)."""
        deployment = self.object_or_404(
            request, object_id, allowed=self.has_change_permission(request)
        )
        if request.method == "POST":
            latest = (
                config_selectors.config_latest_revision(config_id=deployment.config_id)
                if deployment.config_id
                else None
            )
            if latest is None:
                messages.error(request, f"{deployment.name}: its config has no revision")
            else:
                self._pin(request, deployment, latest.number)
        return self._back(deployment)

    def rollback_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Roll back to…": the config's revisions to choose from; posting one pins it."""
        deployment = self.object_or_404(
            request, object_id, allowed=self.has_change_permission(request)
        )
        if deployment.config_id is None:
            messages.error(request, f"{deployment.name}: it has no config")
            return self._back(deployment)
        if request.method == "POST":
            try:
                number = int(request.POST.get("number", ""))
            except ValueError:
                messages.error(request, "Choose a revision.")
            else:
                self._pin(request, deployment, number)
                return self._back(deployment)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll back {deployment.name}",
            "opts": self.opts,
            "original": deployment,
            "revisions": list(config_selectors.config_revisions(config_id=deployment.config_id)),
        }
        return TemplateResponse(request, "admin/deployments/deployment/rollback.html", context)

    # --- saving and deleting through the services ----------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Deployment, form: forms.Form, change: bool
    ) -> None:
        fields = {name: form.cleaned_data[name] for name in FORM_FIELDS}
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
