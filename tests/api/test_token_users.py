"""A local token's user and roles kept in the shared store (codeai.kernel.api.token_users):
no query for them on the next request, and every change of the user or its groups is seen by
the very next request (issue 11's revocation: a deactivated or deleted user is refused at once)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from codeai.kernel import roles
from codeai.kernel.api import token_users
from tests.api.conftest import bearer_client, make_user
from tests.api.test_authentication import hs256, local_claims

CONFIGS = "/api/v1/configs/"
DEPLOYMENTS = "/api/v1/deployments/"


@pytest.fixture
def viewer_user(db):
    return make_user(roles.VIEWER, "kept-viewer")


@pytest.fixture
def client(viewer_user):
    client = bearer_client(viewer_user)
    assert client.get(CONFIGS).status_code == 200  # now kept
    return client


def user_queries(client, url: str = CONFIGS) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    return status, [
        q["sql"] for q in captured if "auth_user" in q["sql"] or "auth_group" in q["sql"]
    ]


def test_the_next_request_reads_neither_user_nor_groups(client):
    assert user_queries(client) == (200, [])


def test_the_kept_entry_holds_no_password_and_the_user_cannot_lose_it(client, viewer_user):
    stored = caches["shared"].get(f"token-user:{viewer_user.pk}")
    assert "password" not in stored[0]
    assert viewer_user.password not in repr(stored)

    kept = token_users.cached_user(viewer_user.pk)
    kept.first_name = "Renamed"
    kept.save()  # the password is deferred: the save leaves it alone

    viewer_user.refresh_from_db()
    assert viewer_user.first_name == "Renamed"
    assert viewer_user.check_password("pw-kept-viewer")


def test_deactivation_is_refused_on_the_next_request(client, viewer_user):
    viewer_user.is_active = False
    viewer_user.save()

    response = client.get(CONFIGS)
    assert response.status_code == 401
    assert response.json()["error"] == "token user does not exist or is inactive"


def test_deactivation_through_the_admin_s_update_fields_save_is_seen(client, viewer_user):
    viewer_user.is_active = False
    viewer_user.save(update_fields=["is_active"])

    assert client.get(CONFIGS).status_code == 401


def test_a_deleted_user_is_refused_on_the_next_request(client, viewer_user):
    viewer_user.delete()

    assert client.get(CONFIGS).status_code == 401


def test_a_password_change_drops_the_entry(client, viewer_user):
    viewer_user.set_password("a-new-password-1234")
    viewer_user.save()

    status, queries = user_queries(client)
    assert status == 200  # access tokens live out their short lifetime (README)
    assert queries, "the user was read again"


def test_leaving_the_group_is_seen_on_the_next_request(client, viewer_user):
    viewer_user.groups.remove(Group.objects.get(name=roles.VIEWER))

    assert client.get(CONFIGS).status_code == 403


def test_being_removed_from_the_group_s_side_is_seen(client, viewer_user):
    Group.objects.get(name=roles.VIEWER).user_set.remove(viewer_user)

    assert client.get(CONFIGS).status_code == 403


def test_a_group_cleared_of_its_members_is_seen(client, viewer_user):
    Group.objects.get(name=roles.VIEWER).user_set.clear()

    assert client.get(CONFIGS).status_code == 403


def test_a_role_granted_is_seen_on_the_next_request(client, viewer_user):
    assert client.post(DEPLOYMENTS, {"name": "x"}, format="json").status_code == 403
    viewer_user.groups.add(Group.objects.get(name=roles.EDITOR))

    assert client.post(DEPLOYMENTS, {"name": "x"}, format="json").status_code == 201


def test_a_superuser_flag_is_seen_on_the_next_request(client, viewer_user):
    viewer_user.is_superuser = True
    viewer_user.save()

    assert client.post(DEPLOYMENTS, {"name": "x"}, format="json").status_code == 201


def test_a_renamed_group_is_seen_on_the_next_request(client, viewer_user):
    group = Group.objects.get(name=roles.VIEWER)
    group.name = "viewer-renamed"
    group.save()

    assert client.get(CONFIGS).status_code == 403


def test_a_deleted_group_is_seen_on_the_next_request(client, viewer_user):
    Group.objects.get(name=roles.VIEWER).delete()

    assert client.get(CONFIGS).status_code == 403


def test_an_id_spelled_another_way_is_read_from_the_database(viewer_user):
    claims = {**local_claims(viewer_user), "user_id": f"0{viewer_user.pk}"}
    client = bearer_client(viewer_user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {hs256(claims)}")

    assert client.get(CONFIGS).status_code == 200
    assert token_users.cached_user(viewer_user.pk) is None  # nothing kept for "07"
