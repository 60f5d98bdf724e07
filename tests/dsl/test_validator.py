"""Validator: every rule of reference §7.3-§7.5 with category, Go wording and position."""

from __future__ import annotations

import pytest

from codeai.dsl import Diagnostic, ast, check, parse, validate
from codeai.dsl.validator import validate_endpoints, validate_workflows

S, T, F, E = "ScopeError", "TypeError", "FunctionError", "SemanticError"
MONGO_CONFIG = 'config { database_type: "mongodb" mongodb_uri: "m" mongodb_database: "d" }\n'

RULES = [
    # scripting
    ("var a = b", S, "undefined variable 'b'", 1, 9),
    ("x = 1", S, "undefined variable 'x'", 1, 1),
    ("function f() { }\nf = 1", S, "cannot assign to function 'f'", 2, 1),
    ("var a = 1\nvar a = 2", S, "duplicate declaration 'a'", 2, 1),
    ("var f = 1\nfunction f() { }", S, "duplicate declaration 'f'", 2, 1),
    ("function f(a, a) { }", S, "duplicate parameter 'a'", 1, 15),
    ("var r = g()", F, "undefined function 'g'", 1, 9),
    ("var n = 1\nn()", F, "'n' is not a function", 2, 1),
    ("function f(a) { }\nf(1, 2)", F, "wrong number of arguments for 'f': expected 1, got 2", 2, 1),
    ('for c in "abc" { }', T, "cannot iterate over non-array type 'string'", 1, 10),
    ("var t = 1 < 2\nfor c in t { }", T, "cannot iterate over non-array type 'bool'", 2, 10),
    # config and database
    (
        "config { }\nconfig { }",
        E,
        "duplicate config declaration; only one config block allowed",
        2,
        1,
    ),
    (
        'config { database_type: "mongodb" mongodb_database: "d" }',
        E,
        "mongodb_uri is required when database_type is 'mongodb'",
        1,
        1,
    ),
    (
        "database mongodb { }",
        E,
        "database block type 'mongodb' does not match config database_type 'postgres'; "
        "all database blocks must match the configured database type",
        1,
        1,
    ),
    (
        MONGO_CONFIG + "database postgres { }",
        E,
        "database block type 'postgres' does not match config database_type 'mongodb'; "
        "all database blocks must match the configured database type",
        2,
        1,
    ),
    (
        "database postgres { model M { a: string\n a: int } }",
        E,
        "duplicate field 'a' in model 'M'",
        2,
        2,
    ),
    (
        "database postgres { model M { a: list(strng) } }",
        E,
        "unknown type 'strng' in model 'M'; valid types: uuid, string, text, integer, decimal, "
        "boolean, timestamp, date, time, json, list, ref, enum",
        1,
        39,
    ),
    (
        "database postgres { model M { a: int, unique, unique } }",
        E,
        "duplicate modifier 'unique' on field 'a' in model 'M'",
        1,
        47,
    ),
    (
        "database postgres { model M { a: int, required, optional } }",
        E,
        "field 'a' cannot be both required and optional",
        1,
        39,
    ),
    (
        "database postgres { model M { a: int\n index: [b] } }",
        E,
        "index references unknown field 'b' in model 'M'",
        2,
        2,
    ),
    (
        MONGO_CONFIG + "database mongodb { collection C { a: int\n a: int } }",
        E,
        "duplicate field 'a' in collection 'C'",
        3,
        2,
    ),
    (
        MONGO_CONFIG + "database mongodb { collection C { a: money } }",
        E,
        "unknown MongoDB type 'money' in collection 'C', field 'a'; valid types: objectid, "
        "string, int, int32, int64, double, decimal, bool, date, timestamp, binary, array, object",
        2,
        38,
    ),
    (
        MONGO_CONFIG
        + "database mongodb { collection C { a: "
        + "embedded { b: " * 11
        + "int"
        + " }" * 11
        + " } }",
        E,
        "embedded document nesting exceeds maximum depth of 10 in collection 'C', field 'b'",
        2,
        189,
    ),
    (
        MONGO_CONFIG + "database mongodb { collection C { a: int, cascade } }",
        E,
        "modifier 'cascade' is not valid for MongoDB collections; foreign keys and referential "
        "constraints are not supported",
        2,
        43,
    ),
    (
        MONGO_CONFIG + "database mongodb { collection C { a: int, auto, auto } }",
        E,
        "duplicate modifier 'auto' on field 'a' in collection 'C'",
        2,
        49,
    ),
    (
        MONGO_CONFIG + "database mongodb { collection C { a: int indexes { index: [z] } } }",
        E,
        "index references unknown field 'z' in collection 'C'",
        2,
        52,
    ),
    # auth, roles, middleware
    (
        "auth a { method basic }\nauth a { method basic }",
        E,
        "duplicate auth provider 'a'; first declared at 1:1",
        2,
        1,
    ),
    ('auth a { method jwt jwks_url "" }', E, "jwks_url is required in auth provider 'a'", 1, 1),
    (
        'role r { permissions ["a:b"] }\nrole r { permissions [] }',
        E,
        "duplicate role 'r'; first declared at 1:1",
        2,
        1,
    ),
    ('role r { permissions ["a:b", ""] }', E, "empty permission in role 'r'", 1, 1),
    (
        "middleware m { type logging }\nmiddleware m { type logging }",
        E,
        "duplicate middleware 'm'; first declared at 1:1",
        2,
        1,
    ),
    (
        "middleware m { type magic }",
        E,
        "unknown middleware type 'magic' in middleware 'm'; valid types: authentication, "
        "authorization, rate_limiting, logging, cors, compression, cache, custom",
        1,
        1,
    ),
    (
        "middleware m { type authentication }",
        E,
        "authentication middleware 'm' requires 'provider' in config",
        1,
        1,
    ),
    (
        "middleware m { type rate_limiting config { window: 1 } }",
        E,
        "rate_limiting middleware 'm' requires 'requests' in config",
        1,
        1,
    ),
    # events, integrations, webhooks
    (
        "event a.b.c { }",
        E,
        "event name 'a.b.c' should follow resource.action or resource_action pattern",
        1,
        1,
    ),
    ("event e { }\nevent e { }", E, "duplicate event 'e'; first declared at 1:1", 2, 1),
    ("event e { schema { a int\n a int } }", E, "duplicate field 'a' in event 'e' schema", 2, 2),
    (
        "event e { schema { a money } }",
        E,
        "unknown field type 'money' in event 'e' schema; valid types: string, int, decimal, "
        "bool, timestamp, array, object, uuid",
        1,
        20,
    ),
    (
        'integration i { type rest base_url "" }',
        E,
        "integration 'i' requires a base_url",
        1,
        1,
    ),
    (
        'integration i { type rest base_url "http://h:x/" }',
        E,
        'invalid base_url in integration \'i\': parse "http://h:x/": invalid port ":x" after host',
        1,
        1,
    ),
    (
        'integration i { type rest base_url "https://h" auth apikey { header: "H" } }',
        E,
        "apikey auth in integration 'i' requires 'value' config",
        1,
        48,
    ),
    (
        'integration i { type rest base_url "https://h" }\n'
        'integration i { type rest base_url "x" }',
        E,
        "duplicate integration 'i'; first declared at 1:1",
        2,
        1,
    ),
    ('webhook w { event "e" url "" method POST }', E, "webhook 'w' requires a url", 1, 1),
    (
        'webhook w { event "e" url "ftp://x" method POST }',
        E,
        "url in webhook 'w' should use https:// or http:// scheme",
        1,
        1,
    ),
    (
        'webhook w { event "" url "https://x" method POST }',
        E,
        "webhook 'w' requires an event name",
        1,
        1,
    ),
    (
        'webhook w { event "e" url "https://x" method POST '
        'retry 0 initial_interval "1s" backoff 2.0 }',
        E,
        "retry max_attempts must be positive in webhook 'w'",
        1,
        51,
    ),
]


