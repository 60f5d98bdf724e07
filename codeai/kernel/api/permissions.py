"""DRF permission classes for the three roles (see codeai.kernel.roles)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from codeai.kernel import roles


class HasRole(BasePermission):
    """Authenticated and holding ``role`` (or a role that includes it)."""

    role = roles.VIEWER
    message = "insufficient permissions"

    def has_permission(self, request: Request, view: Any) -> bool:
        return roles.has_role(request.user, self.role)


class IsViewer(HasRole):
    role = roles.VIEWER


class IsEditor(HasRole):
    role = roles.EDITOR


class IsAdmin(HasRole):
    role = roles.ADMIN


class RolePerAction:
    """Mixin for viewsets: ``action_roles = {"create": IsEditor, ...}``, IsViewer otherwise."""

    action_roles: dict[str, type[BasePermission]] = {}
    action: str  # set by the viewset for each request

    def get_permissions(self) -> list[BasePermission]:
        return [self.action_roles.get(self.action, IsViewer)()]
