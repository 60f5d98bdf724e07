"""Text -> syntax tree: the lark grammar plus a transformer that builds ``ast`` nodes."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from lark import Lark, Transformer, v_args

from codeai.dsl import ast
from codeai.dsl.driver import Driver, UnexpectedTokenError
from codeai.dsl.errors import DSLSyntaxError
from codeai.dsl.lexer import MAX_NESTING, DSLLexer, DSLToken, Source
from codeai.dsl.syntax_messages import describe_unexpected_token

# The library's own bound (the CLI reads files with it); it is also the ceiling of
# CODEAI_MAX_CONFIG_BYTES: the server checks configs against that byte limit first, and a
# character is at least one byte.
MAX_SOURCE_CHARS = 5_000_000
# MAX_NESTING (the lexer's) bounds the nesting of blocks and of expressions alike.
__all__ = ["MAX_NESTING", "MAX_SOURCE_CHARS", "parse"]

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _decode_string(token: str) -> str:
    """Strip the quotes and decode \\" \\\\ \\n \\t \\r (dsl.md change 5); keep other pairs."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


class _Position(TypedDict):
    """A node's ``line`` and ``column`` keywords."""

    line: int
    column: int


def _at(token: DSLToken) -> _Position:
    return {"line": token.line, "column": token.column}


def _node_at(node: ast.Node) -> _Position:
    return {"line": node.line, "column": node.column}


def _syntax_error(message: str, token: DSLToken) -> DSLSyntaxError:
    return DSLSyntaxError(message, token.line, token.column)


def _whole_number(token: DSLToken) -> int:
    """Counts in the grammar are Go ints: ``5.0`` is not one (reference §3)."""
    if not token.isdigit():
        raise _syntax_error(f"expected a whole number, found '{token}'", token)
    return int(token)


def _nesting(*children: ast.Expression) -> int:
    deepest = 0
    for child in children:
        if child.nesting > deepest:
            deepest = child.nesting
    depth = deepest + 1
    if depth > MAX_NESTING:
        first = children[0]
        raise DSLSyntaxError(
            f"expression nested too deeply (more than {MAX_NESTING} levels)",
            first.line,
            first.column,
        )
    return depth


def _inner_depth(statement: ast.Statement) -> int:
    if isinstance(statement, ast.IfStmt):
        return max(statement.then.depth, statement.else_.depth if statement.else_ else 0)
    if isinstance(statement, (ast.ForLoop, ast.FunctionDecl)):
        return statement.body.depth
    return 0


def _block(statements: list[ast.Statement], line: int, column: int) -> ast.Block:
    """A block; an ``else if`` chain nests blocks without braces, so depth is counted on
    the tree too (the lexer counts braces)."""
    depth = 1 + max(map(_inner_depth, statements), default=0)
    if depth > MAX_NESTING:
        raise DSLSyntaxError(
            f"blocks nested too deeply (more than {MAX_NESTING} levels)", line, column
        )
    return ast.Block(statements, depth=depth, line=line, column=column)


def _keyword_tokens(children: tuple[object, ...]) -> dict[str, DSLToken]:
    """Map each keyword token of an ``X value`` clause list to the child that follows it
    (the first such child of each keyword), where that child is a token."""
    values: dict[str, object] = {}
    for keyword, value in itertools.pairwise(children):
        if isinstance(keyword, DSLToken) and keyword.type.isupper() and keyword.type != "STRING":
            values.setdefault(keyword.type, value)
    return {key: value for key, value in values.items() if isinstance(value, DSLToken)}


def _string_values(children: tuple[object, ...]) -> dict[str, str]:
    """Like ``_keyword_tokens`` but only for string-valued clauses, decoded."""
    return {
        key: _decode_string(value)
        for key, value in _keyword_tokens(children).items()
        if value.type == "STRING"
    }


_N = TypeVar("_N", bound=ast.Node)


def _clause(clauses: Iterable[object], kind: type[_N]) -> _N | None:
    """The first of ``clauses`` that is a ``kind``, or None."""
    return next((clause for clause in clauses if isinstance(clause, kind)), None)


def _property_map(properties: Iterable[tuple[str, ast.Expression]]) -> dict[str, ast.Expression]:
    # Later duplicate keys win, as in Go (reference §3.1).
    return {key: value for key, value in properties}


