"""The local user a token names, and that user's roles, kept for up to 30 s in the shared store.

Without it every request with a local token read the user row and then the user's groups:
two queries before the view ran. The entry is one shared-cache key per user id holding the
user's columns (never the password hash: the rebuilt user has it deferred, so saving it
cannot overwrite the password) and the roles. Every process shares it, and every change that
can alter what a request is allowed removes the entry, in the saving process, at once and
again after the change commits (a request reading between the two would otherwise put the old
row back):

- a user saved (deactivated, password changed, made superuser, renamed...) or deleted;
- the user's groups changed from either side (``user.groups``, ``group.user_set``);
- a group saved (renamed) or deleted: the entries of its members.

Only an UPDATE that bypasses ``save()`` (``User.objects.filter(...).update(...)``) is seen
late: within ``SECONDS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from codeai.kernel import roles

SECONDS = 30
_PREFIX = "token-user:"


def _key(user_id: Any) -> str:
    return f"{_PREFIX}{int(user_id)}"


def _columns() -> list[str]:
    return [
        field.attname
        for field in get_user_model()._meta.concrete_fields
        if field.attname != "password"
    ]


def cached_user(user_id: int | str) -> Any | None:
    """The active user of ``user_id`` with its roles already known, or None when no entry is
    kept (then read the database and call :func:`keep`)."""
    entry = caches[settings.SHARED_CACHE].get(_key(user_id))
    if entry is None:
        return None
    columns, values, user_roles = entry
    if columns != _columns():  # the user model changed since it was written
        return None
    user = get_user_model().from_db("default", columns, values)
    roles.remember(user, frozenset(user_roles))
    return user


def keep(user: Any) -> None:
    """Keep an active user read from the database, with its roles, for ``SECONDS``."""
    columns = _columns()
    entry = (columns, [getattr(user, name) for name in columns], sorted(roles.user_roles(user)))
    caches[settings.SHARED_CACHE].set(_key(user.pk), entry, SECONDS)


def forget(*user_ids: Any) -> None:
    """Drop the entries of ``user_ids`` now and once more after the transaction commits."""
    keys = [_key(user_id) for user_id in user_ids if user_id is not None]
    if not keys:
        return
    cache = caches[settings.SHARED_CACHE]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def _user_changed(sender: Any, instance: Any, **_: Any) -> None:
    forget(instance.pk)


def _groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **_: Any
) -> None:
    if not action.startswith("post_") and action != "pre_clear":
        return
    if not reverse:  # user.groups.add/remove/clear
        forget(instance.pk)
    elif action == "pre_clear":  # group.user_set.clear(): the members before they go
        forget(*instance.user_set.values_list("pk", flat=True))
    elif pk_set:  # group.user_set.add/remove
        forget(*pk_set)


def _group_changed(sender: Any, instance: Any, **_: Any) -> None:
    if instance.pk is not None:
        forget(*instance.user_set.values_list("pk", flat=True))


def connect() -> None:
    user_model = get_user_model()
    uid = "codeai-token-users"
    post_save.connect(_user_changed, sender=user_model, dispatch_uid=f"{uid}-user-save")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid=f"{uid}-user-delete")
    m2m_changed.connect(
        _groups_changed, sender=user_model.groups.through, dispatch_uid=f"{uid}-groups"
    )
    post_save.connect(_group_changed, sender=Group, dispatch_uid=f"{uid}-group-save")
    pre_delete.connect(_group_changed, sender=Group, dispatch_uid=f"{uid}-group-delete")
