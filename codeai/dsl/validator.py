"""Validation rules of reference §7.3-§7.5, with Go's categories and wording, plus positions.

``validate`` runs the program rules, then the endpoint rules and the workflow and job rules
with empty registries (dsl.md change 3). The registry-aware entry points
``validate_endpoints`` and ``validate_workflows`` are public for callers that have registries.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from codeai.dsl import ast
from codeai.dsl.errors import Diagnostic
from codeai.dsl.formats import cron_error, is_go_duration, url_scheme_and_error
from codeai.dsl.lexer import NAME_RE

SCOPE, TYPE, FUNCTION, SEMANTIC = "ScopeError", "TypeError", "FunctionError", "SemanticError"

MODEL_TYPES = frozenset(
    [
        "uuid",
        "string",
        "text",
        "integer",
        "int",
        "decimal",
        "boolean",
        "bool",
        "timestamp",
        "date",
        "time",
        "json",
        "jsonb",
        "list",
        "array",
        "ref",
        "enum",
    ]
)
MODEL_TYPES_MESSAGE = (
    "uuid, string, text, integer, decimal, boolean, timestamp, date, time, json, list, ref, enum"
)
MONGO_TYPES = frozenset(
    [
        "objectid",
        "string",
        "int",
        "int32",
        "int64",
        "double",
        "decimal",
        "bool",
        "boolean",
        "date",
        "timestamp",
        "binary",
        "regex",
        "array",
        "object",
        "null",
        "mixed",
    ]
)
MONGO_TYPES_MESSAGE = (
    "objectid, string, int, int32, int64, double, decimal, bool, date, timestamp, binary, "
    "array, object"
)
MONGO_FORBIDDEN_MODIFIERS = frozenset(
    ["foreign_key", "references", "on_delete", "on_update", "cascade"]
)
MAX_EMBEDDED_DEPTH = 10
MIDDLEWARE_TYPES = [
    "authentication",
    "authorization",
    "rate_limiting",
    "logging",
    "cors",
    "compression",
    "cache",
    "custom",
]
RATE_LIMIT_STRATEGIES = ["fixed_window", "sliding_window", "token_bucket", "leaky_bucket"]
EVENT_FIELD_TYPES = frozenset(
    [
        "string",
        "int",
        "integer",
        "decimal",
        "float",
        "bool",
        "boolean",
        "timestamp",
        "datetime",
        "array",
        "object",
        "uuid",
    ]
)
EVENT_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)?")
WORKFLOW_EVENT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)*")
TYPE_NAME_RE = re.compile(r"[A-Z][a-zA-Z0-9]*")
VERSION_RE = re.compile(r"v?\d+(\.\d+)*")
PATH_PARAM_RE = re.compile(rf":({NAME_RE.pattern})")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")

# Inferred value types of reference §7.2.
UNKNOWN, STRING, NUMBER, BOOL, ARRAY, FUNCTION_TYPE = (
    "unknown",
    "string",
    "number",
    "bool",
    "array",
    "function",
)
_LITERAL_TYPES = {
    ast.StringLiteral: STRING,
    ast.NumberLiteral: NUMBER,
    ast.BoolLiteral: BOOL,
    ast.ArrayLiteral: ARRAY,
}
_ARITHMETIC = {"-", "*", "/", "%"}


def go_quote(text: str) -> str:
    """Go's ``%q`` for the strings that reach these messages."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'


def _position(node: ast.Node) -> str:
    return f"{node.line}:{node.column}"


@dataclass
class _Symbol:
    kind: str  # "variable" or "function"
    type: str
    arity: int = 0
    given_at_execute_time: bool = False


@dataclass
class _Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, kind: str, message: str, node: ast.Node) -> None:
        self.diagnostics.append(Diagnostic(kind, message, node.line, node.column))