@v_args(inline=True)
class _TreeBuilder(Transformer):
    """Called by the LALR parser on every reduction; returns ``ast`` nodes."""

    # -------------------------------------------------------------------------- scripting

    def start(self, *statements: ast.Statement) -> list[ast.Statement]:
        return list(statements)

    def name(self, token: DSLToken) -> DSLToken:
        return token

    def block(self, lbrace: DSLToken, *statements: ast.Statement) -> ast.Block:
        return _block(list(statements), lbrace.line, lbrace.column)

    def var_decl(self, keyword: DSLToken, name: DSLToken, value: ast.Expression) -> ast.VarDecl:
        return ast.VarDecl(str(name), value, **_at(keyword))

    def assignment(self, name: DSLToken, value: ast.Expression) -> ast.Assignment:
        return ast.Assignment(str(name), value, **_at(name))

    def if_stmt(
        self,
        keyword: DSLToken,
        condition: ast.Expression,
        then: ast.Block,
        _else: DSLToken | None = None,
        alternative: ast.Block | ast.IfStmt | None = None,
    ) -> ast.IfStmt:
        else_block = None
        if isinstance(alternative, ast.IfStmt):  # "else if" is an else block holding an if
            else_block = _block([alternative], alternative.line, alternative.column)
        elif alternative is not None and alternative.statements:  # an empty else is no else (Go)
            else_block = alternative
        return ast.IfStmt(condition, then, else_block, **_at(keyword))

    def for_loop(
        self,
        keyword: DSLToken,
        variable: DSLToken,
        _in: DSLToken,
        iterable: ast.Expression,
        body: ast.Block,
    ) -> ast.ForLoop:
        return ast.ForLoop(str(variable), iterable, body, **_at(keyword))

    def function_decl(
        self, keyword: DSLToken, name: DSLToken, *rest: DSLToken | ast.Block
    ) -> ast.FunctionDecl:
        *params, body = rest  # the parameters' names, then the body
        assert isinstance(body, ast.Block)
        parameters = [
            ast.Parameter(str(param), **_at(param))
            for param in params
            if isinstance(param, DSLToken)
        ]
        return ast.FunctionDecl(str(name), parameters, body, **_at(keyword))

    def exec_block(self, token: DSLToken) -> ast.ExecBlock:
        command = token[token.index("{") + 1 : -1].strip()
        return ast.ExecBlock(command, **_at(token))

    # ------------------------------------------------------------------------ expressions

    def string(self, token: DSLToken) -> ast.StringLiteral:
        return ast.StringLiteral(_decode_string(token), **_at(token))

    def number(self, token: DSLToken) -> ast.NumberLiteral:
        return ast.NumberLiteral(float(token), **_at(token))

    def true(self, token: DSLToken) -> ast.BoolLiteral:
        return ast.BoolLiteral(True, **_at(token))

    def false(self, token: DSLToken) -> ast.BoolLiteral:
        return ast.BoolLiteral(False, **_at(token))

    def identifier(self, token: DSLToken) -> ast.Identifier:
        return ast.Identifier(str(token), **_at(token))

    def array(self, lsqb: DSLToken, *elements: ast.Expression) -> ast.ArrayLiteral:
        return ast.ArrayLiteral(list(elements), nesting=_nesting(*elements), **_at(lsqb))

    def call(self, name: DSLToken, *args: ast.Expression) -> ast.FunctionCall:
        return ast.FunctionCall(str(name), list(args), nesting=_nesting(*args), **_at(name))

    def expr(self, *chain: Any) -> ast.Expression:
        """``a op b op c …`` (at least one operator) as a tree by precedence, left to right.
        ``chain``: operands (``ast.Expression``) and operator tokens by turns."""
        operands: list[ast.Expression] = [chain[0]]
        operators: list[DSLToken] = []
        for index in range(1, len(chain), 2):
            operator = chain[index]
            while operators and _PRECEDENCE[operators[-1]] >= _PRECEDENCE[operator]:
                right = operands.pop()
                operands.append(self.binary(operands.pop(), operators.pop(), right))
            operators.append(operator)
            operands.append(chain[index + 1])
        while operators:
            right = operands.pop()
            operands.append(self.binary(operands.pop(), operators.pop(), right))
        return operands[0]

    def binary(
        self, left: ast.Expression, operator: DSLToken, right: ast.Expression
    ) -> ast.BinaryExpr:
        return ast.BinaryExpr(
            left, str(operator), right, nesting=_nesting(left, right), **_node_at(left)
        )

    def unary(self, operator: DSLToken, operand: ast.Expression) -> ast.UnaryExpr:
        return ast.UnaryExpr(str(operator), operand, nesting=_nesting(operand), **_at(operator))

    # ----------------------------------------------------------------------------- config

    def property(self, key: DSLToken, value: ast.Expression) -> tuple[str, ast.Expression]:
        return (str(key), value)

    def config_decl(
        self, keyword: DSLToken, *properties: tuple[str, ast.Expression]
    ) -> ast.ConfigDecl:
        props = _property_map(properties)

        def string_property(key: str) -> str | None:
            value = props.get(key)
            return value.value if isinstance(value, ast.StringLiteral) else None

        database_type = string_property("database_type")
        return ast.ConfigDecl(
            database_type if database_type in ("postgres", "mongodb") else "postgres",
            string_property("mongodb_uri") or "",
            string_property("mongodb_database") or "",
            props,
            **_at(keyword),
        )

    # --------------------------------------------------------------------------- database

    def database_block(
        self,
        keyword: DSLToken,
        db_type: DSLToken,
        *declarations: ast.ModelDecl | ast.CollectionDecl,
    ) -> ast.DatabaseBlock:
        return ast.DatabaseBlock(str(db_type), list(declarations), **_at(keyword))

    def description(self, keyword: DSLToken, text: DSLToken) -> ast.StringLiteral:
        return ast.StringLiteral(_decode_string(text), **_at(keyword))

    def model_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        *items: ast.StringLiteral | ast.FieldDecl | ast.IndexDecl,
    ) -> ast.ModelDecl:
        fields = [item for item in items if isinstance(item, ast.FieldDecl)]
        indexes = [item for item in items if isinstance(item, ast.IndexDecl)]
        return ast.ModelDecl(str(name), _description(items), fields, indexes, **_at(keyword))

    def field_decl(
        self, name: DSLToken, field_type: ast.TypeRef, *modifiers: ast.Modifier
    ) -> ast.FieldDecl:
        return ast.FieldDecl(str(name), field_type, list(modifiers), **_at(name))

    def type_ref(self, name: DSLToken, *params: ast.TypeRef) -> ast.TypeRef:
        return ast.TypeRef(str(name), list(params), **_at(name))

    def modifier(self, name: DSLToken, value: ast.Expression | None = None) -> ast.Modifier:
        return ast.Modifier(str(name), value, **_at(name))

    def index_decl(self, keyword: DSLToken, *rest: DSLToken) -> ast.IndexDecl:
        fields = [str(t) for t in rest if t.type == "NAME"]
        unique = any(t.type == "UNIQUE" for t in rest)
        return ast.IndexDecl(fields, unique, **_at(keyword))

    def collection_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        *items: ast.StringLiteral | ast.MongoFieldDecl | list[ast.MongoIndexDecl],
    ) -> ast.CollectionDecl:
        fields = [item for item in items if isinstance(item, ast.MongoFieldDecl)]
        index_blocks = [item for item in items if isinstance(item, list)]
        # Go keeps Indexes null without an "indexes { }" block; a second block adds to it.
        indexes = [index for block in index_blocks for index in block] if index_blocks else None
        return ast.CollectionDecl(str(name), _description(items), fields, indexes, **_at(keyword))

    def mongo_field(
        self, name: DSLToken, field_type: ast.MongoTypeRef, *modifiers: ast.Modifier
    ) -> ast.MongoFieldDecl:
        return ast.MongoFieldDecl(str(name), field_type, list(modifiers), **_at(name))

    def embedded_type(self, keyword: DSLToken, *fields: ast.MongoFieldDecl) -> ast.MongoTypeRef:
        doc = ast.EmbeddedDoc(list(fields), **_at(keyword))
        return ast.MongoTypeRef("", None, doc, **_at(keyword))

    def mongo_type(self, name: DSLToken, *params: DSLToken) -> ast.MongoTypeRef:
        return ast.MongoTypeRef(str(name), [str(p) for p in params] or None, None, **_at(name))

    def indexes_block(
        self, keyword: DSLToken, *indexes: ast.MongoIndexDecl
    ) -> list[ast.MongoIndexDecl]:
        return list(indexes)

    def mongo_index(self, keyword: DSLToken, *rest: DSLToken) -> ast.MongoIndexDecl:
        fields = [str(t) for t in rest if t.type == "NAME"]
        unique = any(t.type == "UNIQUE" for t in rest)
        kind = next((str(t) for t in rest if t.type in ("TEXT", "GEOSPATIAL")), "")
        return ast.MongoIndexDecl(fields, unique, kind, **_at(keyword))

    # --------------------------------------------------------------- auth, role, middleware

    def auth_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        _method: DSLToken,
        method: DSLToken,
        *clauses: DSLToken,
    ) -> ast.AuthDecl:
        options = _string_values(clauses)
        jwks = None
        # Go builds JWKS only for jwt with a jwks_url; otherwise issuer/audience are dropped.
        if str(method) == "jwt" and "JWKS_URL" in options:
            jwks = ast.JWKSConfig(
                options["JWKS_URL"],
                options.get("ISSUER", ""),
                options.get("AUDIENCE", ""),
                **_at(clauses[0]),
            )
        return ast.AuthDecl(str(name), str(method), jwks, **_at(keyword))

    def role_decl(
        self, keyword: DSLToken, name: DSLToken, _permissions: DSLToken, *permissions: DSLToken
    ) -> ast.RoleDecl:
        return ast.RoleDecl(str(name), [_decode_string(p) for p in permissions], **_at(keyword))

    def middleware_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        _type: DSLToken,
        middleware_type: DSLToken,
        *config: DSLToken | tuple[str, ast.Expression],
    ) -> ast.MiddlewareDecl:
        properties = [child for child in config if isinstance(child, tuple)]
        return ast.MiddlewareDecl(
            str(name), str(middleware_type), _property_map(properties), **_at(keyword)
        )

    # ---------------------------------------------------------- events, integrations, hooks

    def event_decl(self, keyword: DSLToken, *rest: DSLToken | ast.EventField) -> ast.EventDecl:
        name = ".".join(str(t) for t in rest if isinstance(t, DSLToken) and t.type == "NAME")
        fields = [child for child in rest if isinstance(child, ast.EventField)]
        schema_keyword = next(
            (t for t in rest if isinstance(t, DSLToken) and t.type == "SCHEMA"), None
        )
        schema = ast.EventSchema(fields, **_at(schema_keyword)) if schema_keyword else None
        return ast.EventDecl(name, schema, **_at(keyword))

    def event_field(self, name: DSLToken, field_type: DSLToken) -> ast.EventField:
        return ast.EventField(str(name), str(field_type), **_at(name))

    def event_handler(
        self,
        keyword: DSLToken,
        event: DSLToken,
        _do: DSLToken,
        action: DSLToken,
        target: DSLToken,
        is_async: DSLToken | None = None,
    ) -> ast.EventHandlerDecl:
        return ast.EventHandlerDecl(
            _decode_string(event),
            str(action),
            _decode_string(target),
            is_async is not None,
            **_at(keyword),
        )

    def integration_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        _type: DSLToken,
        kind: DSLToken,
        *clauses: DSLToken | ast.IntegrationAuth | ast.CircuitBreakerConfig,
    ) -> ast.IntegrationDecl:
        options = _string_values(clauses)
        return ast.IntegrationDecl(
            str(name),
            str(kind),
            options["BASE_URL"],
            _clause(clauses, ast.IntegrationAuth),
            options.get("TIMEOUT", ""),
            _clause(clauses, ast.CircuitBreakerConfig),
            **_at(keyword),
        )

    def integration_auth(
        self, keyword: DSLToken, auth_type: DSLToken, *properties: tuple[str, ast.Expression]
    ) -> ast.IntegrationAuth:
        return ast.IntegrationAuth(str(auth_type), _property_map(properties), **_at(keyword))

    def circuit_breaker(
        self,
        keyword: DSLToken,
        _threshold: DSLToken,
        threshold: DSLToken,
        _timeout: DSLToken,
        timeout: DSLToken,
        _max: DSLToken,
        maximum: DSLToken,
    ) -> ast.CircuitBreakerConfig:
        return ast.CircuitBreakerConfig(
            _whole_number(threshold),
            _decode_string(timeout),
            _whole_number(maximum),
            **_at(keyword),
        )

    def webhook_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        _event: DSLToken,
        event: DSLToken,
        _url: DSLToken,
        url: DSLToken,
        _method: DSLToken,
        method: DSLToken,
        *extras: list[ast.WebhookHeader] | ast.WebhookRetry,
    ) -> ast.WebhookDecl:
        headers = next((c for c in extras if isinstance(c, list)), None)
        retry = _clause(extras, ast.WebhookRetry)
        return ast.WebhookDecl(
            str(name),
            _decode_string(event),
            _decode_string(url),
            str(method),
            headers,
            retry,
            **_at(keyword),
        )

    def webhook_headers(
        self, keyword: DSLToken, *headers: ast.WebhookHeader
    ) -> list[ast.WebhookHeader]:
        return list(headers)

    def webhook_header(self, key: DSLToken, value: DSLToken) -> ast.WebhookHeader:
        return ast.WebhookHeader(_decode_string(key), _decode_string(value), **_at(key))

    def webhook_retry(
        self,
        keyword: DSLToken,
        count: DSLToken,
        _interval: DSLToken,
        interval: DSLToken,
        _backoff: DSLToken,
        backoff: DSLToken,
    ) -> ast.WebhookRetry:
        return ast.WebhookRetry(
            _whole_number(count), _decode_string(interval), float(backoff), **_at(keyword)
        )

    # -------------------------------------------------------------------------- endpoints

    def endpoint_decl(self, *children: DSLToken | ast.Node) -> ast.EndpointDecl:
        """``children``: the annotations, the keyword, method and path tokens, the clauses."""
        annotations = [child for child in children if isinstance(child, ast.Annotation)]
        keyword, method, path = [child for child in children if isinstance(child, DSLToken)]
        clauses = [c for c in children[len(annotations) + 3 :] if isinstance(c, ast.Node)]
        seen: set[type] = set()  # the clauses other than middleware come once each
        for clause in clauses:
            if isinstance(clause, ast.MiddlewareRef):
                continue
            if type(clause) in seen:
                raise DSLSyntaxError(
                    f"an endpoint takes one '{_CLAUSE_WORDS[type(clause)]}' clause; "
                    f"this one repeats it",
                    **_node_at(clause),
                )
            seen.add(type(clause))
        role = _clause(clauses, ast.StringLiteral)
        handler = ast.Handler(
            _clause(clauses, ast.RequestType),
            _clause(clauses, ast.ResponseType),
            _clause(clauses, ast.LogicBlock),
            **_at(keyword),
        )
        first = annotations[0] if annotations else None
        return ast.EndpointDecl(
            str(method),
            _decode_string(path),
            handler,
            [clause for clause in clauses if isinstance(clause, ast.MiddlewareRef)],
            role.value if role else "",
            annotations,
            **(_node_at(first) if first else _at(keyword)),
        )

    def annotation(
        self, at: DSLToken, name: DSLToken, value: DSLToken | None = None
    ) -> ast.Annotation:
        return ast.Annotation(str(name), _decode_string(value) if value else "", **_at(at))

    def endpoint_middleware(self, keyword: DSLToken, name: DSLToken) -> ast.MiddlewareRef:
        return ast.MiddlewareRef(str(name), **_at(keyword))

    def require_role(self, keyword: DSLToken, role: DSLToken) -> ast.StringLiteral:
        return ast.StringLiteral(_decode_string(role), **_at(keyword))

    def request(
        self, keyword: DSLToken, type_name: DSLToken, _from: DSLToken, source: DSLToken
    ) -> ast.RequestType:
        return ast.RequestType(str(type_name), str(source), **_at(keyword))

    def response(
        self, keyword: DSLToken, type_name: DSLToken, _status: DSLToken, status: DSLToken
    ) -> ast.ResponseType:
        # Go converts with strconv.Atoi and ignores the error: "200.5" becomes 0.
        code = int(status) if status.isdigit() else 0
        return ast.ResponseType(str(type_name), code, **_at(keyword))

    def logic_block(self, keyword: DSLToken, *steps: ast.LogicStep) -> ast.LogicBlock:
        return ast.LogicBlock(list(steps), **_at(keyword))

    def step_target(self, name: DSLToken) -> DSLToken:
        return DSLToken.new_borrow_pos("TARGET", str(name), name)

    def logic_step(self, *children: DSLToken | ast.LogicOption) -> ast.LogicStep:
        tokens = [c for c in children if isinstance(c, DSLToken)]
        target = tokens.pop(0) if tokens[0].type == "TARGET" else None
        where = next((i for i, t in enumerate(tokens) if t.type == "WHERE"), None)
        condition = _decode_string(tokens[where + 1]) if where is not None else ""
        action, *args = tokens if where is None else tokens[:where]
        return ast.LogicStep(
            str(action),
            str(target or ""),
            [_decode_string(a) if a.type == "STRING" else str(a) for a in args],
            condition,
            [c for c in children if isinstance(c, ast.LogicOption)],
            arg_is_name=tuple(a.type not in ("STRING", "NUMBER") for a in args),
            **_at(target or action),
        )

    def logic_option(self, keyword: DSLToken, key: DSLToken, value: DSLToken) -> ast.LogicOption:
        text = _decode_string(value) if value.type == "STRING" else str(value)
        return ast.LogicOption(str(key), ast.StringLiteral(text, **_at(value)), **_at(keyword))

    # ------------------------------------------------------------------ workflows and jobs

    def workflow_decl(
        self,
        keyword: DSLToken,
        name: DSLToken,
        trigger: ast.Trigger,
        *rest: DSLToken | ast.WorkflowStep | ast.RetryPolicy,
    ) -> ast.WorkflowDecl:
        options = _string_values(rest)
        steps = [c for c in rest if isinstance(c, ast.WorkflowStep)]
        retry = _clause(rest, ast.RetryPolicy)
        return ast.WorkflowDecl(
            str(name), trigger, steps or None, retry, options.get("TIMEOUT", ""), **_at(keyword)
        )

    def trigger(
        self, keyword: DSLToken, kind: DSLToken, value: DSLToken | None = None
    ) -> ast.Trigger:
        text = _decode_string(value) if value is not None else ""
        return ast.Trigger(str(kind), text, **_at(keyword))

    def parallel_step(self, keyword: DSLToken, *steps: ast.WorkflowStep) -> ast.WorkflowStep:
        return ast.WorkflowStep("", "", None, "", True, list(steps), **_at(keyword))

    def workflow_step(self, name: DSLToken, *rest: DSLToken | ast.InputMapping) -> ast.WorkflowStep:
        options = _string_values(rest)
        inputs = [c for c in rest if isinstance(c, ast.InputMapping)]
        has_input = any(isinstance(c, DSLToken) and c.type == "INPUT" for c in rest)
        return ast.WorkflowStep(
            str(name),
            options.get("ACTIVITY", ""),
            inputs if has_input and inputs else None,
            options.get("IF", ""),
            False,
            None,
            **_at(name),
        )

    def input_mapping(self, key: DSLToken, value: DSLToken) -> ast.InputMapping:
        return ast.InputMapping(str(key), _decode_string(value), **_at(key))

    def retry_policy(self, keyword: DSLToken, *clauses: DSLToken) -> ast.RetryPolicy:
        values = _keyword_tokens(clauses)
        attempts = values.get("MAX_ATTEMPTS")
        interval = values.get("INITIAL_INTERVAL")
        multiplier = values.get("BACKOFF_MULTIPLIER")
        return ast.RetryPolicy(
            _whole_number(attempts) if attempts is not None else 0,
            _decode_string(interval) if interval is not None else "",
            float(multiplier) if multiplier is not None else 0.0,
            **_at(keyword),
        )

    def job_decl(
        self, keyword: DSLToken, name: DSLToken, *rest: DSLToken | ast.RetryPolicy
    ) -> ast.JobDecl:
        options = _string_values(rest)
        retry = _clause(rest, ast.RetryPolicy)
        return ast.JobDecl(
            str(name),
            options.get("SCHEDULE", ""),
            options["TASK"],
            options.get("QUEUE", ""),
            retry,
            **_at(keyword),
        )


