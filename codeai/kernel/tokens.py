"""Refresh tokens end with the password or the account that earned them.

Changing a user's password or deactivating the user blacklists every refresh token issued to
them (simplejwt's token_blacklist), whichever way the change is saved: the admin, ``manage.py
changepassword``, a service. Their access tokens stop at once on deactivation (authentication
checks ``is_active``) and otherwise within their short lifetime.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

_REVOKE_ATTRIBUTE = "_codeai_revoke_refresh_tokens"


def revoke_refresh_tokens(user: Any) -> int:
    """Blacklist every unexpired refresh token of ``user`` not blacklisted yet; how many."""
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


def _note_credential_change(
    sender: Any, instance: Any, update_fields: Any = None, **_: Any
) -> None:
    if instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login at every token obtained: no read needed
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    deactivated = before["is_active"] and not instance.is_active
    if deactivated or before["password"] != instance.password:
        setattr(instance, _REVOKE_ATTRIBUTE, True)


def _revoke_after_change(sender: Any, instance: Any, **_: Any) -> None:
    if getattr(instance, _REVOKE_ATTRIBUTE, False):
        delattr(instance, _REVOKE_ATTRIBUTE)
        revoke_refresh_tokens(instance)


def connect() -> None:
    user_model = get_user_model()
    pre_save.connect(_note_credential_change, sender=user_model, dispatch_uid="codeai-tokens-pre")
    post_save.connect(_revoke_after_change, sender=user_model, dispatch_uid="codeai-tokens-post")