class _ProgramValidator:
    """Walks the statements in order (reference §7.1-§7.3)."""

    def __init__(self, report: _Report, predeclared: Iterable[str]) -> None:
        self.report = report
        # Builtins live in their own outermost scope so a top-level declaration may shadow
        # them (dsl.md change 7).
        builtins = {name: _Symbol("function", FUNCTION_TYPE, 1) for name in ("print", "len")}
        top = {
            name: _Symbol("variable", UNKNOWN, given_at_execute_time=True) for name in predeclared
        }
        self.scopes: list[dict[str, _Symbol]] = [builtins, top]
        self.config: ast.ConfigDecl | None = None
        self.databases: list[ast.DatabaseBlock] = []
        self.auth_providers: dict[str, ast.AuthDecl] = {}
        self.roles: dict[str, ast.RoleDecl] = {}
        self.middlewares: dict[str, ast.MiddlewareDecl] = {}
        self.events: dict[str, ast.EventDecl] = {}
        self.integrations: dict[str, ast.IntegrationDecl] = {}
        self.webhooks: dict[str, ast.WebhookDecl] = {}

    # ------------------------------------------------------------------------- scopes

    def lookup(self, name: str) -> _Symbol | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare_in_current(self, name: str, symbol: _Symbol, node: ast.Node) -> bool:
        scope = self.scopes[-1]
        existing = scope.get(name)
        if existing is not None and not existing.given_at_execute_time:
            self.report.add(SCOPE, f"duplicate declaration '{name}'", node)
            return False
        if existing is not None:
            return True  # a top-level var of an execute-time variable is its default
        scope[name] = symbol
        return True

    def infer(self, expression: ast.Expression) -> str:
        literal = _LITERAL_TYPES.get(type(expression))
        if literal:
            return literal
        if isinstance(expression, ast.Identifier):
            symbol = self.lookup(expression.name)
            return symbol.type if symbol else UNKNOWN
        if isinstance(expression, ast.UnaryExpr):
            return NUMBER if expression.operator == "-" else BOOL
        if isinstance(expression, ast.BinaryExpr):
            if expression.operator in _ARITHMETIC:
                return NUMBER
            if expression.operator == "+":
                left, right = self.infer(expression.left), self.infer(expression.right)
                return left if left == right and left in (STRING, NUMBER, ARRAY) else UNKNOWN
            return BOOL
        return UNKNOWN

    # -------------------------------------------------------------------- expressions

    def expression(self, expression: ast.Expression) -> None:
        if isinstance(expression, ast.Identifier):
            if self.lookup(expression.name) is None:
                self.report.add(SCOPE, f"undefined variable '{expression.name}'", expression)
        elif isinstance(expression, ast.FunctionCall):
            self.call(expression)
        elif isinstance(expression, ast.ArrayLiteral):
            for element in expression.elements:
                self.expression(element)
        elif isinstance(expression, ast.BinaryExpr):
            self.expression(expression.left)
            self.expression(expression.right)
        elif isinstance(expression, ast.UnaryExpr):
            self.expression(expression.operand)

    def call(self, call: ast.FunctionCall) -> None:
        for argument in call.args:
            self.expression(argument)
        symbol = self.lookup(call.name)
        if symbol is None:
            self.report.add(FUNCTION, f"undefined function '{call.name}'", call)
        elif symbol.kind != "function":
            self.report.add(FUNCTION, f"'{call.name}' is not a function", call)
        elif symbol.arity != len(call.args):
            self.report.add(
                FUNCTION,
                f"wrong number of arguments for '{call.name}': "
                f"expected {symbol.arity}, got {len(call.args)}",
                call,
            )

    # --------------------------------------------------------------------- statements

    def statements(self, statements: Sequence[ast.Statement]) -> None:
        for statement in statements:
            handler = getattr(self, "visit_" + type(statement).__name__)
            handler(statement)

    def in_new_scope(self, statements: Sequence[ast.Statement], **symbols: _Symbol) -> None:
        self.scopes.append(dict(symbols))
        self.statements(statements)
        self.scopes.pop()

    def visit_VarDecl(self, node: ast.VarDecl) -> None:
        self.expression(node.value)
        self.declare_in_current(node.name, _Symbol("variable", self.infer(node.value)), node)

    def visit_Assignment(self, node: ast.Assignment) -> None:
        self.expression(node.value)
        symbol = self.lookup(node.name)
        if symbol is None:
            self.report.add(SCOPE, f"undefined variable '{node.name}'", node)
        elif symbol.kind == "function":
            self.report.add(SCOPE, f"cannot assign to function '{node.name}'", node)
        else:
            inferred = self.infer(node.value)
            if inferred != UNKNOWN:
                symbol.type = inferred

    def visit_FunctionCall(self, node: ast.FunctionCall) -> None:
        self.call(node)

    def visit_IfStmt(self, node: ast.IfStmt) -> None:
        self.expression(node.condition)
        self.in_new_scope(node.then.statements)
        if node.else_ is not None:
            self.in_new_scope(node.else_.statements)

    def visit_ForLoop(self, node: ast.ForLoop) -> None:
        self.expression(node.iterable)
        iterable_type = self.infer(node.iterable)
        if iterable_type not in (UNKNOWN, ARRAY):
            self.report.add(
                TYPE, f"cannot iterate over non-array type '{iterable_type}'", node.iterable
            )
        # The loop variable and the body share one scope (reference §7.2).
        self.in_new_scope(node.body.statements, **{node.variable: _Symbol("variable", UNKNOWN)})

    def visit_FunctionDecl(self, node: ast.FunctionDecl) -> None:
        function = _Symbol("function", FUNCTION_TYPE, len(node.params))
        if not self.declare_in_current(node.name, function, node):
            return
        parameters: dict[str, _Symbol] = {}
        for parameter in node.params:
            if parameter.name in parameters:
                self.report.add(SCOPE, f"duplicate parameter '{parameter.name}'", parameter)
            parameters[parameter.name] = _Symbol("variable", UNKNOWN)
        self.in_new_scope(node.body.statements, **parameters)

    def visit_ExecBlock(self, node: ast.ExecBlock) -> None:
        pass  # exec text is opaque to the validator

    # -------------------------------------------------------------- config and database

    def visit_ConfigDecl(self, node: ast.ConfigDecl) -> None:
        if self.config is not None:
            self.report.add(
                SEMANTIC, "duplicate config declaration; only one config block allowed", node
            )
            return
        self.config = node
        if node.database_type == "mongodb":
            for key, value in (
                ("mongodb_uri", node.mongodb_uri),
                ("mongodb_database", node.mongodb_name),
            ):
                if not value:
                    self.report.add(
                        SEMANTIC, f"{key} is required when database_type is 'mongodb'", node
                    )

    def visit_DatabaseBlock(self, node: ast.DatabaseBlock) -> None:
        self.databases.append(node)
        for declaration in node.statements:
            if isinstance(declaration, ast.ModelDecl):
                self.model(declaration)
            else:
                self.collection(declaration)

    def model(self, model: ast.ModelDecl) -> None:
        seen: set[str] = set()
        for field_decl in model.fields:
            if field_decl.name in seen:
                self.report.add(
                    SEMANTIC,
                    f"duplicate field '{field_decl.name}' in model '{model.name}'",
                    field_decl,
                )
            seen.add(field_decl.name)
            self.model_type(field_decl.field_type, model)
            self.modifiers(field_decl.modifiers, field_decl.name, f"model '{model.name}'")
        for index in model.indexes:
            for name in index.fields:
                if name not in seen:
                    self.report.add(
                        SEMANTIC,
                        f"index references unknown field '{name}' in model '{model.name}'",
                        index,
                    )

    def model_type(self, type_ref: ast.TypeRef, model: ast.ModelDecl) -> None:
        if type_ref.name not in MODEL_TYPES:
            self.report.add(
                SEMANTIC,
                f"unknown type '{type_ref.name}' in model '{model.name}'; "
                f"valid types: {MODEL_TYPES_MESSAGE}",
                type_ref,
            )
        # ref(...) names a model and enum(...) lists values (dsl.md change 7): not types.
        if type_ref.name not in ("ref", "enum"):
            for param in type_ref.params:
                self.model_type(param, model)

    def modifiers(self, modifiers: list[ast.Modifier], field_name: str, owner: str) -> None:
        """Shared model/collection modifier rules. Modifier arguments are symbolic values
        such as ``default(pending)``, never variable references (dsl.md change 7)."""
        names: set[str] = set()
        for modifier in modifiers:
            if modifier.name in names:
                self.report.add(
                    SEMANTIC,
                    f"duplicate modifier '{modifier.name}' on field '{field_name}' in {owner}",
                    modifier,
                )
            names.add(modifier.name)
        if {"required", "optional"} <= names:
            self.report.add(
                SEMANTIC, f"field '{field_name}' cannot be both required and optional", modifiers[0]
            )

    def collection(self, collection: ast.CollectionDecl) -> None:
        top_level = self.mongo_fields(collection.fields, collection, depth=0)
        for index in collection.indexes or ():
            for name in index.fields:
                if name not in top_level:
                    self.report.add(
                        SEMANTIC,
                        f"index references unknown field '{name}' in collection "
                        f"'{collection.name}'",
                        index,
                    )

    def mongo_fields(
        self, fields_: list[ast.MongoFieldDecl], collection: ast.CollectionDecl, depth: int
    ) -> set[str]:
        where = f"collection '{collection.name}'"
        seen: set[str] = set()
        for mongo_field in fields_:
            if mongo_field.name in seen:
                self.report.add(
                    SEMANTIC, f"duplicate field '{mongo_field.name}' in {where}", mongo_field
                )
            seen.add(mongo_field.name)
            field_type = mongo_field.field_type
            if depth > MAX_EMBEDDED_DEPTH:
                self.report.add(
                    SEMANTIC,
                    f"embedded document nesting exceeds maximum depth of {MAX_EMBEDDED_DEPTH} "
                    f"in {where}, field '{mongo_field.name}'",
                    mongo_field,
                )
            elif field_type.embedded_doc is not None:
                self.mongo_fields(field_type.embedded_doc.fields, collection, depth + 1)
            elif field_type.name not in MONGO_TYPES:
                self.report.add(
                    SEMANTIC,
                    f"unknown MongoDB type '{field_type.name}' in {where}, field "
                    f"'{mongo_field.name}'; valid types: {MONGO_TYPES_MESSAGE}",
                    field_type,
                )
            for modifier in mongo_field.modifiers:
                if modifier.name in MONGO_FORBIDDEN_MODIFIERS:
                    self.report.add(
                        SEMANTIC,
                        f"modifier '{modifier.name}' is not valid for MongoDB collections; "
                        "foreign keys and referential constraints are not supported",
                        modifier,
                    )
            self.modifiers(mongo_field.modifiers, mongo_field.name, where)
        return seen

    def finish_databases(self) -> None:
        """The consistency pass that runs after the walk."""
        config = self.config
        config_type = config.database_type if config else "postgres"
        for block in self.databases:
            if block.db_type != config_type:
                self.report.add(
                    SEMANTIC,
                    f"database block type '{block.db_type}' does not match config "
                    f"database_type '{config_type}'; all database blocks must match the "
                    "configured database type",
                    block,
                )
        if (
            config is not None
            and config_type == "mongodb"
            and self.databases
            and all(block.db_type != "mongodb" for block in self.databases)
        ):
            self.report.add(
                SEMANTIC,
                "config specifies database_type 'mongodb' but no mongodb database block found",
                config,
            )

    # ------------------------------------------------------------ declared-once registries

    def first_declaration(self, registry: dict, name: str, node: ast.Node, what: str) -> bool:
        """Register ``node`` under ``name``; report and return False if it is a repeat."""
        first = registry.get(name)
        if first is not None:
            self.report.add(
                SEMANTIC, f"duplicate {what} '{name}'; first declared at {_position(first)}", node
            )
            return False
        registry[name] = node
        return True

    def visit_AuthDecl(self, node: ast.AuthDecl) -> None:
        if not self.first_declaration(self.auth_providers, node.name, node, "auth provider"):
            return
        if node.method == "jwt" and node.jwks is not None and not node.jwks.url:
            self.report.add(SEMANTIC, f"jwks_url is required in auth provider '{node.name}'", node)

    def visit_RoleDecl(self, node: ast.RoleDecl) -> None:
        if not self.first_declaration(self.roles, node.name, node, "role"):
            return
        if "" in node.permissions:
            self.report.add(SEMANTIC, f"empty permission in role '{node.name}'", node)

    def visit_MiddlewareDecl(self, node: ast.MiddlewareDecl) -> None:
        if not self.first_declaration(self.middlewares, node.name, node, "middleware"):
            return
        name, kind, config = node.name, node.middleware_type, node.config
        if kind not in MIDDLEWARE_TYPES:
            self.report.add(
                SEMANTIC,
                f"unknown middleware type '{kind}' in middleware '{name}'; "
                f"valid types: {', '.join(MIDDLEWARE_TYPES)}",
                node,
            )
        elif kind == "authentication":
            provider = config.get("provider")
            if provider is None:
                self.report.add(
                    SEMANTIC,
                    f"authentication middleware '{name}' requires 'provider' in config",
                    node,
                )
            elif isinstance(provider, ast.Identifier) and provider.name not in self.auth_providers:
                self.report.add(
                    SEMANTIC,
                    f"authentication middleware '{name}' references unknown auth provider "
                    f"'{provider.name}'",
                    provider,
                )
        elif kind == "authorization":
            roles = config.get("roles")
            for role in roles.elements if isinstance(roles, ast.ArrayLiteral) else ():
                if isinstance(role, ast.StringLiteral) and role.value not in self.roles:
                    self.report.add(
                        SEMANTIC,
                        f"authorization middleware '{name}' references unknown role '{role.value}'",
                        role,
                    )
        elif kind == "rate_limiting":
            for key in ("requests", "window"):
                if key not in config:
                    self.report.add(
                        SEMANTIC,
                        f"rate_limiting middleware '{name}' requires '{key}' in config",
                        node,
                    )
            strategy = config.get("strategy")
            if isinstance(strategy, ast.Identifier) and strategy.name not in RATE_LIMIT_STRATEGIES:
                self.report.add(
                    SEMANTIC,
                    f"unknown rate limiting strategy '{strategy.name}' in middleware '{name}'; "
                    f"valid strategies: {', '.join(RATE_LIMIT_STRATEGIES)}",
                    strategy,
                )

    # --------------------------------------------------- events, integrations, webhooks

    def visit_EventDecl(self, node: ast.EventDecl) -> None:
        if not EVENT_NAME_RE.fullmatch(node.name):
            self.report.add(
                SEMANTIC,
                f"event name '{node.name}' should follow resource.action or resource_action "
                "pattern",
                node,
            )
        if not self.first_declaration(self.events, node.name, node, "event"):
            return
        seen: set[str] = set()
        for event_field in node.schema.fields if node.schema else ():
            if event_field.name in seen:
                self.report.add(
                    SEMANTIC,
                    f"duplicate field '{event_field.name}' in event '{node.name}' schema",
                    event_field,
                )
            seen.add(event_field.name)
            if event_field.field_type.lower() not in EVENT_FIELD_TYPES:
                self.report.add(
                    SEMANTIC,
                    f"unknown field type '{event_field.field_type}' in event '{node.name}' "
                    "schema; valid types: string, int, decimal, bool, timestamp, array, "
                    "object, uuid",
                    event_field,
                )

    def visit_EventHandlerDecl(self, node: ast.EventHandlerDecl) -> None:
        pass  # handler targets are never resolved (reference §7.3)

    def check_url(self, url: str, node: ast.Node, what: str, name: str, label: str) -> None:
        """Shared integration base_url / webhook url rules."""
        scheme, error = url_scheme_and_error(url)
        if error:
            self.report.add(SEMANTIC, f"invalid {label} in {what} '{name}': {error}", node)
        elif scheme not in ("http", "https"):
            self.report.add(
                SEMANTIC, f"{label} in {what} '{name}' should use https:// or http:// scheme", node
            )

    def visit_IntegrationDecl(self, node: ast.IntegrationDecl) -> None:
        if not self.first_declaration(self.integrations, node.name, node, "integration"):
            return
        name = node.name
        if not node.base_url:
            self.report.add(SEMANTIC, f"integration '{name}' requires a base_url", node)
        else:
            self.check_url(node.base_url, node, "integration", name, "base_url")
        auth = node.auth
        required_keys = {"bearer": ("token",), "apikey": ("header", "value")}
        if auth is not None:
            for key in required_keys.get(auth.auth_type, ()):
                if key not in auth.config:
                    self.report.add(
                        SEMANTIC,
                        f"{auth.auth_type} auth in integration '{name}' requires '{key}' config",
                        auth,
                    )
        breaker = node.circuit_breaker
        if breaker is not None:
            if breaker.failure_threshold <= 0:
                self.report.add(
                    SEMANTIC,
                    f"circuit_breaker threshold must be positive in integration '{name}'",
                    breaker,
                )
            if breaker.max_concurrent <= 0:
                self.report.add(
                    SEMANTIC,
                    f"circuit_breaker max_concurrent must be positive in integration '{name}'",
                    breaker,
                )
            if not breaker.timeout:
                self.report.add(
                    SEMANTIC,
                    f"circuit_breaker timeout is required in integration '{name}'",
                    breaker,
                )

    def visit_WebhookDecl(self, node: ast.WebhookDecl) -> None:
        if not self.first_declaration(self.webhooks, node.name, node, "webhook"):
            return
        name = node.name
        if not node.url:
            self.report.add(SEMANTIC, f"webhook '{name}' requires a url", node)
        else:
            self.check_url(node.url, node, "webhook", name, "url")
        if not node.event:
            self.report.add(SEMANTIC, f"webhook '{name}' requires an event name", node)
        retry = node.retry
        if retry is not None:
            if retry.max_attempts <= 0:
                self.report.add(
                    SEMANTIC, f"retry max_attempts must be positive in webhook '{name}'", retry
                )
            if retry.backoff_multiplier < 1.0:
                self.report.add(
                    SEMANTIC, f"retry backoff must be >= 1.0 in webhook '{name}'", retry
                )

    # The endpoint, workflow and job rules run as their own passes (below).
    def visit_EndpointDecl(self, node: ast.EndpointDecl) -> None:
        pass

    def visit_WorkflowDecl(self, node: ast.WorkflowDecl) -> None:
        pass

    def visit_JobDecl(self, node: ast.JobDecl) -> None:
        pass


