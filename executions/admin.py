"""Executions in the admin: read-only history with status badges and durations, the output
in a terminal panel that tails while the run goes on, a text download and a cancel button.
The list reads one indexed page and never counts the table, so it stays fast at any size."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ShowFacets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from codeai.admin_site import (
    LeanChangeList,
    PeekPaginator,
    ServiceModelAdmin,
    format_duration,
    status_badge,
)
from codeai.exceptions import CodeAIError
from codeai.roles import EDITOR, has_role
from executions import services
from executions.models import Execution, ExecutionStatus
from executions.selectors import execution_output_since


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
        "created_at",
    ]
    list_display_links = ["short_id"]
    list_filter = ["status", "deployment", "created_at"]
    search_fields = ["deployment__name", "triggered_by_name"]
    # The page walks the created_at index alone; deployments come in a second query.
    list_prefetch = ["deployment"]
    # The big columns stay in the database on the list: 100 rows of output can be megabytes.
    list_defer = ["output", "config_snapshot", "steps", "variables", "explanation"]
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
                    "status_badge",
                    "duration",
                    "trigger",
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
        "trigger",
        "output_panel",
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
        info = self.opts.app_label, self.opts.model_name
        views = [
            ("output/", self.output_view, "output"),
            ("output.txt", self.download_view, "download"),
            ("cancel/", self.cancel_view, "cancel"),
        ]
        extra = [
            path(
                f"<path:object_id>/{suffix}",
                self.admin_site.admin_view(view),
                name="{}_{}_{}".format(*info, name),
            )
            for suffix, view, name in views
        ]
        return [*extra, *super().get_urls()]

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: Any, obj: Any = None, **kwargs: Any
    ) -> HttpResponse:
        if obj is not None:
            context["subtitle"] = f"{obj.deployment.name}: execution {str(obj.pk)[:8]}"
        context["can_cancel"] = bool(
            obj and obj.status in ExecutionStatus.active() and self.has_cancel_permission(request)
        )
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
    def trigger(self, obj: Execution) -> str:
        return obj.triggered_by_name or "—"

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
        try:
            offset = int(request.GET.get("offset", 0))
        except ValueError:
            offset = 0
        try:
            chunk = execution_output_since(execution_id=object_id, offset=offset)
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

    @admin.action(description="Cancel selected executions", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        cancel_executions(request, queryset)
