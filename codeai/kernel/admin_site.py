"""What the apps' admins share: who may enter, status badges, durations, the lean change list
and the service-calling ModelAdmin. The site itself, whose index reads the apps, is the
project's wiring (``codeai.admin_index``).

Django's admin lets in only ``is_staff`` users. Here membership of a role group (viewer,
editor, admin — see ``codeai.kernel.roles``) is enough, so giving someone a role in one place
is all it takes; what they may see and change still follows the groups' model permissions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from codeai.kernel.exceptions import CodeAIError
from codeai.kernel.roles import user_roles


def may_enter_admin(user: Any) -> bool:
    return bool(user.is_active and (user.is_staff or user_roles(user)))


class RoleAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        if not may_enter_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


# --- Building blocks shared by the apps' admins ------------------------------------------


def status_badge(status: str, label: str) -> str:
    """A coloured pill for a status (execution, deployment or validity)."""
    return format_html('<span class="codeai-badge codeai-status-{}">{}</span>', status, label)


def format_duration(run: Any) -> str:
    """How long a run (``started_at``, ``completed_at``) took, or has been going."""
    if run.started_at is None:
        return "—"
    seconds = ((run.completed_at or timezone.now()) - run.started_at).total_seconds()
    if seconds < 60:
        text = f"{seconds:.1f} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min {int(seconds % 60)} s"
    else:
        text = f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    return text if run.completed_at else f"{text} so far"


class ServiceModelAdmin(admin.ModelAdmin):
    """A model admin whose deletes go through the app's service (``delete_object``), which
    may refuse with a domain error the operator then reads as a message."""

    def delete_object(self, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_object(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            try:
                self.delete_object(obj)
            except CodeAIError as error:
                messages.error(request, f"{obj}: {error}")

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except CodeAIError as error:
            messages.error(request, str(error))
            info = self.opts.app_label, self.opts.model_name
            return HttpResponseRedirect(
                reverse("admin:{}_{}_change".format(*info), args=[object_id])
            )

    def object_urls(self, views: list[tuple[str, Any, str]]) -> list[URLPattern]:
        """URLs of the admin's own views of one object: ``(suffix, view, name)`` becomes
        ``<object_id>/<suffix>``, named ``admin:<app>_<model>_<name>``."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                f"<path:object_id>/{suffix}",
                self.admin_site.admin_view(view),
                name="{}_{}_{}".format(*info, name),
            )
            for suffix, view, name in views
        ]

    def object_or_404(self, request: HttpRequest, object_id: str, *, allowed: bool) -> Any:
        """The object of one of the admin's own views, for a user ``allowed`` to use it."""
        if not allowed:
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(f"{self.opts.verbose_name} not found")
        return obj


class LeanChangeList(ChangeList):
    """A changelist that leaves the model admin's ``list_defer`` columns (big text and JSON
    the list never shows) out of its SELECT, and reads ``list_prefetch`` relations in one
    query of their own instead of a join (a join lets a planner start from the small table
    and sort the big one whole, instead of walking its index for one page)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer(*getattr(self.model_admin, "list_defer", ())).prefetch_related(
            *getattr(self.model_admin, "list_prefetch", ())
        )


class PeekPaginator(Paginator):
    """Counts nothing: reads one row more than the requested page to know whether another
    page follows, so a list of millions costs one indexed LIMIT query. ``count`` is then
    the rows up to and including that peeked row, not the table's size."""

    def __init__(self, object_list: QuerySet, per_page: int, page_number: int, **kwargs: Any):
        super().__init__(object_list, per_page, **kwargs)
        self.start = max(0, page_number - 1) * per_page

    @cached_property
    def window(self) -> list[Any]:
        return list(self.object_list[self.start : self.start + self.per_page + 1])

    @cached_property
    def count(self) -> int:
        return self.start + len(self.window)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom == self.start:
            return Page(self.window[: self.per_page], number, self)
        return super().page(number)