# ----------------------------------------------------------------------------- endpoints


def _collect(statements: Sequence[ast.Statement], kind: type) -> list:
    """Every ``kind`` statement, also those nested in blocks, in source order."""
    found = []
    for statement in statements:
        if isinstance(statement, kind):
            found.append(statement)
        for block in _nested_blocks(statement):
            found.extend(_collect(block.statements, kind))
    return found


def _nested_blocks(statement: ast.Statement) -> list[ast.Block]:
    if isinstance(statement, ast.IfStmt):
        return [statement.then] + ([statement.else_] if statement.else_ else [])
    if isinstance(statement, (ast.ForLoop, ast.FunctionDecl)):
        return [statement.body]
    return []


def validate_endpoints(
    endpoints: Iterable[ast.EndpointDecl],
    *,
    middlewares: Iterable[str] = (),
    types: Iterable[str] = (),
    actions: Iterable[str] = (),
) -> list[Diagnostic]:
    """Endpoint rules of reference §7.4; a registry is only checked when it is non-empty."""
    report = _Report()
    known_middlewares, known_types, known_actions = set(middlewares), set(types), set(actions)
    seen: dict[str, ast.EndpointDecl] = {}
    for endpoint in endpoints:
        key = f"{endpoint.method} {endpoint.path}"
        if key in seen:
            report.add(
                SEMANTIC,
                f"duplicate endpoint {go_quote(key)}; first declared at {_position(seen[key])}",
                endpoint,
            )
            continue
        seen[key] = endpoint
        _endpoint_rules(endpoint, report, known_middlewares, known_types, known_actions)
    return report.diagnostics


