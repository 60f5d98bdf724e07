"""Querysets whose SQL is built once per database and then run with other values.

Django resolves and compiles a queryset anew each time it is evaluated; for a query of a
fixed shape read on every request (a list's page, the deployment an execution is made of)
that was a tenth to a fifth of the request. A ``CompiledQuery`` compiles its queryset once
per database, with a placeholder value for each parameter, and afterwards only runs the SQL
with the values of the call, turning the rows into model instances as the queryset's own
iteration does (the same columns, converters, ``select_related`` objects and annotations).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Field, QuerySet, UUIDField
from django.db.models.base import ModelState
from django.db.models.query import (  # type: ignore[attr-defined]
    ModelIterable,
    get_related_populators,
)

from codeai.kernel.loading import LeanLoading, listened


class NotCompilable(Exception):
    """The queryset's rows are not plain model rows of its SQL alone: run it the usual way."""


class _Statement:
    """One database's SQL of the query, where its parameters go, and how rows become
    instances."""

    def __init__(self, queryset: QuerySet, alias: str, placeholders: list[Any]) -> None:
        if queryset._iterable_class is not ModelIterable or queryset._known_related_objects:  # type: ignore[attr-defined]
            raise NotCompilable("not a plain query of model rows")
        if queryset.query.is_sliced or queryset.query.combinator:
            raise NotCompilable("sliced or combined")
        connection = connections[alias]
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if compiler.has_extra_select or not compiler.klass_info:
            raise NotCompilable("rows carry columns of their own")
        self.sql = sql
        self.params = list(params)
        self.positions = []
        for field, placeholder in placeholders:
            prepared = field.get_db_prep_value(placeholder, connection)
            found = [index for index, value in enumerate(self.params) if value == prepared]
            if len(found) != 1:
                raise NotCompilable(f"the parameter of {field.name} is not one value of the SQL")
            self.positions.append((found[0], field))
        self.alias = alias
        self.columns = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(self.columns):
            raise NotCompilable("a composite primary key")
        klass_info = compiler.klass_info
        self.model = klass_info["model"]
        select_fields = klass_info["select_fields"]
        self.start, self.end = select_fields[0], select_fields[-1] + 1
        self.init_list = [column.target.attname for column in self.columns[self.start : self.end]]
        self.populators = get_related_populators(klass_info, compiler.select, alias)
        self.annotations = list(compiler.annotation_col_map.items())
        self.lean_values = self._lean_values()
        # The row builders of lean_values, by the positions of the columns with converters.
        self.builders: dict[tuple[int, ...], Callable[..., list[Any]]] = {}

    def rows(
        self, values: tuple[Any, ...], suffix: str, suffix_params: tuple[Any, ...]
    ) -> list[Any]:
        # This thread's connection: a connection is never shared between threads.
        connection = connections[self.alias]
        params = list(self.params)
        for (position, field), value in zip(self.positions, values, strict=True):
            params[position] = field.get_db_prep_value(value, connection)
        with connection.cursor() as cursor:
            cursor.execute(self.sql + suffix, (*params, *suffix_params))
            fetched = cursor.fetchall()
        # What SQLCompiler.apply_converters does, with this thread's connection.
        converters = []
        for position, column in enumerate(self.columns):
            backend = connection.ops.get_db_converters(column)
            if own := [*backend, *column.get_db_converters(connection)]:
                converters.append((position, own, column))
        if self.lean_values is not None and not listened(self.model):
            converted = tuple(position for position, _, _ in converters)
            build = self.builders.get(converted)
            if build is None:
                build = self.builders[converted] = _row_builder(self, converted)
            return build(fetched, connection, [own for _, own, _ in converters])
        instances = []
        for fetched_row in fetched:
            row = list(fetched_row)
            for position, column_converters, column in converters:
                value = row[position]
                for converter in column_converters:
                    value = converter(value, column, connection)
                row[position] = value
            instance = self.model.from_db(self.alias, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, instance)
            for name, position in self.annotations:
                setattr(instance, name, row[position])
            instances.append(instance)
        return instances

    def _lean_values(self) -> list[tuple[str, int]] | None:
        """For a model with ``LeanLoading`` whose rows hold every column and no related
        object: each value an instance gets (its columns, then the annotations) and its
        position in the row, for ``_row_builder``. None otherwise: the general path."""
        model = self.model
        all_columns = [field.attname for field in model._meta.concrete_fields]
        if not issubclass(model, LeanLoading) or self.init_list != all_columns:
            return None
        if self.populators or any(hasattr(model, name) for name, _ in self.annotations):
            return None  # an annotation named like a class attribute goes through setattr
        names = [*self.init_list, *(name for name, _ in self.annotations)]
        positions = [*range(self.start, self.end), *(position for _, position in self.annotations)]
        return list(zip(names, positions, strict=True))


