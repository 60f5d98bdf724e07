"""Serializer fields that take JSON types at their word: ``"name": 123`` is a 400, not "123"."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: ``"3"``, ``3.5`` and ``true`` are 400s."""

    default_error_messages = {"not_an_integer": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.UUID)
class UUIDRelatedField(serializers.RelatedField):
    """A related object by its UUID string; an unknown or malformed id is a 400."""

    default_error_messages = {
        "does_not_exist": "No {thing} with id {value}.",
        "incorrect_type": "Must be a UUID string.",
    }

    def __init__(self, *, thing: str, **kwargs: Any) -> None:
        self.thing = thing
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str):
            self.fail("incorrect_type")
        try:
            pk = uuid.UUID(data)
        except ValueError:
            self.fail("incorrect_type")
        queryset: QuerySet | None = self.get_queryset()
        assert queryset is not None  # the field is writable: it was given one
        found = queryset.filter(pk=pk).first()
        if found is None:
            self.fail("does_not_exist", thing=self.thing, value=data)
        return found

    def use_pk_only_optimization(self) -> bool:
        return True  # the id is on the row already: no query per object

    def to_representation(self, value: Any) -> str:
        return str(value.pk)


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only: ``"yes"``, ``1`` and ``"true"`` are a 400."""

    default_error_messages = {"not_a_boolean": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data