@pytest.mark.parametrize(("source", "kind", "message", "line", "column"), RULES)
def test_program_rule(source, kind, message, line, column):
    assert Diagnostic(kind, message, line, column) in validate(parse(source))


def test_diagnostic_text_and_dict():
    diagnostic = validate(parse("var a = 1\nvar a = 2"))[0]
    assert str(diagnostic) == "2:1: ScopeError: duplicate declaration 'a'"
    assert diagnostic.to_dict() == {
        "line": 2,
        "column": 1,
        "message": "duplicate declaration 'a'",
        "kind": "ScopeError",
    }


def test_findings_come_in_walk_order():
    messages = [d.message for d in validate(parse("var a = x\nvar b = y"))]
    assert messages == ["undefined variable 'x'", "undefined variable 'y'"]


def test_scopes_if_for_function():
    assert check("if true { var a = 1 } else { var a = 2 }\nvar a = 3").valid
    assert not check("var xs = [1]\nfor x in xs { var x = 2 }").valid  # loop var shares body
    assert check("var x = 1\nfunction f(x) { x = 2 }").valid


def test_builtins_may_be_shadowed_at_top_level():  # dsl.md change 7
    assert check("var len = 3\nvar print = 4").valid
    assert not check("var n = len(1, 2)").valid


def test_predeclared_names_are_known_and_their_top_level_var_is_a_default():
    assert check('var env = "dev"\nvar target = region', predeclared=["env", "region"]).valid
    assert not check("var target = region").valid


