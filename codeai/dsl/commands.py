"""``codeai parse|validate FILE``: the DSL's two commands, with nothing but the DSL loaded.

The ``codeai`` CLI runs them without Django so they start in the time lark takes to import;
``manage.py parse|validate`` wrap the same functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from codeai.dsl.check import check
from codeai.dsl.errors import DSLSyntaxError
from codeai.dsl.parser import parse
from codeai.dsl.serialize import to_json

OUTPUTS = ("text", "json")


class CommandFailed(Exception):
    """The one-line reason a command could not do its work (exit status 1)."""


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


def parse_file(file: str, output: str = "text") -> str:
    """The syntax tree of ``file`` as JSON or as an outline."""
    try:
        program = parse(Path(file).read_text(encoding="utf-8"), filename=file)
    except OSError as error:
        raise CommandFailed(f"parse error: {error}") from error
    except DSLSyntaxError as error:
        raise CommandFailed(f"parse error: {error.render()}") from error
    data = to_json(program)
    return json.dumps(data, indent=2) if output == "json" else "\n".join(outline(data))


def validate_file(file: str) -> list[str]:
    """Every problem of ``file`` as ``FILE:LINE:COLUMN: message`` lines; empty when valid."""
    try:
        source = Path(file).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandFailed(f"cannot read {file}: {error}") from error
    return [f"{file}:{diagnostic}" for diagnostic in check(source, filename=file).diagnostics]


def main(verb: str, argv: Sequence[str]) -> int:
    """Run ``codeai parse|validate`` and return its exit status."""
    parser = argparse.ArgumentParser(prog=f"codeai {verb}")
    parser.add_argument("file")
    if verb == "parse":
        parser.add_argument("--output", choices=OUTPUTS, default="text")
    args = parser.parse_args(argv)
    try:
        if verb == "parse":
            print(parse_file(args.file, args.output))
            return 0
        problems = validate_file(args.file)
    except CommandFailed as failure:
        print(failure, file=sys.stderr)
        return 1
    print("\n".join(problems) if problems else f"File is valid: {args.file}")
    return 1 if problems else 0
