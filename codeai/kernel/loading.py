"""Model instances from database rows without ``Model.__init__``'s per-field path."""

from __future__ import annotations

import functools
from typing import Any

from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


class LeanLoading:
    """A model mixin: a row with every column becomes an instance as unpickling makes one
    (the values straight into ``__dict__``), not through ``__init__``, which sets each field
    through its descriptor and sends two signals; for a page of 50 deployments that was a
    tenth of the request. Equivalent only while nothing listens to ``pre_init`` or
    ``post_init`` for the model, and for rows of every column (a row with deferred ones goes
    the ordinary way), which is checked on each load."""

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Any:
        meta = cls._meta  # type: ignore[attr-defined]
        if len(values) != len(meta.concrete_fields) or listened(cls):
            return super().from_db(db, field_names, values)  # type: ignore[misc]
        model: Any = cls
        return loaded_instance(model, db, zip(_attnames(model), values, strict=True))


def listened(model: Any) -> bool:
    """Whether anything listens to ``pre_init`` or ``post_init`` for ``model``."""
    # No receiver at all is the usual case, and checking it costs a tenth of has_listeners.
    return bool(
        (pre_init.receivers and pre_init.has_listeners(model))
        or (post_init.receivers and post_init.has_listeners(model))
    )


def loaded_instance(model: Any, db: str | None, values: Any) -> Any:
    """An instance of ``model`` as the database gave it, from ``(attname, value)`` pairs;
    columns left out load on access, as deferred ones do."""
    instance = model.__new__(model)
    instance.__dict__.update(values)
    state = instance._state = ModelState()
    state.adding = False
    state.db = db
    return instance


@functools.cache
def _attnames(model: Any) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)