def test_enum_members_and_modifier_arguments_are_values():  # dsl.md change 7
    source = (
        "database postgres { model M { s: enum(open, closed), default(open)\n"
        " t: int, default(now()) } }"
    )
    assert check(source).valid


def test_option_values_may_be_booleans():  # dsl.md change 7
    source = (
        'endpoint GET "/users/:id" {\n  response User status 200\n'
        "  do {\n    user = find(User, id) with { cache: true }\n"
        "    other = find(User, id) with { cache: false }\n  }\n}"
    )
    result = check(source)
    assert result.valid, result.diagnostics
    steps = result.program.statements[0].handler.logic.steps
    assert [(s.options[0].key, s.options[0].value.value) for s in steps] == [
        ("cache", "true"),
        ("cache", "false"),
    ]


def test_string_and_number_args_of_logic_steps_are_valid():  # dsl.md change 7
    source = (
        'endpoint GET "/users" {\n  response UserList status 200\n'
        '  do {\n    users = query("users", "")\n    paginate(20, 0)\n  }\n}'
    )
    result = check(source)
    assert result.valid, result.diagnostics
    assert result.program.statements[0].handler.logic.steps[1].args == ["20", "0"]


def test_a_logic_arg_that_is_a_name_must_be_an_identifier():
    # Only a hand-built tree can hold such a name; every arg of Go's trees counts as one.
    step = ast.LogicStep("paginate", "", ["20", "page"], "", [], line=3, column=5)
    handler = ast.Handler(None, None, ast.LogicBlock([step]))
    endpoint = ast.EndpointDecl("GET", "/users", handler, [], "", [], line=1, column=1)
    assert [(d.message, d.line) for d in validate_endpoints([endpoint])] == [
        ('invalid argument "20" in logic step "paginate"', 3)
    ]


