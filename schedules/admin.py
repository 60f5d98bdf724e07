"""Schedules in the admin: their own pages (editors add, change and delete them), and inline
on the deployment's page with the next runs listed. Every change goes through
schedules.services, as in the API.

The deployment admin (executions' extension of it) is extended once more here with the
inline: deployments know nothing of schedules."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from codeai.kernel.admin_site import ServiceModelAdmin
from deployments.models import Deployment
from executions import admin as executions_admin
from schedules import cron, services
from schedules.models import Schedule

NEXT_RUNS = 3
FIELDS = ("cron_spec", "timezone", "variables", "enabled")


class ScheduleForm(forms.ModelForm):
    """Checks the fields as the API does, each error on its field."""

    class Meta:
        model = Schedule
        fields = ["deployment", *FIELDS]
        widgets = {
            "variables": forms.Textarea(
                attrs={"rows": 2, "cols": 40, "spellcheck": "false", "placeholder": "{}"}
            )
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            services.schedule_check(
                cron_spec=data.get("cron_spec", ""),
                timezone=data.get("timezone", ""),
                variables=data.get("variables") or {},
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


def _save(schedule: Schedule, form: forms.ModelForm) -> Schedule:
    fields = {name: form.cleaned_data[name] for name in FIELDS if name in form.cleaned_data}
    fields["variables"] = fields.get("variables") or {}
    if schedule._state.adding:
        return services.schedule_create(deployment=form.cleaned_data["deployment"], **fields)
    changed = {name: value for name, value in fields.items() if name in form.changed_data}
    return services.schedule_update(schedule=schedule, **changed)


class ScheduleColumns:
    """What the schedule pages and the deployment page's inline show of a schedule."""

    @admin.display(description="next runs")
    def next_runs(self, obj: Schedule) -> str:
        if obj.pk is None or not obj.enabled or obj.next_run_at is None:
            return "— (disabled)" if obj.pk is not None else "—"
        zone = ZoneInfo(obj.timezone)
        runs = [obj.next_run_at]
        runs += cron.next_runs(
            obj.cron_spec, obj.timezone, after=obj.next_run_at, count=NEXT_RUNS - 1
        )
        return format_html_join(
            mark_safe("<br>"),
            "{}",
            ((run.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),) for run in runs),
        )

    @admin.display(description="last run")
    def last_outcome(self, obj: Schedule) -> str:
        if obj.last_run_at is None:
            return "never"
        when = timezone.localtime(obj.last_run_at).strftime("%Y-%m-%d %H:%M:%S")
        if obj.last_error:
            return format_html("{}: {}", when, obj.last_error)
        if obj.last_execution_id is None:
            return when
        url = reverse("admin:executions_execution_change", args=[obj.last_execution_id])
        short_id = str(obj.last_execution_id)[:8]
        return format_html('{}: <a href="{}">execution {}</a>', when, url, short_id)


@admin.register(Schedule)
class ScheduleAdmin(ScheduleColumns, ServiceModelAdmin):
    form = ScheduleForm
    list_display = ["__str__", "deployment", "enabled", "next_run_at", "last_outcome"]
    list_filter = ["enabled", "deployment"]
    list_select_related = ["deployment"]
    search_fields = ["deployment__name", "cron_spec"]
    autocomplete_fields = ["deployment"]
    readonly_fields = ["next_runs", "last_outcome", "created_at", "updated_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["deployment", *FIELDS, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A schedule stays with its deployment: choose it when adding only.
        return [*self.readonly_fields, "deployment"] if obj else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        saved = _save(obj, form)
        obj.__dict__.update(saved.__dict__)

    def delete_object(self, obj: Schedule) -> None:
        services.schedule_delete(schedule=obj)


class ScheduleInlineFormSet(BaseInlineFormSet):
    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Schedule:
        form.cleaned_data["deployment"] = self.instance
        return _save(form.instance, form)

    def save_existing(self, form: forms.ModelForm, obj: Schedule, commit: bool = True) -> Any:
        return _save(obj, form)

    def delete_existing(self, obj: Schedule, commit: bool = True) -> None:
        if commit:
            services.schedule_delete(schedule=obj)


class ScheduleInline(ScheduleColumns, admin.TabularInline):
    """The deployment's schedules and their next runs; editable where the deployment is
    (admins), through the services. Editors use the schedule pages (the change links)."""

    model = Schedule
    form = ScheduleForm
    formset = ScheduleInlineFormSet
    fields = [*FIELDS, "next_runs", "last_outcome"]
    readonly_fields = ["next_runs", "last_outcome"]
    show_change_link = True
    extra = 0


admin.site.unregister(Deployment)


@admin.register(Deployment)
class DeploymentAdmin(executions_admin.DeploymentAdmin):
    inlines = [*executions_admin.DeploymentAdmin.inlines, ScheduleInline]
