"""Syntax tree -> JSON-ready data with Go's field names (reference §6)."""

from __future__ import annotations

from dataclasses import fields

from codeai.dsl import ast

# Go field names that are not the PascalCase of the Python field name.
GO_FIELD_NAMES = {
    "db_type": "DBType",
    "mongodb_uri": "MongoDBURI",
    "mongodb_name": "MongoDBName",
    "jwks": "JWKS",
    "url": "URL",
    "base_url": "BaseURL",
    "else_": "Else",
    "async_": "Async",
}


def _go_name(python_name: str) -> str:
    return GO_FIELD_NAMES.get(python_name) or "".join(
        part.capitalize() for part in python_name.split("_")
    )


# Per class: (python attribute, Go key) of the serialised fields, computed once.
_LAYOUTS: dict[type, list[tuple[str, str]]] = {}


def _layout(cls: type) -> list[tuple[str, str]]:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        own = [f for f in fields(cls) if f.name not in ("line", "column")]
        layout = [(f.name, _go_name(f.name)) for f in own if not f.metadata.get("internal")]
        _LAYOUTS[cls] = layout
    return layout


def _convert(value: object) -> object:
    if isinstance(value, ast.Node):
        return _node(value)
    if isinstance(value, list):
        return [_convert(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Go prints float64 42 as 42
    if isinstance(value, dict):
        # Go's encoder sorts map keys.
        return {key: _convert(value[key]) for key in sorted(value)}
    return value


def _node(node: ast.Node) -> dict[str, object]:
    data: dict[str, object] = {
        go_key: _convert(getattr(node, attr)) for attr, go_key in _layout(type(node))
    }
    # Go has a Parameter.Type field (always ""); the class name takes that key here.
    data["Type"] = type(node).__name__
    data["Line"] = node.line
    data["Column"] = node.column
    return data


def to_json(program: ast.Program) -> dict:
    """The program as ``json.dumps``-able data: Go's keys plus Type/Line/Column per node."""
    return _node(program)
