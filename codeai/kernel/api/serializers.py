"""The base of the resource serializers: a read-only or unknown field written is a 400, not
ignored; and the lean representation of a serializer's fields (DRF's output, without its
per-field generic path)."""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField, _UnvalidatedField
from rest_framework.relations import PKOnlyObject, RelatedField
from rest_framework.settings import api_settings

from codeai.kernel.api.fields import UUIDRelatedField


class LeanRepresentation:
    """A serializer mixin: ``to_representation`` by plain functions compiled once per
    serializer class (and active time zone) from the class's own fields, giving exactly DRF's
    output.

    DRF's generic path builds every serializer's fields anew (model introspection and deep
    copies, for each request) and asks every field of every row for its attribute (a
    nested-attribute walk, a callable check, a PKOnlyObject check) and then its
    representation; for a page of 50 deployments that was half of the request. Here the
    fields are read once, from an instance of the class made for that, and each becomes a
    reader: a field whose ``to_representation`` and ``get_attribute`` are those of one of
    DRF's plain classes, with a source of one model attribute, reads it with ``getattr`` and
    converts it as DRF would; a method field calls the method of the serializer at hand; any
    other field goes through DRF's own ``get_attribute`` and ``to_representation`` - the
    compiled instance's field when it reads nothing of the serializer's context (ours, DRF's
    plain ones, and DRF's lists, dicts and plain nested serializers of such fields), else the
    field of the serializer at hand, whose fields are then built. So the serializer
    classes' fields must not depend on the instance (no ``get_fields`` or ``__init__`` that
    changes them): none does. The shape stays declared by the serializer's fields: adding
    one needs nothing here. ``tests/api/test_lean_representation.py`` checks the bytes
    against DRF's.
    """

    # False: DRF's own path (the tests compare the two).
    lean = True

    def to_representation(self, instance: Any) -> Any:
        if not self.lean:
            return super().to_representation(instance)  # type: ignore[misc]
        row = self.__dict__.get("_lean_row")
        if row is None:
            serializer_class: Any = type(self)
            zone = timezone.get_current_timezone_name()
            row = self._lean_row = _compiled_row(serializer_class, zone)
        return row(self, instance)


_SKIP = object()

# reads one field of ``instance`` for ``serializer``: its representation, or _SKIP
Reader = Callable[[Any, Any], Any]


@functools.cache
def _compiled_row(serializer_class: Any, zone_name: str) -> Any:
    """The row function of ``serializer_class``: one function of straight-line code, a
    statement per field, written from the fields' readers and compiled once (as dataclasses
    write their ``__init__``); the readers called one by one from a loop cost twice as much
    per value. ``zone_name`` keys it because DRF's date times are written in the active time
    zone."""
    serializer = serializer_class()
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    namespace: dict[str, Any] = {"_SKIP": _SKIP}
    lines = ["def row(serializer, instance):", "    out = {}"]
    for index, field in enumerate(serializer._readable_fields):
        key = repr(field.field_name)
        plan = _reader(serializer, field, model)
        if isinstance(plan, _Attribute):
            read = _attribute_source("instance", plan.name)
            if plan.convert is _same:
                lines.append(f"    out[{key}] = {read}")
            else:
                namespace[f"convert{index}"] = plan.convert
                lines.append(f"    value = {read}")
                lines.append(f"    out[{key}] = None if value is None else convert{index}(value)")
        elif isinstance(plan, _Method):
            lines.append(f"    out[{key}] = {_attribute_source('serializer', plan.name)}(instance)")
        else:
            namespace[f"read{index}"] = plan
            lines.append(f"    value = read{index}(serializer, instance)")
            lines.append(f"    if value is not _SKIP:\n        out[{key}] = value")
    lines.append("    return out")
    exec("\n".join(lines), namespace)  # the source is the lines above: names and reprs only
    return namespace["row"]


def _attribute_source(owner: str, name: str) -> str:
    """Source reading attribute ``name`` of ``owner``: after a dot where Python allows it."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"{owner}.{name}"
    return f"getattr({owner}, {name!r})"


class _Attribute:
    """A model attribute read and converted as the field's ``to_representation`` would."""

    def __init__(self, name: str, convert: Callable[[Any], Any]) -> None:
        self.name, self.convert = name, convert


class _Method:
    """A method field: the method of the serializer at hand."""

    def __init__(self, name: str) -> None:
        self.name = name


def _model_attribute(model: Any, name: str) -> bool:
    """A concrete field's attribute or a property of ``model``: never a callable DRF would call."""
    if model is None:
        return False
    if isinstance(getattr(model, name, None), property):
        return True
    return any(field.attname == name for field in model._meta.concrete_fields)


def _reader(serializer: serializers.Serializer, field: Any, model: Any) -> Any:
    """How to read ``field``: an ``_Attribute``, a ``_Method`` or a ``Reader``."""
    if type(field) is serializers.SerializerMethodField:
        return _Method(field.method_name)
    key = _foreign_key(field, model)
    if key is not None and type(field).to_representation is UUIDRelatedField.to_representation:
        return _Attribute(key, str)  # what it writes of PKOnlyObject(pk): str(pk)
    if key is not None and _context_free(field):

        def related(serializer: Any, instance: Any) -> Any:  # RelatedField's pk-only path
            pk = getattr(instance, key)
            return None if pk is None else field.to_representation(PKOnlyObject(pk=pk))

        return related
    convert = _converter(field)
    if convert is not None and len(field.source_attrs) == 1:
        attribute = field.source_attrs[0]
        if _model_attribute(model, attribute):
            return _Attribute(attribute, convert)
    name = field.field_name
    shared = _context_free(field)

    def drf(serializer: Any, instance: Any) -> Any:  # Serializer.to_representation's path
        own = field if shared else serializer.fields[name]
        try:
            attribute = own.get_attribute(instance)
        except SkipField:
            return _SKIP
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if check_for_none is None else own.to_representation(attribute)

    return drf


