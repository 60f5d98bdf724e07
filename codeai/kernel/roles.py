"""Roles: viewer, editor and admin, each including the ones before it.

Local users get them from Django groups of those names (superusers are admins); users
signed in with a token of an outside identity provider carry them in a claim, kept on the
stateless user object as ``token_roles``. Pure helpers: no HTTP, no DRF.
"""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
EDITOR = "editor"
ADMIN = "admin"
ROLES = (VIEWER, EDITOR, ADMIN)

_ROLES_CACHE_ATTRIBUTE = "_codeai_roles"


def expand(names: Any) -> frozenset[str]:
    """The known roles among ``names`` plus every role they include (admin ⊃ editor ⊃ viewer)."""
    ranks = [ROLES.index(name) for name in names if name in ROLES]
    return frozenset(ROLES[: max(ranks) + 1]) if ranks else frozenset()


def roles_from_claim(value: Any) -> frozenset[str]:
    """A roles claim of an outside identity provider: a list or a space-separated string."""
    if isinstance(value, str):
        return expand(value.split())
    if isinstance(value, list | tuple):
        return expand(item for item in value if isinstance(item, str))
    return frozenset()


def user_roles(user: Any) -> frozenset[str]:
    """Effective roles of a user (empty for anonymous); one query per request for local users."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    token_roles = getattr(user, "token_roles", None)
    if token_roles is not None:
        return frozenset(token_roles)
    cached = getattr(user, _ROLES_CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    if not getattr(user, "is_active", True):
        roles: frozenset[str] = frozenset()
    elif getattr(user, "is_superuser", False):
        roles = expand([ADMIN])
    else:
        roles = expand(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    setattr(user, _ROLES_CACHE_ATTRIBUTE, roles)
    return roles


def remember(user: Any, known: frozenset[str]) -> None:
    """Roles of a local user read elsewhere (codeai.kernel.api.token_users): no query."""
    setattr(user, _ROLES_CACHE_ATTRIBUTE, known)


def has_role(user: Any, role: str) -> bool:
    return role in user_roles(user)
