"""The CodeAI admin site: role members may enter, and the index is an operator's dashboard
(``executions.dashboard``). Wiring: it reads the apps, which is why it is not in
``codeai.kernel.admin_site`` beside the building blocks the apps' admins import."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from codeai.kernel.admin_site import RoleAuthenticationForm, may_enter_admin


class CodeAIAdminSite(admin.AdminSite):
    site_header = "CodeAI"
    site_title = "CodeAI admin"
    index_title = "Operations"
    site_url = "/api/docs/"  # "View site": the site is its API
    index_template = "admin/codeai/index.html"
    login_form = RoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_enter_admin(request.user)

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # Imported here: the site is built while the apps registry is still loading.
        from executions.dashboard import dashboard_context

        context = dict(extra_context or {})
        if request.user.has_perm("executions.view_execution"):
            context["dashboard"] = dashboard_context()
        return super().index(request, context)