# Loosest to tightest (dsl.md change 6); every operator is left-associative.
_PRECEDENCE = {
    **dict.fromkeys(["||"], 1),
    **dict.fromkeys(["&&"], 2),
    **dict.fromkeys(["==", "!="], 3),
    **dict.fromkeys(["<", "<=", ">", ">="], 4),
    **dict.fromkeys(["+", "-"], 5),
    **dict.fromkeys(["*", "/", "%"], 6),
}

_CLAUSE_WORDS = {
    ast.StringLiteral: "require_role",
    ast.RequestType: "request",
    ast.ResponseType: "response",
    ast.LogicBlock: "do",
}


def _description(members: Iterable[object]) -> str:
    """A model's or collection's description: its last ``description:`` member, or ""."""
    description = ""
    for member in members:
        if isinstance(member, ast.StringLiteral):
            description = member.value
    return description


@cache
def _lark() -> Lark:
    """lark's tables, lexer and tree callbacks for the grammar: built once per process, on
    first use or by ``prepare`` (about 0.2-0.3 s)."""
    grammar = (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer=DSLLexer,
        transformer=_TreeBuilder(),
        maybe_placeholders=False,
    )


@cache
def _built_driver() -> Driver:
    return Driver(_lark())


# Threads of one web worker may parse their first config at once: they wait for one build.
# Two builds at once are not only wasted work: lark compiles the grammar's literals with
# ast.literal_eval, and CPython 3.11 compiling in two threads at once can raise SystemError
# ("AST constructor recursion depth mismatch"), seen as a 500 on the first requests.
_BUILD_LOCK = threading.Lock()


