"""The base of the resource serializers: a read-only field written is a 400, not ignored."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.fields import SkipField


class ResourceSerializer(serializers.ModelSerializer):
    """Refuses a body that sets a read-only field, naming it and saying why.

    DRF ignores such fields, so ``PATCH {"status": "flying"}`` answered 200 and changed
    nothing. A field sent back with the value it already has (a GET, edited, PUT back) is
    fine. ``Meta.read_only_reasons`` says why per field; the default is "set by the server".
    """

    def validate_read_only_fields(self, data: Any) -> None:
        if not isinstance(data, dict):
            return  # the parent's to_internal_value refuses it
        reasons = getattr(self.Meta, "read_only_reasons", {})
        errors = {}
        for name, field in self.fields.items():
            if not field.read_only or name not in data:
                continue
            if self.instance is not None and data[name] == self._current(field):
                continue
            errors[name] = [f"read-only: {reasons.get(name, 'set by the server')}"]
        if errors:
            raise serializers.ValidationError(errors)

    def _current(self, field: serializers.Field) -> Any:
        try:
            attribute = field.get_attribute(self.instance)
        except SkipField:
            return None
        return None if attribute is None else field.to_representation(attribute)

    def to_internal_value(self, data: Any) -> Any:
        self.validate_read_only_fields(data)
        return super().to_internal_value(data)