def _context_free(field: Any) -> bool:
    """A field whose representation reads nothing of its serializer (context, request,
    parent): DRF's plain fields and this project's own, and DRF's lists, dicts and plain
    nested serializers made only of such fields (an execution's steps and variables)."""
    for container in _CONTAINERS:
        if isinstance(field, container):
            own = type(field).to_representation is container.to_representation
            return own and _context_free(field.child)
    if isinstance(field, serializers.Serializer):
        plain = type(field).to_representation is serializers.Serializer.to_representation
        return plain and all(_context_free(nested) for nested in field.fields.values())
    if isinstance(field, serializers.BaseSerializer):
        return False
    if type(field) is _UnvalidatedField:  # a DictField's default child: the value itself
        return True
    module = type(field).__module__
    return module.startswith("codeai.") or _plain_base(field) is not None


def _foreign_key(field: Any, model: Any) -> str | None:
    """The column of a related field that represents only the primary key of a foreign key
    of ``model`` (its id is on the row: no query)."""
    if model is None or not isinstance(field, RelatedField) or len(field.source_attrs) != 1:
        return None
    if not field.use_pk_only_optimization():
        return None
    try:
        model_field = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    return model_field.attname if model_field.many_to_one else None


# Containers whose representation is their child's for each item.
_CONTAINERS: tuple[Any, ...] = (
    serializers.ListSerializer,
    serializers.ListField,
    serializers.DictField,
)

_PLAIN = (
    serializers.ReadOnlyField,
    serializers.CharField,
    serializers.IntegerField,
    serializers.UUIDField,
    serializers.ChoiceField,
    serializers.DateTimeField,
)


def _plain_base(field: Any) -> type[serializers.Field] | None:
    """The one of DRF's plain field classes whose ``to_representation`` and
    ``get_attribute`` ``field`` has (a subclass that only validates differently counts)."""
    kind = type(field)
    for base in _PLAIN:
        if (
            isinstance(field, base)
            and kind.to_representation is base.to_representation
            and kind.get_attribute is base.get_attribute
        ):
            return base
    return None


def _converter(field: Any) -> Any:
    """What ``field.to_representation`` does, for DRF's plain field classes (else None)."""
    base = _plain_base(field)
    if base is serializers.ReadOnlyField:
        return _same
    if base is serializers.CharField:
        return str
    if base is serializers.IntegerField:
        return int
    if base is serializers.UUIDField and field.uuid_format == "hex_verbose":
        return str
    if base is serializers.ChoiceField:
        choices = field.choice_strings_to_values

        def choice(value: Any) -> Any:
            return value if value == "" else choices.get(str(value), value)

        return choice
    if base is serializers.DateTimeField:
        return _datetime_converter(field)
    return None


def _same(value: Any) -> Any:
    return value


def _datetime_converter(field: serializers.DateTimeField) -> Any:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if output_format is None or zone is None or output_format.lower() != ISO_8601:
        return field.to_representation

    in_utc = str(zone) in ("UTC", "Etc/UTC")

    def convert(value: Any) -> Any:
        offset = None if isinstance(value, str) else value.utcoffset()
        if offset is None:
            return field.to_representation(value)
        if in_utc and not offset:  # already UTC: the zone's own text, with no conversion
            return value.isoformat()[:-6] + "Z"
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return field.to_representation(value)
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


class WrittenFieldsChecked(serializers.Serializer):
    """Refuses a body key the serializer has no field for, naming it ("unknown field"): DRF
    ignores such keys, so a misspelt one was silently dropped. Subclasses add their own
    refusals in ``written_field_errors``; all of them are one 400."""

    def written_field_errors(self, data: dict) -> dict[str, list[str]]:
        return {name: ["unknown field"] for name in data if name not in self.fields}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):  # else the parent's to_internal_value refuses it
            errors = self.written_field_errors(data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class RequestSerializer(WrittenFieldsChecked):
    """An action's request body (execute, relaunch, validate): ``POST .../execute/
    {"variabels": ...}`` ran with no variables, ``{"contnet": ...}`` validated the stored
    text instead."""


class ResourceSerializer(LeanRepresentation, WrittenFieldsChecked, serializers.ModelSerializer):
    """Refuses a body that sets a read-only field, naming it and saying why, or a field the
    serializer does not have.

    DRF ignores such fields, so ``PATCH {"status": "flying"}`` answered 200 and changed
    nothing, and a misspelt ``config`` made a deployment without one. A read-only field sent
    back with the value it already has (a GET, edited, PUT back) is fine.
    ``Meta.read_only_reasons`` says why per field; the default is "set by the server".
    """

    def written_field_errors(self, data: dict) -> dict[str, list[str]]:
        reasons = getattr(self.Meta, "read_only_reasons", {})
        errors = super().written_field_errors(data)
        for name, field in self.fields.items():
            if not field.read_only or name not in data:
                continue
            if self.instance is not None and data[name] == self._current(field):
                continue
            errors[name] = [f"read-only: {reasons.get(name, 'set by the server')}"]
        return errors

    def _current(self, field: serializers.Field) -> Any:
        try:
            attribute = field.get_attribute(self.instance)
        except SkipField:
            return None
        return None if attribute is None else field.to_representation(attribute)
