"""``manage.py parse FILE [--output json]``: print the syntax tree of a .cai file."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from codeai.dsl import DSLSyntaxError, parse, to_json


def outline(node: object, indent: str = "") -> list[str]:
    """A readable text outline of ``to_json`` data: one line per node."""
    if isinstance(node, list):
        return [line for item in node for line in outline(item, indent)]
    if not isinstance(node, dict):
        return []
    simple = {k: v for k, v in node.items() if not isinstance(v, (dict, list)) or v == []}
    details = " ".join(
        f"{k}={v!r}" for k, v in simple.items() if k not in ("Type", "Line", "Column")
    )
    lines = [f"{indent}{node['Type']} {node['Line']}:{node['Column']} {details}".rstrip()]
    for key, value in node.items():
        if isinstance(value, (dict, list)) and value:
            lines.append(f"{indent}  {key}:")
            lines.extend(outline(value, indent + "    "))
    return lines


class Command(BaseCommand):
    help = "Parse a CodeAI DSL file and print its syntax tree."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--output", choices=["text", "json"], default="text")

    def handle(self, *args, file: str, output: str, **options) -> None:
        try:
            program = parse(Path(file).read_text(encoding="utf-8"), filename=file)
        except OSError as error:
            raise CommandError(f"parse error: {error}") from error
        except DSLSyntaxError as error:
            raise CommandError(f"parse error: {error.render()}") from error
        data = to_json(program)
        if output == "json":
            self.stdout.write(json.dumps(data, indent=2))
        else:
            self.stdout.write("\n".join(outline(data)))