def _driver() -> Driver:
    with _BUILD_LOCK:
        return _built_driver()


def prepare() -> None:
    """Build the parser now rather than at the first parse. A server's or worker's parent
    process calls it before forking, so every process it forks starts with the parser built:
    a gunicorn worker's first execute took 0.34 s instead of 11 ms building it."""
    _driver()


def keywords() -> list[str]:
    """Every keyword of the language, for syntax colouring."""
    return sorted(_driver().lexer.keywords)


def _parse_statements(source: Source) -> list[ast.Statement]:
    try:
        return _driver().parse(source)
    except UnexpectedTokenError as error:
        message, line, column = describe_unexpected_token(
            error.token, error.expected, error.previous, source.text
        )
        raise DSLSyntaxError(message, line, column) from None


def _parse_text(text: str) -> list[ast.Statement]:
    shell = Source(text)
    shell_error: DSLSyntaxError | None = None
    try:
        statements = _parse_statements(shell)
    except DSLSyntaxError as error:
        if not shell.exec_readings_differ:
            raise
        shell_error = error
    else:
        if not shell.exec_readings_differ:
            return statements
    try:
        return _parse_statements(Source(text, go_reading=True))
    except DSLSyntaxError:
        if shell_error is not None:
            raise shell_error from None
        return statements


def parse(source: str, *, filename: str = "<config>") -> ast.Program:
    """Parse a whole ``.cai`` text; raises ``DSLSyntaxError`` (never anything else).

    Exec text is read shell-friendly (dsl.md change 8); when a block reads differently
    under Go's first-``}`` rule and the text parses under Go's rule, Go's tree wins, so
    every program Go accepts keeps its tree.
    """
    try:
        if len(source) > MAX_SOURCE_CHARS:
            raise DSLSyntaxError(
                f"input is too large ({len(source)} characters; the limit is {MAX_SOURCE_CHARS})",
                1,
                1,
            )
        statements = _parse_text(source)
    except DSLSyntaxError as error:
        raise _with_context(error, source, filename) from None
    return ast.Program(statements, line=1, column=1, filename=filename)


def _with_context(error: DSLSyntaxError, source: str, filename: str) -> DSLSyntaxError:
    lines = source.split("\n")
    error.source_line = lines[error.line - 1] if 0 < error.line <= len(lines) else ""
    error.filename = filename
    return error