def _endpoint_rules(
    endpoint: ast.EndpointDecl,
    report: _Report,
    known_middlewares: set[str],
    known_types: set[str],
    known_actions: set[str],
) -> None:
    method, path = endpoint.method, endpoint.path
    where = f"in endpoint {method} {go_quote(path)}"
    if method not in HTTP_METHODS:
        report.add(
            SEMANTIC,
            f"invalid HTTP method {go_quote(method)}; valid methods: {', '.join(HTTP_METHODS)}",
            endpoint,
        )
    if not path.startswith("/"):
        report.add(SEMANTIC, f"endpoint path {go_quote(path)} must start with '/'", endpoint)
    params: set[str] = set()
    for param in PATH_PARAM_RE.findall(path):
        if param in params:
            report.add(
                SEMANTIC,
                f"duplicate path parameter :{param} in endpoint path {go_quote(path)}",
                endpoint,
            )
        params.add(param)
    if "//" in path:
        report.add(
            SEMANTIC, f"endpoint path {go_quote(path)} contains invalid double slashes", endpoint
        )
    used: set[str] = set()
    for middleware in endpoint.middlewares:
        if middleware.name in used:
            report.add(
                SEMANTIC, f"duplicate middleware {go_quote(middleware.name)} {where}", middleware
            )
        elif known_middlewares and middleware.name not in known_middlewares:
            report.add(
                SEMANTIC, f"unknown middleware {go_quote(middleware.name)} {where}", middleware
            )
        used.add(middleware.name)
    _annotation_rules(endpoint, report, where)
    handler = endpoint.handler
    for kind, declared in (("request", handler.request), ("response", handler.response)):
        if declared is None:
            continue
        if not TYPE_NAME_RE.fullmatch(declared.type_name):
            report.add(
                SEMANTIC,
                f"invalid {kind} type name {go_quote(declared.type_name)} {where}",
                declared,
            )
        elif known_types and declared.type_name not in known_types:
            report.add(
                SEMANTIC, f"unknown {kind} type {go_quote(declared.type_name)} {where}", declared
            )
    if handler.response is not None:
        status = handler.response.status_code
        if not 100 <= status <= 599:
            report.add(
                SEMANTIC,
                f"invalid HTTP status code {status}; must be between 100 and 599",
                handler.response,
            )
        if method == "DELETE" and status == 201:
            report.add(
                SEMANTIC,
                f"DELETE endpoint {go_quote(path)} returns 201 Created which is unusual",
                handler.response,
            )
    for step in handler.logic.steps if handler.logic else ():
        if known_actions and step.action not in known_actions:
            report.add(SEMANTIC, f"unknown action {go_quote(step.action)} {where}", step)
        # String and number args are values (dsl.md change 7); Go saw them unquoted.
        # A step built without ``arg_is_name`` reads every argument as a name.
        is_names = itertools.chain(step.arg_is_name, itertools.repeat(True))
        for arg, is_name in zip(step.args, is_names, strict=False):
            if is_name and not NAME_RE.fullmatch(arg) and arg not in ("request", "response"):
                report.add(
                    SEMANTIC,
                    f"invalid argument {go_quote(arg)} in logic step {go_quote(step.action)}",
                    step,
                )
    if method in ("GET", "DELETE") and handler.request and handler.request.source == "body":
        report.add(
            SEMANTIC,
            f"{method} endpoint {go_quote(path)} has request from body; "
            "GET/DELETE requests should not have a body",
            handler.request,
        )


