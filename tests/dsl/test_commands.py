"""The thin management commands over codeai.dsl (no database needed)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.fixture
def cai_file(tmp_path):
    def write(text: str):
        path = tmp_path / "app.cai"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def run_command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_parse_prints_json(cai_file):
    data = json.loads(run_command("parse", cai_file("var x = 1"), "--output", "json"))
    assert data["Statements"][0]["Name"] == "x"


def test_parse_prints_an_outline(cai_file):
    text = run_command("parse", cai_file("var x = 1"))
    assert "VarDecl 1:1 Name='x'" in text


def test_parse_reports_syntax_errors(cai_file):
    with pytest.raises(CommandError, match=r"parse error: .*1:8: expected an expression"):
        run_command("parse", cai_file("var x ="))


def test_validate_valid_file(cai_file):
    path = cai_file("var x = 1")
    assert run_command("validate", path).strip() == f"File is valid: {path}"


def test_validate_lists_diagnostics_and_exits_1(cai_file, capsys):
    path = cai_file("var a = b\nvar c = d")
    out = StringIO()
    with pytest.raises(SystemExit) as raised:
        call_command("validate", path, stdout=out)
    assert raised.value.code == 1
    assert out.getvalue().splitlines() == [
        f"{path}:1:9: ScopeError: undefined variable 'b'",
        f"{path}:2:9: ScopeError: undefined variable 'd'",
    ]


def test_validate_reports_syntax_errors_as_diagnostics(cai_file):
    path = cai_file("var = 1")
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("validate", path, stdout=out)
    assert out.getvalue().startswith(f"{path}:1:5: SyntaxError: expected a name")
