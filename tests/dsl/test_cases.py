"""The 195 example cases of the Go implementation (tests/dsl/cases, a copy of
shared/spec/dsl-cases), as tests.

Each case asserts the parse verdict, the validate verdict, every ``error_contains``
substring and the ``statements`` / ``ast`` facts -- except where a deliberate change of
dsl.md applies: ``CHANGED`` lists those cases with the change number and the new
expectation, and the test asserts the new behaviour instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeai.dsl import DSLSyntaxError, Program, ast, parse, to_json, validate
from codeai.dsl.validator import strict_auth_error, validate_endpoints, validate_workflows

CASES_DIR = Path(__file__).resolve().with_name("cases")
CASE_IDS = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir()) if CASES_DIR.is_dir() else []

# case id -> (dsl.md change number, expectation keys that replace Go's)
CHANGED: dict[str, tuple[int, dict]] = {
    # 1. Positions everywhere: "first declared at" names the real line:column.
    "258-epv-duplicate-endpoint": (
        1,
        {"error_contains": ['duplicate endpoint "get /users"; first declared at 2:2']},
    ),
    "444-loader-dup-role": (
        1,
        {"error_contains": ["semanticerror: duplicate role 'admin'; first declared at 2:1"]},
    ),
    # 2. Endpoints are grammar: one-line endpoints parse; statements keep source order.
    "498-quirk-single-line-endpoint-via-parse": (
        2,
        {"parse": "ok", "validator": "program", "validate": "ok", "statements": ["EndpointDecl"]},
    ),
    "501-quirk-endpoints-appended-last": (
        2,
        {
            "statements": ["EndpointDecl", "VarDecl"],
            "ast": {
                "Statements#len": 2,
                "Statements.0.Method": "GET",
                "Statements.0.Path": "/a",
                "Statements.1.Name": "x",
            },
        },
    ),
    # 3. validate() also applies the endpoint rules: GET with a body is reported.
    "432-conflict-endpoint-request-type-not-checked": (
        3,
        {
            "validate": "error",
            "error_contains": ['get endpoint "/users" has request from body'],
        },
    ),
    # 4. Keywords as names: "middleware auth { ... }" parses; its config lacks a provider.
    "435-conflict-valid-endpoint-middleware-auth": (
        4,
        {
            "parse": "ok",
            "validator": "program",
            "validate": "error",
            "error_contains": [
                "semanticerror: authentication middleware 'auth' requires 'provider' in config"
            ],
            "statements": ["DatabaseBlock", "MiddlewareDecl", "EndpointDecl"],
        },
    ),
    # 5. Strings decode \" \\ \n \t \r.
    "507-quirk-string-escapes-kept": (5, {"ast": {"Statements.0.Value.Value": 'He said "hi"'}}),
    # 6. Expressions: unary minus, and a call standing alone as a statement.
    "492-quirk-negative-number": (
        6,
        {
            "parse": "ok",
            "validator": "program",
            "validate": "ok",
            "statements": ["VarDecl"],
            "ast": {"Statements.0.Value.Operator": "-", "Statements.0.Value.Operand.Value": 1},
        },
    ),
    "495-quirk-call-statement": (
        6,
        {
            "parse": "ok",
            "validator": "program",
            "validate": "ok",
            "statements": ["FunctionDecl", "FunctionCall"],
        },
    ),
    # 7. Modifier arguments are symbolic values, not variable references.
    "534-val-model-default-bare-identifier": (7, {"validate": "ok", "error_contains": []}),
    # 7. String and number args of logic steps are values, not malformed identifiers.
    "585-epv-numeric-args-flagged": (7, {"validate": "ok", "error_contains": []}),
}


def load_case(case_id: str) -> tuple[str, dict]:
    folder = CASES_DIR / case_id
    source = (folder / "input.cai").read_text(encoding="utf-8")
    expect = json.loads((folder / "expect.json").read_text(encoding="utf-8"))
    if case_id in CHANGED:
        expect = {**expect, **CHANGED[case_id][1]}
    return source, expect


def go_error_text(diagnostics) -> str:
    """The Go validator's error string for a list of findings (reference §7.1)."""
    if len(diagnostics) == 1:
        return f"{diagnostics[0].kind}: {diagnostics[0].message}"
    lines = "".join(f"  {i}. {d.kind}: {d.message}\n" for i, d in enumerate(diagnostics, 1))
    return f"{len(diagnostics)} validation errors:\n{lines}"


def json_path(data: object, path: str) -> object:
    """Resolve a dotted ``ast`` fact path; a trailing ``#len`` takes the length."""
    path, wants_length = (path[:-4], True) if path.endswith("#len") else (path, False)
    for part in path.split(".") if path else ():
        data = data[int(part)] if isinstance(data, list) else data[part]
    return len(data) if wants_length else data


def ast_root(program: Program, entry: str) -> object:
    """What Go's JSON facts are rooted at: the program, the endpoints, or the one block."""
    data = to_json(program)
    if entry == "ParseEndpoints":
        return data["Statements"]
    if entry in ("ParseWorkflow", "ParseJob"):
        assert len(data["Statements"]) == 1
        return data["Statements"][0]
    return data


def validation_error_text(program: Program, expect: dict) -> str:
    validator = expect["validator"]
    if validator == "auth_strict":
        return strict_auth_error(program) or ""
    options = expect.get("validator_options") or {}
    statements = program.statements
    if validator == "endpoint" and options:
        endpoints = [s for s in statements if isinstance(s, ast.EndpointDecl)]
        diagnostics = validate_endpoints(endpoints, **options)
    elif validator in ("workflow", "job") and options:
        workflows = [s for s in statements if isinstance(s, ast.WorkflowDecl)]
        jobs = [s for s in statements if isinstance(s, ast.JobDecl)]
        diagnostics = validate_workflows(workflows, jobs, **options)
    else:
        # validate() runs program, endpoint, workflow and job rules (dsl.md change 3).
        diagnostics = validate(program)
    return go_error_text(diagnostics) if diagnostics else ""


def test_cases_folder_is_present():
    assert CASES_DIR.is_dir(), f"missing example cases: {CASES_DIR}"
    assert len(CASE_IDS) == 195


def test_every_override_names_an_existing_case():
    assert set(CHANGED) <= set(CASE_IDS)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case(case_id: str):
    source, expect = load_case(case_id)
    if expect["parse"] == "error":
        with pytest.raises(DSLSyntaxError) as raised:
            parse(source)
        # Go's parse errors start "line:col:"; ours do too ("parse error" is Go's CLI prefix).
        text = f"parse error: {raised.value}".lower()
        for fragment in expect["error_contains"]:
            assert fragment in text
        return
    program = parse(source)
    if "statements" in expect:
        assert [type(s).__name__ for s in program.statements] == expect["statements"]
    root = ast_root(program, expect["entry"])
    for path, value in expect.get("ast", {}).items():
        assert json_path(root, path) == value, path
    if expect["validator"] is None or expect["validate"] is None:
        return
    error_text = validation_error_text(program, expect)
    assert ("error" if error_text else "ok") == expect["validate"], error_text
    for fragment in expect["error_contains"]:
        assert fragment in error_text.lower()
