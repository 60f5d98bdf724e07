"""Parser: one test per construct (with positions), the dsl.md changes, syntax errors."""

from __future__ import annotations

import json

import pytest

from codeai.dsl import DSLSyntaxError, ast, check, parse, to_json
from codeai.dsl.parser import MAX_NESTING, MAX_SOURCE_CHARS


def only(source: str) -> ast.Node:
    statements = parse(source).statements
    assert len(statements) == 1
    return statements[0]


def test_var_decl_and_positions():
    node = only('\n  var greeting = "hi"')
    assert node == ast.VarDecl("greeting", ast.StringLiteral("hi", line=2, column=18))
    assert (node.line, node.column) == (2, 3)


def test_assignment_to_a_keyword_name():
    node = only("config = 1")  # Go's Name class includes the statement keywords
    assert isinstance(node, ast.Assignment)
    assert node.name == "config"


def test_if_else_and_empty_else_is_none():
    node = only("if ok { var a = 1 } else { }")
    assert isinstance(node, ast.IfStmt)
    assert node.else_ is None
    assert len(node.then.statements) == 1


def test_else_if_becomes_an_else_block_holding_an_if():
    node = only("if a { } else if b { var c = 1 }")
    assert isinstance(node.else_.statements[0], ast.IfStmt)


def test_for_loop_and_function():
    loop = only("for event in events { exec { echo $event } }")
    assert (loop.variable, loop.body.statements[0].command) == ("event", "echo $event")
    function = only("function add(a, b) { }")
    assert [(p.name, p.column) for p in function.params] == [("a", 14), ("b", 17)]


def test_exec_text_is_raw_and_trimmed():
    assert only('exec {  echo "a\\nb" | wc  }').command == 'echo "a\\nb" | wc'


@pytest.mark.parametrize(
    "command",
    [
        "echo ${HOME}",
        "awk '{print $1}' /etc/hosts",
        "f() { echo hi; }; f",
        r"find . -name '*.log' -exec gzip {} \;",
        "echo '}' \"{\" \\} done",
        'printf "%s\\n" "a \\" }" x',
    ],
)
def test_exec_text_may_hold_braces(command):  # dsl.md change 8
    program = parse(f"function f() {{\n  exec {{ {command} }}\n}}\nvar after = 1")
    function, after = program.statements
    assert function.body.statements[0].command == command
    assert (after.line, after.column) == (4, 1)


def test_positions_after_a_multi_line_exec_block():
    source = 'exec {\n  if [ -n "$x" ]; then\n    echo {a,b}\n  fi\n}\nvar y = 1 + z'
    exec_block, var = parse(source).statements
    assert exec_block.command.splitlines()[1] == "    echo {a,b}"
    assert (var.line, var.column) == (6, 1)
    assert (var.value.right.line, var.value.right.column) == (6, 13)
    found = check(source).diagnostics
    assert [(d.message, d.line, d.column) for d in found] == [("undefined variable 'z'", 6, 13)]


@pytest.mark.parametrize(
    ("source", "commands"),
    [
        # The shell reading never closes (an unmatched "{", an open quote): the first "}".
        ("exec { echo { }\nvar x = 1", ["echo {"]),
        ("exec { echo it's }\nvar x = 1", ["echo it's"]),
        # The shell reading closes, but only Go's reading makes the program parse.
        ("if a { exec { echo ${X} }", ["echo ${X"]),
        # Both readings parse: the program is one Go accepts, so it keeps Go's tree.
        ("exec { echo don't }\nvar x = 1\nexec { echo won't }", ["echo don't", "echo won't"]),
    ],
)
def test_every_program_go_accepts_keeps_its_exec_text(source, commands):
    def exec_texts(statements):
        for statement in statements:
            if isinstance(statement, ast.ExecBlock):
                yield statement.command
            elif isinstance(statement, ast.IfStmt):
                yield from exec_texts(statement.then.statements)

    assert list(exec_texts(parse(source).statements)) == commands


def test_keywords_are_whole_words():
    # lark's contextual lexer read "jwtissuer" as "jwt" "issuer"; Go's keywords are \b-bounded.
    with pytest.raises(DSLSyntaxError) as raised:
        parse('auth a { method jwtissuer "i" }')
    assert raised.value.message.endswith("found 'jwtissuer'")


