"""codeai.kernel.roles and the role groups the data migration creates."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from codeai.kernel.api.authentication import ExternalUser
from codeai.kernel.roles import roles_from_claim, user_roles
from tests.api.conftest import make_user

ALL = frozenset({"viewer", "editor", "admin"})


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("none", frozenset()),
        ("viewer", {"viewer"}),
        ("editor", {"viewer", "editor"}),
        ("admin", ALL),
        ("superuser", ALL),
    ],
)
def test_local_users_get_roles_from_groups(db, role, expected):
    assert user_roles(make_user(role)) == expected


def test_inactive_and_anonymous_users_have_no_roles(db):
    inactive = make_user("admin")
    inactive.is_active = False

    assert user_roles(inactive) == frozenset()
    assert user_roles(AnonymousUser()) == frozenset()
    assert user_roles(None) == frozenset()


def test_roles_are_read_once_per_user_object(db, django_assert_num_queries):
    user = make_user("editor")
    user_roles(user)

    with django_assert_num_queries(0):
        assert "editor" in user_roles(user)


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (["editor"], {"viewer", "editor"}),
        ("viewer admin", ALL),
        (["root", 3, "viewer"], {"viewer"}),
        ("", frozenset()),
        (None, frozenset()),
        ({"admin": True}, frozenset()),
    ],
)
def test_roles_claim_as_list_or_space_separated_string(claim, expected):
    assert roles_from_claim(claim) == expected
    assert user_roles(ExternalUser("ext", roles_from_claim(claim))) == expected


def _codenames(role: str) -> set[str]:
    return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))


def test_migration_gives_groups_model_permissions(db):
    view = {"view_config", "view_deployment", "view_execution", "view_schedule"}
    manage_schedules = {"add_schedule", "change_schedule", "delete_schedule"}

    assert _codenames("viewer") == view
    assert _codenames("editor") == view | manage_schedules | {
        "add_config",
        "change_config",
        "delete_config",
        "add_deployment",
        "change_execution",
    }
    assert _codenames("admin") == {
        f"{action}_{model}"
        for action in ("view", "add", "change", "delete")
        # webhooks.0002_admin_role: only admins manage webhooks and their deliveries.
        for model in ("config", "deployment", "execution", "schedule", "webhook", "webhookdelivery")
    }
