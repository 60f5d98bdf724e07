"""Names for SQL written by hand, as the models (and the database in use) spell them."""

from __future__ import annotations

from typing import Any

from django.db import connection


def quoted_table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def quoted_columns(model: Any) -> dict[str, str]:
    """Each concrete field's name -> its column, quoted (a foreign key's name gives its
    ``…_id`` column)."""
    return {
        field.name: connection.ops.quote_name(field.column) for field in model._meta.concrete_fields
    }