def test_string_escapes_are_decoded():
    assert only(r'var s = "a\"b\\c\nd\te\rf\q"').value.value == 'a"b\\c\nd\te\rf\\q'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("(1 + 2) * 3", "((1 + 2) * 3)"),
        ("a || b && c == d", "(a || (b && (c == d)))"),
        ("1 < 2 == true", "((1 < 2) == true)"),
        ("-a - -b", "((-a) - (-b))"),
        ("!a && b", "((!a) && b)"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),
    ],
)
def test_expression_precedence(source, expected):
    def show(node):
        if isinstance(node, ast.BinaryExpr):
            return f"({show(node.left)} {node.operator} {show(node.right)})"
        if isinstance(node, ast.UnaryExpr):
            return f"({node.operator}{show(node.operand)})"
        if isinstance(node, ast.Identifier):
            return node.name
        return json.dumps(node.value) if isinstance(node.value, bool) else f"{node.value:g}"

    assert show(only(f"var x = {source}").value) == expected


def test_config_properties_and_database_type():
    node = only('config { database_type: "mongodb" mongodb_uri: "m://h" timeout: 30 }')
    assert (node.database_type, node.mongodb_uri, node.mongodb_name) == ("mongodb", "m://h", "")
    assert set(node.properties) == {"database_type", "mongodb_uri", "timeout"}


def test_model_with_keyword_field_names_and_index():
    source = """database postgres {
        model User {
            description: "people"
            token: string, required
            description: text
            role: enum(admin, member), default(member)
            index: [token] unique
        }
    }"""
    model = only(source).statements[0]
    assert model.description == "people"
    assert [f.name for f in model.fields] == ["token", "description", "role"]
    assert model.fields[2].field_type.params[1].name == "member"
    assert model.indexes[0] == ast.IndexDecl(["token"], True)
    assert (model.indexes[0].line, model.indexes[0].column) == (7, 13)


def test_collection_with_embedded_document_and_indexes():
    source = """database mongodb { collection Log {
        _id: objectid, primary
        meta: embedded { level: string  tags: array(string) }
        indexes { index: [_id] unique text }
    } }"""
    collection = only(source).statements[0]
    embedded = collection.fields[1].field_type.embedded_doc
    assert [f.name for f in embedded.fields] == ["level", "tags"]
    assert embedded.fields[1].field_type.params == ["string"]
    assert collection.indexes[0].index_kind == "text"


def test_auth_role_middleware():
    auth = only('auth main { method jwt jwks_url "https://x/jwks" issuer "i" }')
    assert auth.jwks == ast.JWKSConfig("https://x/jwks", "i", "")
    assert only("auth k { method apikey }").jwks is None
    assert only('role r { permissions ["a:b", "c:d"] }').permissions == ["a:b", "c:d"]
    middleware = only("middleware auth { type authentication config { provider: main } }")
    assert (middleware.name, middleware.middleware_type) == ("auth", "authentication")


def test_event_with_dotted_name_and_keyword_field():
    event = only("event user.created { schema { status string  token uuid } }")
    assert event.name == "user.created"
    assert [(f.name, f.field_type) for f in event.schema.fields] == [
        ("status", "string"),
        ("token", "uuid"),
    ]


def test_event_handler_integration_webhook():
    handler = only('on "a.b" do emit "c.d" async')
    assert (handler.action_type, handler.target, handler.async_) == ("emit", "c.d", True)
    integration = only(
        'integration pay { type rest base_url "https://p" auth apikey { header: "H" value: "v" }'
        ' timeout "5s" circuit_breaker { threshold 2 timeout "1s" max_concurrent 3 } }'
    )
    assert integration.circuit_breaker.failure_threshold == 2
    assert integration.auth.auth_type == "apikey"
    webhook = only(
        'webhook w { event "e" url "https://u" method PUT '
        'retry 2 initial_interval "1s" backoff 1.5 }'
    )
    assert webhook.retry.backoff_multiplier == 1.5
    assert webhook.headers is None


def test_endpoint_clauses_in_any_order_on_one_line():
    endpoint = only(
        '@auth("admin") endpoint PATCH "/u/:id" { response U status 200 middleware m '
        'request P from path do { u = find(User, "id") where "x" with { limit: 5 } } }'
    )
    assert endpoint.method == "PATCH"
    assert endpoint.annotations == [ast.Annotation("auth", "admin")]
    assert (endpoint.line, endpoint.column) == (1, 1)
    step = endpoint.handler.logic.steps[0]
    assert (step.target, step.action, step.args, step.condition) == (
        "u",
        "find",
        ["User", "id"],
        "x",
    )
    assert step.options[0].value.value == "5"


def test_annotation_without_endpoint_is_a_syntax_error():
    with pytest.raises(DSLSyntaxError) as raised:
        parse("@deprecated\nvar x = 1")
    assert "expected '(', '@' or 'endpoint' after 'deprecated'" in raised.value.message


def test_workflow_and_job_inside_a_file():
    program = parse(
        'var x = 1\nworkflow w { trigger manual steps { s { activity "a" } parallel { t { } } } }\n'
        'job j { schedule "* * * * *" task "t" queue "q" retry { max_attempts 2 } }'
    )
    workflow, job = program.statements[1:]
    assert workflow.trigger.trig_type == "manual"
    assert workflow.steps[1].parallel
    assert workflow.steps[1].steps[0].name == "t"
    assert job.retry.max_attempts == 2


