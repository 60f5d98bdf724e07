"""Executions in the admin: read-only history with status badges and durations, the output
in a terminal panel that tails while the run goes on, a text download and a cancel button.
The list reads one indexed page and never counts the table, so it stays fast at any size.

The deployment admin is extended here with what joins a deployment to its runs: the last
execution, the recent executions, and "execute" (with a confirmation page that takes
variables) and "stop" actions."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import ShowFacets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from codeai.kernel.admin_site import (
    LeanChangeList,
    PeekPaginator,
    ServiceModelAdmin,
    format_duration,
    status_badge,
)
from codeai.kernel.exceptions import CodeAIError
from codeai.kernel.roles import EDITOR, has_role
from deployments import admin as deployment_admin
from deployments.models import Deployment
from executions import selectors, services
from executions.models import Execution, ExecutionStatus, ExecutionTrigger

RECENT_EXECUTIONS = 10


def cancel_executions(request: HttpRequest, executions: QuerySet) -> None:
    """Cancel the queued and running ones among ``executions`` through the service, and
    tell the operator what happened."""
    cancelled = 0
    active = executions.filter(status__in=ExecutionStatus.active()).select_related("deployment")
    for execution in active:
        try:
            services.execution_cancel(execution=execution, user=request.user)
        except CodeAIError as error:
            messages.error(request, f"{execution.deployment.name}: {error}")
        else:
            cancelled += 1
    if cancelled:
        messages.info(
            request, f"Cancel requested for {cancelled} execution(s); workers stop within a second."
        )
    else:
        messages.warning(request, "Nothing to cancel: no queued or running execution.")


@admin.register(Execution)
class ExecutionAdmin(ServiceModelAdmin):
    list_display = [
        "short_id",
        "deployment_name",
        "status_badge",
        "duration",
        "trigger",
        "started_by",
        "created_at",
    ]
    list_display_links = ["short_id"]
    list_filter = ["status", "trigger", "deployment", "created_at"]
    search_fields = ["deployment__name", "triggered_by_name"]
    # The page walks the created_at index alone; deployments come in a second query.
    list_prefetch = ["deployment"]
    # The big columns stay in the database on the list: 100 rows of output can be megabytes.
    list_defer = [*Execution.HEAVY_FIELDS, "explanation"]
    # Never count the table: no "N total", no facet counts, no "show all".
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_max_show_all = 0
    actions = ["cancel"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "deployment",
                    "revision_link",
                    "relaunch_link",
                    "status_badge",
                    "duration",
                    "trigger",
                    "started_by",
                    "exit_code",
                    "explanation",
                    "created_at",
                    "started_at",
                    "completed_at",
                ]
            },
        ),
        ("Output", {"fields": ["output_panel"]}),
        (
            "Run details",
            {
                "fields": [
                    "id",
                    "command",
                    "variables",
                    "steps",
                    "config_snapshot",
                    "worker",
                    "request_id",
                    "heartbeat_at",
                    "cancel_requested_at",
                    "cancel_requested_by",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    readonly_fields = [
        *(field.name for field in Execution._meta.fields),
        "status_badge",
        "duration",
        "started_by",
        "output_panel",
        "revision_link",
        "relaunch_link",
    ]

    class Media:
        js = ["codeai/admin/terminal.js"]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type:
        return LeanChangeList

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet, per_page: int, **kwargs: Any
    ) -> PeekPaginator:
        try:
            page_number = int(request.GET.get("p", 1))
        except ValueError:
            page_number = 1
        return PeekPaginator(queryset, per_page, page_number, **kwargs)

    # History is written by workers only: nobody adds, edits or deletes it here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Editors (and admins) cancel, as in the API."""
        return has_role(request.user, EDITOR)

    def get_urls(self) -> list:
        extra = self.object_urls(
            [
                ("output/", self.output_view, "output"),
                ("output.txt", self.download_view, "download"),
                ("cancel/", self.cancel_view, "cancel"),
                ("relaunch/", self.relaunch_view, "relaunch"),
            ]
        )
        return [*extra, *super().get_urls()]

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: Any, obj: Any = None, **kwargs: Any
    ) -> HttpResponse:
        if obj is not None:
            context["subtitle"] = f"{obj.deployment.name}: execution {str(obj.pk)[:8]}"
        context["can_cancel"] = bool(
            obj and obj.status in ExecutionStatus.active() and self.has_cancel_permission(request)
        )
        context["can_relaunch"] = bool(obj and self.has_cancel_permission(request))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    # --- columns and fields ---------------------------------------------------------------

    @admin.display(description="execution", ordering="created_at")
    def short_id(self, obj: Execution) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="deployment", ordering="deployment__name")
    def deployment_name(self, obj: Execution) -> str:
        return obj.deployment.name

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Execution) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="duration")
    def duration(self, obj: Execution) -> str:
        return format_duration(obj)

    @admin.display(description="triggered by", ordering="triggered_by_name")
    def started_by(self, obj: Execution) -> str:
        return obj.triggered_by_name or "—"

    @admin.display(description="config revision")
    def revision_link(self, obj: Execution) -> str:
        config_id = obj.deployment.config_id
        if obj.config_revision is None:
            return "— (the text it ran is under Run details)"
        if config_id is None:
            return f"revision {obj.config_revision}"
        url = reverse("admin:configs_config_revision", args=[config_id, obj.config_revision])
        return format_html(
            '<a href="{}" id="codeai-revision-link">revision {}</a>', url, obj.config_revision
        )

    @admin.display(description="relaunch of")
    def relaunch_link(self, obj: Execution) -> str:
        if obj.relaunch_of_id is None:
            return "—"
        url = reverse("admin:executions_execution_change", args=[obj.relaunch_of_id])
        return format_html('<a href="{}">execution {}</a>', url, str(obj.relaunch_of_id)[:8])

    @admin.display(description="output")
    def output_panel(self, obj: Execution) -> str:
        active = obj.status in ExecutionStatus.active()
        return format_html(
            '<div class="codeai-terminal-wrap">'
            '<div class="codeai-terminal-bar">{} <span class="codeai-live"{}>live — following'
            ' the output</span> <a href="{}" download>Download as text</a>{}</div>'
            '<pre class="codeai-terminal" id="codeai-output" data-url="{}" data-offset="{}"'
            ' data-complete="{}" tabindex="0">{}</pre></div>',
            status_badge(obj.status, obj.get_status_display()),
            "" if active else mark_safe(" hidden"),
            reverse("admin:executions_execution_download", args=[obj.pk]),
            format_html(" <span class='codeai-muted'>(truncated at the output cap)</span>")
            if obj.output_truncated
            else "",
            reverse("admin:executions_execution_output", args=[obj.pk]),
            len(obj.output),
            "false" if active else "true",
            obj.output,
        )

    # --- output and cancel ----------------------------------------------------------------

    def output_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """What the terminal panel polls: ``{output, offset, next_offset, complete, status}``
        for the text after ``?offset=N`` characters (the API's output endpoint's shape)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        offset = selectors.output_offset(request.GET.get("offset"))
        try:
            chunk = selectors.execution_output_since(execution_id=object_id, offset=offset)
        except ValidationError:  # not a UUID: as unknown as any other id
            chunk = None
        if chunk is None:
            return JsonResponse({"error": "execution not found"}, status=404)
        chunk["status_label"] = ExecutionStatus(chunk["status"]).label
        times = Execution.objects.filter(pk=object_id).values("started_at", "completed_at").get()
        chunk["duration"] = format_duration(SimpleNamespace(**times))
        return JsonResponse(chunk)

    def download_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        execution = self.object_or_404(
            request, object_id, allowed=self.has_view_permission(request)
        )
        response = HttpResponse(execution.output, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="execution-{execution.pk}.txt"'
        return response

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        execution = self.object_or_404(
            request, object_id, allowed=self.has_cancel_permission(request)
        )
        cancel_executions(request, Execution.objects.filter(pk=execution.pk))
        return HttpResponseRedirect(
            reverse("admin:executions_execution_change", args=[execution.pk])
        )

    def relaunch_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Relaunch": the same deployment, revision and text, with the variables prefilled
        (editable); on confirm the new execution, through the service."""
        execution = self.object_or_404(
            request, object_id, allowed=self.has_cancel_permission(request)
        )
        initial = {"variables": json.dumps(execution.variables, indent=2)}
        form = ExecuteForm(request.POST if request.method == "POST" else None, initial=initial)
        if form.is_bound and form.is_valid():
            try:
                relaunched = services.execution_relaunch(
                    execution=execution,
                    user=request.user,
                    variables=form.cleaned_data["variables"],
                )
            except CodeAIError as error:
                messages.error(request, str(error))
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))
            else:
                messages.success(request, f"Relaunched as execution {str(relaunched.pk)[:8]}.")
                return HttpResponseRedirect(
                    reverse("admin:executions_execution_change", args=[relaunched.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Relaunch execution {str(execution.pk)[:8]} of {execution.deployment.name}",
            "opts": self.opts,
            "original": execution,
            "form": form,
        }
        return TemplateResponse(request, "admin/executions/execution/relaunch.html", context)

    @admin.action(description="Cancel selected executions", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        cancel_executions(request, queryset)


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
    bad = [name for name in variables if not services.VARIABLE_NAME.fullmatch(name)]
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
    fields = [
        "status_badge",
        "created_at",
        "duration",
        "trigger",
        "triggered_by_name",
        "explanation",
    ]
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
            .defer(*Execution.HEAVY_FIELDS)
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


admin.site.unregister(Deployment)


@admin.register(Deployment)
class DeploymentAdmin(deployment_admin.DeploymentAdmin):
    list_display = ["name", "status_badge", "config_link", "last_execution", "updated_at"]
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

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Executions are read-only history that goes with its deployment: deleting one
        # needs only the deployment's delete permission (admins), as in the API.
        perms_needed.discard(Execution._meta.verbose_name)
        return deleted, counts, perms_needed, protected

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
                        services.deployment_execute(
                            deployment=deployment,
                            user=request.user,
                            variables=form.cleaned_data["variables"],
                            trigger=ExecutionTrigger.ADMIN,
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