def _annotation_rules(endpoint: ast.EndpointDecl, report: _Report, where: str) -> None:
    seen: set[str] = set()
    for annotation in endpoint.annotations:
        name, value = annotation.name, annotation.value
        if name in seen and name != "tag":
            report.add(SEMANTIC, f"duplicate annotation @{name} {where}", annotation)
        seen.add(name)
        if name == "auth" and not value:
            report.add(SEMANTIC, f"@auth annotation requires a value {where}", annotation)
        elif name == "rate_limit" and not re.fullmatch(r"[+-]?\d+", value):
            report.add(
                SEMANTIC, f"@rate_limit annotation value must be numeric {where}", annotation
            )
        elif name == "version" and not VERSION_RE.fullmatch(value):
            report.add(
                SEMANTIC,
                f"@version annotation value {go_quote(value)} should follow semver format "
                "(e.g., 'v1', 'v2.0')",
                annotation,
            )


# ------------------------------------------------------------------------ workflows, jobs


def validate_workflows(
    workflows: Iterable[ast.WorkflowDecl],
    jobs: Iterable[ast.JobDecl] = (),
    *,
    activities: Iterable[str] = (),
    task_types: Iterable[str] = (),
) -> list[Diagnostic]:
    """Workflow and job rules of reference §7.5; registries only checked when non-empty."""
    report = _Report()
    known_activities, known_tasks = set(activities), set(task_types)
    names: set[str] = set()
    for workflow in workflows:
        if workflow.name in names:
            report.add(
                SEMANTIC, f"duplicate workflow declaration: {go_quote(workflow.name)}", workflow
            )
            continue
        names.add(workflow.name)
        _workflow_rules(workflow, report, known_activities)
    names = set()
    for job in jobs:
        if job.name in names:
            report.add(SEMANTIC, f"duplicate job declaration: {go_quote(job.name)}", job)
            continue
        names.add(job.name)
        _job_rules(job, report, known_tasks)
    return report.diagnostics