def test_to_json_has_go_keys_plus_type_and_position():
    data = to_json(parse('var x = [1, "a"]\nif x { } else { }'))
    json.dumps(data)
    var = data["Statements"][0]
    assert var == {
        "Name": "x",
        "Value": {
            "Elements": [
                {"Value": 1, "Type": "NumberLiteral", "Line": 1, "Column": 10},
                {"Value": "a", "Type": "StringLiteral", "Line": 1, "Column": 13},
            ],
            "Type": "ArrayLiteral",
            "Line": 1,
            "Column": 9,
        },
        "Type": "VarDecl",
        "Line": 1,
        "Column": 1,
    }
    assert data["Statements"][1]["Else"] is None


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        (
            "var x = 1\n\nvar y =\nvar z = 2",
            "expected an expression after '=', found end of line",
            (3, 8),
        ),
        ("var a = 1\nvar x =\n", "expected an expression after '=', found end of input", (2, 8)),
        ("var x = 1 +\n\n}", "expected an expression after '+', found end of line", (1, 12)),
        (
            'var s = "open',
            "unterminated string: no closing '\"' before the end of the input",
            (1, 9),
        ),
        ("var a = #", "unexpected character '#'", (1, 9)),
        (
            "database mysql { }",
            "expected 'mongodb' or 'postgres' after 'database', found 'mysql'",
            (1, 10),
        ),
        ("exec {}", "an exec block needs a command between '{' and '}'", (1, 6)),
        ("var a = 1\nexec { echo hi\n", "this exec block is never closed with '}'", (2, 6)),
        (
            "var x =\nexec { echo hi }\n",
            "an exec block must be a statement of its own; the statement before it is unfinished",
            (2, 1),
        ),
    ],
)
def test_syntax_errors_say_where_what_and_what_was_expected(source, message, position):
    with pytest.raises(DSLSyntaxError) as raised:
        parse(source, filename="app.cai")
    error = raised.value
    assert (error.message, (error.line, error.column)) == (message, position)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # lark's own set here was that of the state after LALR's default reductions:
        # "a statement, ')', '}' ..." inside an array, "'}'" at the top level, no operators.
        ("var x = [1 2]", "expected an operator, ',' or ']' after '1', found '2'"),
        ("var x = 1 )", "expected a statement, an operator or end of input after '1', found ')'"),
        ("if a { var x = 1 )", "expected a statement, an operator or '}' after '1', found ')'"),
        ("print(1", "expected an operator, ')' or ',' after '1', found end of input"),
    ],
)
def test_expected_tokens_are_only_those_that_can_come_next(source, message):
    with pytest.raises(DSLSyntaxError) as raised:
        parse(source)
    assert raised.value.message == message


def test_syntax_error_shows_the_line_with_a_caret():
    with pytest.raises(DSLSyntaxError) as raised:
        parse("var ok = 1\nvar x = 1 +\n\nvar y = 2", filename="app.cai")
    assert raised.value.render() == (
        "app.cai:2:12: expected an expression after '+', found end of line\n"
        "    var x = 1 +\n"
        "               ^"
    )
    assert raised.value.source_line == "var x = 1 +"


def test_check_turns_a_syntax_error_into_a_diagnostic():
    result = check("var = 1")
    assert result.program is None
    assert not result.valid
    assert result.diagnostics[0].kind == "SyntaxError"
    assert str(result.diagnostics[0]).startswith("1:5: SyntaxError: expected a name")


@pytest.mark.parametrize(
    "source",
    [
        "{" * (MAX_NESTING + 1),
        "if a " * (MAX_NESTING + 1) + "{",
        "if a { } " + "else if a { } " * MAX_NESTING,  # nests without braces
        "var x = " + "[" * (MAX_NESTING + 1),
        "var x = " + "-" * (MAX_NESTING + 5) + "1",
        "var x = " + " + ".join(["1"] * (MAX_NESTING + 5)),
        "var x = 1\n" * 10 + "x",
    ],
)
def test_pathological_input_gives_a_clear_dsl_error(source):
    with pytest.raises(DSLSyntaxError):
        parse(source)


def test_deep_but_allowed_nesting_parses_and_validates():
    depth = MAX_NESTING - 1
    source = "if true { " * depth + "}" * depth + "\nvar x = " + "(" * 30 + "1" + ")" * 30
    assert check(source).valid
    assert check("if a { } " + "else if a { } " * (MAX_NESTING - 1), predeclared=["a"]).valid


def test_oversized_input_is_refused():
    with pytest.raises(DSLSyntaxError, match="too large"):
        parse(" " * (MAX_SOURCE_CHARS + 1))
