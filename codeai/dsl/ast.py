"""Syntax tree of the CodeAI DSL.

Class names are the Go type names (they become the ``"Type"`` key of ``to_json``); field
names are the snake_case form of the Go field names (``serialize.GO_FIELD_NAMES`` lists the
ones that do not convert mechanically). Every node carries the 1-based line and column of
its first character in the original text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, TypeVar


@dataclass(kw_only=True)
class Node:
    # Positions do not take part in equality: two trees are equal when their content is.
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


_T = TypeVar("_T")


def internal(default: _T) -> _T:
    """A bookkeeping field with ``default``: not compared, not serialised."""
    return field(default=default, compare=False, repr=False, metadata={"internal": True})


# ----------------------------------------------------------------------------- expressions


@dataclass
class StringLiteral(Node):
    value: str
    nesting: ClassVar[int] = 1  # a leaf of the expression tree


@dataclass
class NumberLiteral(Node):
    value: float
    nesting: ClassVar[int] = 1  # a leaf of the expression tree


@dataclass
class BoolLiteral(Node):
    value: bool
    nesting: ClassVar[int] = 1  # a leaf of the expression tree


@dataclass
class Identifier(Node):
    name: str
    nesting: ClassVar[int] = 1  # a leaf of the expression tree


@dataclass
class FunctionCall(Node):
    name: str
    args: list[Expression]
    # Nesting depth of the expression tree, so walkers can rely on a bounded recursion.
    nesting: int = internal(1)


@dataclass
class ArrayLiteral(Node):
    elements: list[Expression]
    nesting: int = internal(1)


@dataclass
class BinaryExpr(Node):
    left: Expression
    operator: str
    right: Expression
    nesting: int = internal(1)


@dataclass
class UnaryExpr(Node):
    operator: str
    operand: Expression
    nesting: int = internal(1)


Expression = (
    StringLiteral
    | NumberLiteral
    | BoolLiteral
    | Identifier
    | FunctionCall
    | ArrayLiteral
    | BinaryExpr
    | UnaryExpr
)

# ------------------------------------------------------------------------ scripting statements


@dataclass
class Block(Node):
    statements: list[Statement]
    # Blocks nested in this one and itself: bounded, so tree walkers can recurse.
    depth: int = internal(1)


@dataclass
class VarDecl(Node):
    name: str
    value: Expression


@dataclass
class Assignment(Node):
    name: str
    value: Expression


@dataclass
class IfStmt(Node):
    condition: Expression
    then: Block
    else_: Block | None


@dataclass
class ForLoop(Node):
    variable: str
    iterable: Expression
    body: Block


@dataclass
class Parameter(Node):
    name: str
    default: Expression | None = None  # Go defines it; no syntax produces it


@dataclass
class FunctionDecl(Node):
    name: str
    params: list[Parameter]
    body: Block


@dataclass
class ExecBlock(Node):
    command: str


# ------------------------------------------------------------------------- config, database


@dataclass
class ConfigDecl(Node):
    database_type: str
    mongodb_uri: str
    mongodb_name: str
    properties: dict[str, Expression]


@dataclass
class TypeRef(Node):
    name: str
    params: list[TypeRef]


@dataclass
class Modifier(Node):
    name: str
    value: Expression | None


@dataclass
class FieldDecl(Node):
    name: str
    field_type: TypeRef
    modifiers: list[Modifier]


@dataclass
class IndexDecl(Node):
    fields: list[str]
    unique: bool


@dataclass
class ModelDecl(Node):
    name: str
    description: str
    fields: list[FieldDecl]
    indexes: list[IndexDecl]


@dataclass
class EmbeddedDoc(Node):
    fields: list[MongoFieldDecl]


@dataclass
class MongoTypeRef(Node):
    name: str
    params: list[str] | None
    embedded_doc: EmbeddedDoc | None


@dataclass
class MongoFieldDecl(Node):
    name: str
    field_type: MongoTypeRef
    modifiers: list[Modifier]


@dataclass
class MongoIndexDecl(Node):
    fields: list[str]
    unique: bool
    index_kind: str


@dataclass
class CollectionDecl(Node):
    name: str
    description: str
    fields: list[MongoFieldDecl]
    indexes: list[MongoIndexDecl] | None


@dataclass
class DatabaseBlock(Node):
    db_type: str
    statements: list[ModelDecl | CollectionDecl]
    name: str = ""  # Go defines it; no syntax sets it


# ---------------------------------------------------------------------- auth, roles, middleware


@dataclass
class JWKSConfig(Node):
    url: str
    issuer: str
    audience: str


@dataclass
class AuthDecl(Node):
    name: str
    method: str
    jwks: JWKSConfig | None
    config: dict[str, Expression] = field(default_factory=dict)


@dataclass
class RoleDecl(Node):
    name: str
    permissions: list[str]


@dataclass
class MiddlewareDecl(Node):
    name: str
    middleware_type: str
    config: dict[str, Expression]


# ---------------------------------------------------------------- events, integrations, hooks


@dataclass
class EventField(Node):
    name: str
    field_type: str


@dataclass
class EventSchema(Node):
    fields: list[EventField]


@dataclass
class EventDecl(Node):
    name: str
    schema: EventSchema | None
    handlers: None = None  # Go defines it; handlers are separate statements


@dataclass
class EventHandlerDecl(Node):
    event_name: str
    action_type: str
    target: str
    async_: bool


@dataclass
class IntegrationAuth(Node):
    auth_type: str
    config: dict[str, Expression]


@dataclass
class CircuitBreakerConfig(Node):
    failure_threshold: int
    timeout: str
    max_concurrent: int


@dataclass
class IntegrationDecl(Node):
    name: str
    intg_type: str
    base_url: str
    auth: IntegrationAuth | None
    timeout: str
    circuit_breaker: CircuitBreakerConfig | None


@dataclass
class WebhookHeader(Node):
    key: str
    value: str


@dataclass
class WebhookRetry(Node):
    max_attempts: int
    initial_interval: str
    backoff_multiplier: float


@dataclass
class WebhookDecl(Node):
    name: str
    event: str
    url: str
    method: str
    headers: list[WebhookHeader] | None
    retry: WebhookRetry | None


# ------------------------------------------------------------------------------- endpoints


@dataclass
class RequestType(Node):
    type_name: str
    source: str


@dataclass
class ResponseType(Node):
    type_name: str
    status_code: int


@dataclass
class LogicOption(Node):
    key: str
    value: StringLiteral


@dataclass
class LogicStep(Node):
    action: str
    target: str
    args: list[str]
    condition: str
    options: list[LogicOption]
    # Which args were written as names rather than strings or numbers: only names are
    # checked as identifiers (dsl.md change 7). Empty: all of them (Go's view).
    arg_is_name: tuple[bool, ...] = internal(())


@dataclass
class LogicBlock(Node):
    steps: list[LogicStep]


@dataclass
class Handler(Node):
    request: RequestType | None
    response: ResponseType | None
    logic: LogicBlock | None


@dataclass
class MiddlewareRef(Node):
    name: str


@dataclass
class Annotation(Node):
    name: str
    value: str


@dataclass
class EndpointDecl(Node):
    method: str
    path: str
    handler: Handler
    middlewares: list[MiddlewareRef]
    require_role: str
    annotations: list[Annotation]


# --------------------------------------------------------------------------- workflows, jobs


@dataclass
class Trigger(Node):
    trig_type: str
    value: str


@dataclass
class InputMapping(Node):
    key: str
    value: str


@dataclass
class WorkflowStep(Node):
    name: str
    activity: str
    input: list[InputMapping] | None
    condition: str
    parallel: bool
    steps: list[WorkflowStep] | None


@dataclass
class RetryPolicy(Node):
    max_attempts: int
    initial_interval: str
    backoff_multiplier: float


@dataclass
class WorkflowDecl(Node):
    name: str
    trigger: Trigger
    steps: list[WorkflowStep] | None
    retry: RetryPolicy | None
    timeout: str


@dataclass
class JobDecl(Node):
    name: str
    schedule: str
    task: str
    queue: str
    retry: RetryPolicy | None


Statement = (
    VarDecl
    | Assignment
    | FunctionCall  # a call standing alone as a statement (dsl.md change 6)
    | IfStmt
    | ForLoop
    | FunctionDecl
    | ExecBlock
    | ConfigDecl
    | DatabaseBlock
    | AuthDecl
    | RoleDecl
    | MiddlewareDecl
    | EventDecl
    | EventHandlerDecl
    | IntegrationDecl
    | WebhookDecl
    | EndpointDecl
    | WorkflowDecl
    | JobDecl
)


@dataclass
class Program(Node):
    statements: list[Statement]
    filename: str = field(default="<config>", compare=False, metadata={"internal": True})