def _check_schedule(schedule: str, node: ast.Node, report: _Report) -> None:
    problem = cron_error(schedule)
    if problem:
        report.add(SEMANTIC, f"invalid cron expression {go_quote(schedule)}: {problem}", node)


def _workflow_rules(
    workflow: ast.WorkflowDecl, report: _Report, known_activities: set[str]
) -> None:
    trigger = workflow.trigger
    if trigger.trig_type in ("event", "schedule") and not trigger.value:
        report.add(SEMANTIC, f'trigger type "{trigger.trig_type}" requires a value', trigger)
    elif trigger.trig_type == "event" and not WORKFLOW_EVENT_RE.fullmatch(trigger.value):
        report.add(
            SEMANTIC,
            f"invalid event name: {go_quote(trigger.value)} (expected format: 'domain.event')",
            trigger,
        )
    elif trigger.trig_type == "schedule":
        _check_schedule(trigger.value, trigger, report)
    if workflow.timeout and not is_go_duration(workflow.timeout):
        report.add(SEMANTIC, f"invalid timeout duration: {go_quote(workflow.timeout)}", workflow)
    if not workflow.steps:
        report.add(
            SEMANTIC, f"workflow {go_quote(workflow.name)} must have at least one step", workflow
        )
    step_names: set[str] = set()
    for step in workflow.steps or ():
        for regular in step.steps or () if step.parallel else (step,):
            if regular.name in step_names:
                report.add(SEMANTIC, f"duplicate step name: {go_quote(regular.name)}", regular)
            step_names.add(regular.name)
            if not regular.activity:
                report.add(
                    SEMANTIC, f"step {go_quote(regular.name)} must specify an activity", regular
                )
            elif known_activities and regular.activity not in known_activities:
                report.add(SEMANTIC, f"unknown activity: {go_quote(regular.activity)}", regular)
    retry = workflow.retry
    if retry is not None and retry.initial_interval and not is_go_duration(retry.initial_interval):
        report.add(
            SEMANTIC, f"invalid interval duration: {go_quote(retry.initial_interval)}", retry
        )


