"""Deployments in the admin: status badges, the config linked, the last execution, and
"execute" (with a confirmation page that takes variables) and "stop" actions. Every change
goes through the services the API uses."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from codeai.admin_site import ServiceModelAdmin, format_duration, status_badge
from codeai.exceptions import CodeAIError
from codeai.roles import EDITOR, has_role
from deployments.models import Deployment
from deployments.services import deployment_create, deployment_delete, deployment_update
from executions import services as execution_services
from executions.admin import cancel_executions
from executions.models import Execution, ExecutionStatus

RECENT_EXECUTIONS = 10
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_variables(text: str) -> dict[str, Any]:
    """Variables as a JSON object, or as ``name=value`` lines (values stay strings; blank
    lines and ``#`` comments are skipped)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            variables = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"not valid JSON: {error}") from None
    else:
        variables = {}
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, equals, value = line.partition("=")
            if not equals:
                raise forms.ValidationError(f"line {number}: expected name=value, got {line!r}")
            variables[name.strip()] = value.strip()
    if not isinstance(variables, dict):
        raise forms.ValidationError("JSON variables must be an object")
    bad = [name for name in variables if not VARIABLE_NAME.match(name)]
    if bad:
        raise forms.ValidationError(f"not a variable name: {', '.join(bad)}")
    return variables


class ExecuteForm(forms.Form):
    variables = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "cols": 60,
                "spellcheck": "false",
                "class": "codeai-variables",
                "placeholder": 'name=value, one per line — or JSON: {"name": "value"}',
            }
        ),
        help_text="Injected into the program as predeclared variables.",
    )

    def clean_variables(self) -> dict[str, Any]:
        return parse_variables(self.cleaned_data["variables"])


class RecentExecutionInline(admin.TabularInline):
    """The deployment's newest executions, read-only."""

    model = Execution
    verbose_name_plural = f"recent executions (newest {RECENT_EXECUTIONS})"
    fields = ["status_badge", "created_at", "duration", "triggered_by_name", "explanation"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        object_id = (
            request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        )
        newest = (
            Execution.objects.filter(deployment_id=object_id)
            .order_by("-created_at")
            .values_list("pk", flat=True)[:RECENT_EXECUTIONS]
        )
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=list(newest))
            .defer("output", "config_snapshot", "steps", "variables")
            .order_by("-created_at")
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="status")
    def status_badge(self, obj: Execution) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="duration")
    def duration(self, obj: Execution) -> str:
        return format_duration(obj)


@admin.register(Deployment)
class DeploymentAdmin(ServiceModelAdmin):
    list_display = ["name", "status_badge", "config_link", "last_execution", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "config__name"]
    list_select_related = ["config"]
    autocomplete_fields = ["config"]
    fields = ["name", "config", "timeout_seconds", "status_badge", "id", "created_at", "updated_at"]
    readonly_fields = ["id", "status_badge", "created_at", "updated_at"]
    inlines = [RecentExecutionInline]
    actions = ["execute", "stop"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The newest execution per deployment in the same query (an indexed subquery per
        # row), not one query per row.
        newest = Execution.objects.filter(deployment=OuterRef("pk")).order_by("-created_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_execution_id=Subquery(newest.values("pk")[:1]),
                last_execution_status=Subquery(newest.values("status")[:1]),
                last_execution_at=Subquery(newest.values("created_at")[:1]),
            )
        )

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(
                "<path:object_id>/execute/",
                self.admin_site.admin_view(self.execute_view),
                name="{}_{}_execute".format(*info),
            ),
            path(
                "<path:object_id>/stop/",
                self.admin_site.admin_view(self.stop_view),
                name="{}_{}_stop".format(*info),
            ),
        ]
        return [*extra, *super().get_urls()]

    def get_inlines(self, request: HttpRequest, obj: Deployment | None) -> list:
        return self.inlines if obj else []

    def has_execute_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Editors (and admins) execute and stop, as in the API."""
        return has_role(request.user, EDITOR)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_execute": self.has_execute_permission(request)}
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

    @admin.display(description="last execution", ordering="last_execution_at")
    def last_execution(self, obj: Deployment) -> str:
        if not getattr(obj, "last_execution_id", None):
            return "never"
        return format_html(
            '<a href="{}">{}</a> {} ago',
            reverse("admin:executions_execution_change", args=[obj.last_execution_id]),
            status_badge(
                obj.last_execution_status, ExecutionStatus(obj.last_execution_status).label
            ),
            timesince(obj.last_execution_at, timezone.now()),
        )

    # --- saving and deleting through the services ----------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Deployment, form: forms.Form, change: bool
    ) -> None:
        fields = {name: form.cleaned_data[name] for name in ("name", "config", "timeout_seconds")}
        if change:
            deployment_update(deployment=obj, **fields)
        else:
            timeout = fields.pop("timeout_seconds")
            saved = deployment_create(user=request.user, **fields)
            if timeout is not None:
                saved = deployment_update(deployment=saved, timeout_seconds=timeout)
            obj.__dict__.update(saved.__dict__)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Executions are read-only history that goes with its deployment: deleting one
        # needs only the deployment's delete permission (admins), as in the API.
        perms_needed.discard(Execution._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_object(self, obj: Deployment) -> None:
        deployment_delete(deployment=obj)

    # --- execute and stop -----------------------------------------------------------------

    @admin.action(description="Execute selected deployments…", permissions=["execute"])
    def execute(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._execute_confirmation(request, list(queryset.select_related("config")))

    def execute_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        deployment = self.object_or_404(
            request, object_id, allowed=self.has_execute_permission(request)
        )
        return self._execute_confirmation(request, [deployment])

    def _execute_confirmation(
        self, request: HttpRequest, deployments: list[Deployment]
    ) -> HttpResponse | None:
        """The confirmation page; on confirm, one execution per deployment through the
        service, then the execution itself (one) or the executions list (several)."""
        form = ExecuteForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            started = []
            for deployment in deployments:
                try:
                    started.append(
                        execution_services.deployment_execute(
                            deployment=deployment,
                            user=request.user,
                            variables=form.cleaned_data["variables"],
                        )
                    )
                except CodeAIError as error:
                    messages.error(request, f"{deployment.name}: {error}")
                except ValidationError as error:
                    messages.error(request, f"{deployment.name}: {'; '.join(error.messages)}")
            if not started:
                return None if "action" in request.POST else HttpResponseRedirect(request.path)
            messages.success(request, f"Started {len(started)} execution(s).")
            if len(started) == 1:
                url = reverse("admin:executions_execution_change", args=[started[0].pk])
            else:
                url = reverse("admin:executions_execution_changelist")
            return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Execute " + ", ".join(d.name for d in deployments),
            "opts": self.opts,
            "deployments": deployments,
            "form": form,
            "selected_ids": [str(d.pk) for d in deployments],
            "action": request.POST.get("action", ""),
        }
        return TemplateResponse(
            request, "admin/deployments/deployment/execute_confirmation.html", context
        )

    @admin.action(
        description="Stop selected deployments (cancel their active executions)",
        permissions=["execute"],
    )
    def stop(self, request: HttpRequest, queryset: QuerySet) -> None:
        cancel_executions(request, Execution.objects.filter(deployment__in=queryset))

    def stop_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        deployment = self.object_or_404(
            request, object_id, allowed=self.has_execute_permission(request)
        )
        if request.method == "POST":
            cancel_executions(request, deployment.executions.all())
        return HttpResponseRedirect(
            reverse("admin:deployments_deployment_change", args=[deployment.pk])
        )