def _row_builder(statement: _Statement, converted: tuple[int, ...]) -> Any:
    """One function of straight-line code making a page's instances as ``LeanLoading.from_db``
    and a ``setattr`` of each annotation would, the columns at ``converted`` through the
    converters it is given (one list per column): that per-row path was a third of a page's
    CPU."""
    assert statement.lean_values is not None
    namespace: dict[str, Any] = {
        "new": statement.model.__new__,
        "model": statement.model,
        "ModelState": ModelState,
        "alias": statement.alias,
        "columns": statement.columns,
    }
    lines = ["def build(fetched, connection, own_lists):", "    instances = []"]
    lines += [f"    own{index} = own_lists[{number}]" for number, index in enumerate(converted)]
    lines += ["    for row in fetched:"]
    for index in converted:
        lines += [
            f"        value{index} = row[{index}]",
            f"        for converter in own{index}:",
            f"            value{index} = converter(value{index}, columns[{index}], connection)",
        ]
    lines += [
        "        instance = new(model)",
        "        state = ModelState()",
        "        state.adding = False",
        "        state.db = alias",
        "        instance.__dict__ = {",
        *(
            f"            {name!r}: {f'value{index}' if index in converted else f'row[{index}]'},"
            for name, index in statement.lean_values
        ),
        "            '_state': state,",
        "        }",
        "        instances.append(instance)",
        "    return instances",
    ]
    exec("\n".join(lines), namespace)  # the source is the lines above: names and numbers only
    return namespace["build"]


class CompiledQuery:
    """``build(*parameters)``'s queryset, compiled once per database: ``rows(*values)`` are
    the instances ``build(*values)`` would give, and ``page(*values, limit=, offset=)``
    those of its slice. ``parameters`` are the model fields whose values the queryset
    filters on (UUID fields: the placeholder is a random UUID, found in the SQL's
    parameters). ``build`` must not depend on anything but its parameters."""

    def __init__(self, build: Callable[..., QuerySet], *parameters: Field) -> None:
        for field in parameters:
            if not isinstance(field, UUIDField):
                raise TypeError(f"{field.name}: only UUID fields can be parameters")
        self.build = build
        self.parameters = parameters
        self._statements: dict[tuple[str, str], _Statement] = {}
        self._lock = threading.Lock()

    def compile(self, *, using: str = "default") -> None:
        """Compile now (``NotCompilable`` when the queryset cannot be)."""
        self._statement(using)

    def _statement(self, alias: str) -> _Statement:
        key = (alias, connections[alias].vendor)
        statement = self._statements.get(key)
        if statement is None:
            with self._lock:  # compiled once, whichever thread asks first
                if key in self._statements:
                    return self._statements[key]
                placeholders = [(field, uuid.uuid4()) for field in self.parameters]
                queryset = self.build(*(value for _, value in placeholders)).using(alias)
                statement = self._statements[key] = _Statement(queryset, alias, placeholders)
        return statement

    def rows(self, *values: Any, using: str = "default") -> list[Any]:
        return self._statement(using).rows(values, "", ())

    def page(self, *values: Any, limit: int, offset: int, using: str = "default") -> list[Any]:
        return self._statement(using).rows(values, " LIMIT %s OFFSET %s", (limit, offset))