def _job_rules(job: ast.JobDecl, report: _Report, known_tasks: set[str]) -> None:
    if job.schedule:
        _check_schedule(job.schedule, job, report)
    if not job.task:
        report.add(SEMANTIC, f"job {go_quote(job.name)} must specify a task", job)
    elif known_tasks and job.task not in known_tasks:
        report.add(SEMANTIC, f"unknown task type: {go_quote(job.task)}", job)
    if job.queue and not NAME_RE.fullmatch(job.queue):
        report.add(
            SEMANTIC, f"invalid queue name: {go_quote(job.queue)} must be a valid identifier", job
        )


# --------------------------------------------------------------------------- entry points


def validate(program: ast.Program, *, predeclared: Iterable[str] = ()) -> list[Diagnostic]:
    """All findings, in walk order: program rules, then endpoint, workflow and job rules.

    ``predeclared`` names the variables supplied at execute time.
    """
    report = _Report()
    program_validator = _ProgramValidator(report, predeclared)
    program_validator.statements(program.statements)
    program_validator.finish_databases()
    statements = program.statements
    return (
        report.diagnostics
        + validate_endpoints(_collect(statements, ast.EndpointDecl))
        + validate_workflows(
            _collect(statements, ast.WorkflowDecl), _collect(statements, ast.JobDecl)
        )
    )