def test_endpoint_rules_with_positions_and_registries():
    program = parse(
        '@auth\n@rate_limit("many")\nendpoint DELETE "//x/:id/:id" {\n'
        "  middleware m\n  middleware m\n  request Body from body\n  response lower status 201\n"
        "  do { run(20) }\n}"
    )
    found = {(d.message, d.line, d.column) for d in validate(program)}
    where = 'in endpoint DELETE "//x/:id/:id"'
    assert found == {
        ('duplicate path parameter :id in endpoint path "//x/:id/:id"', 1, 1),
        ('endpoint path "//x/:id/:id" contains invalid double slashes', 1, 1),
        (f'duplicate middleware "m" {where}', 5, 3),
        (f"@auth annotation requires a value {where}", 1, 1),
        (f"@rate_limit annotation value must be numeric {where}", 2, 1),
        (f'invalid response type name "lower" {where}', 7, 3),
        ('DELETE endpoint "//x/:id/:id" returns 201 Created which is unusual', 7, 3),
        (
            'DELETE endpoint "//x/:id/:id" has request from body; '
            "GET/DELETE requests should not have a body",
            6,
            3,
        ),
    }
    endpoint = program.statements[0]
    strict = validate_endpoints([endpoint], middlewares=["other"], types=["X"], actions=["a"])
    messages = {d.message for d in strict}
    assert f'unknown middleware "m" {where}' in messages
    assert f'unknown request type "Body" {where}' in messages
    assert f'unknown action "run" {where}' in messages


def test_status_code_range():
    found = validate(parse('endpoint GET "/x" { response X status 99 }'))
    assert [d.message for d in found] == [
        "invalid HTTP status code 99; must be between 100 and 599"
    ]


WORKFLOW_RULES = [
    (
        'workflow w { trigger event "" steps { s { activity "a" } } }',
        'trigger type "event" requires a value',
    ),
    (
        'workflow w { trigger event "bad name" steps { s { activity "a" } } }',
        "invalid event name: \"bad name\" (expected format: 'domain.event')",
    ),
    (
        'workflow w { trigger schedule "" steps { s { activity "a" } } }',
        'trigger type "schedule" requires a value',
    ),
    (
        'workflow w { trigger schedule "61 * * * *" steps { s { activity "a" } } }',
        'invalid cron expression "61 * * * *": end of range (61) above maximum (59): 61',
    ),
    (
        'workflow w { trigger manual timeout "1d" steps { s { activity "a" } } }',
        'invalid timeout duration: "1d"',
    ),
    ("workflow w { trigger manual steps { } }", 'workflow "w" must have at least one step'),
    (
        'workflow w { trigger manual steps { s { activity "a" } '
        'parallel { s { activity "b" } } } }',
        'duplicate step name: "s"',
    ),
    ("workflow w { trigger manual steps { s { } } }", 'step "s" must specify an activity'),
    (
        'workflow w { trigger manual steps { s { activity "a" } } retry { initial_interval "x" } }',
        'invalid interval duration: "x"',
    ),
    (
        'workflow w { trigger manual steps { s { activity "a" } } }\n'
        'workflow w { trigger manual steps { s { activity "a" } } }',
        'duplicate workflow declaration: "w"',
    ),
    (
        'job j { schedule "@daily" task "t" }',
        "invalid cron expression \"@daily\": expected exactly 5 fields, found 1: ['@daily']",
    ),
    ('job j { task "" }', 'job "j" must specify a task'),
    (
        'job j { task "t" queue "low-priority" }',
        'invalid queue name: "low-priority" must be a valid identifier',
    ),
    ('job j { task "t" }\njob j { task "t" }', 'duplicate job declaration: "j"'),
]


@pytest.mark.parametrize(("source", "message"), WORKFLOW_RULES)
def test_workflow_and_job_rules(source, message):
    assert [d.message for d in validate(parse(source))] == [message]


def test_workflow_registries():
    program = parse(
        'workflow w { trigger manual steps { s { activity "a" } } }\njob j { task "t" }'
    )
    workflow, job = program.statements
    found = validate_workflows([workflow], [job], activities=["x"], task_types=["y"])
    assert [(d.message, d.line) for d in found] == [
        ('unknown activity: "a"', 1),
        ('unknown task type: "t"', 2),
    ]


@pytest.mark.parametrize("cron", ["*/5 * * * *", "0 9-17 * * mon-fri", "0 0 1,15 jan-dec ?"])
def test_valid_cron_expressions(cron):
    assert check(f'job j {{ schedule "{cron}" task "t" }}').valid