def strict_auth_error(program: ast.Program) -> str | None:
    """The first error of Go's stand-alone strict helpers (reference §7.6), bare message.

    Runs ValidateMiddlewares, then ValidateAuth per provider, then ValidateRoles.
    """
    statements = program.statements
    seen: set[str] = set()
    for middleware in _collect(statements, ast.MiddlewareDecl):
        name, kind = middleware.name, middleware.middleware_type
        if kind not in MIDDLEWARE_TYPES:
            return f"middleware {name}: unknown type '{kind}'"
        if name in seen:
            return f"duplicate middleware: {name}"
        seen.add(name)
    for auth in _collect(statements, ast.AuthDecl):
        jwks = auth.jwks
        if jwks is None:
            continue
        scheme, _ = url_scheme_and_error(jwks.url)
        if not scheme:
            return f"auth {auth.name}: invalid jwks_url: missing scheme in {jwks.url}"
        if not jwks.url.startswith("https://"):
            return f"auth {auth.name}: jwks_url must use HTTPS: {jwks.url}"
        if not jwks.issuer:
            return f"auth {auth.name}: jwks issuer cannot be empty"
        if not jwks.audience:
            return f"auth {auth.name}: jwks audience cannot be empty"
    seen = set()
    for role in _collect(statements, ast.RoleDecl):
        if not role.permissions:
            return f"role {role.name}: must have at least one permission"
        for permission in role.permissions:
            if not re.fullmatch(r"[a-z_]+:[a-z_]+", permission):
                return (
                    f"role {role.name}: invalid permission format '{permission}' "
                    "(must be 'resource:action')"
                )
        if role.name in seen:
            return f"duplicate role: {role.name}"
        seen.add(role.name)
    return None
