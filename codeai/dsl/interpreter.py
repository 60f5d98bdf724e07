"""The interpreter of dsl.md: runs the scripting statements, hands each exec block to a
runner callback and stops at the first non-zero exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from codeai.dsl import ast
from codeai.dsl.errors import DSLRuntimeError

MAX_CALL_DEPTH = 100
# Calls nest 100 deep and each may hold blocks and expressions nested MAX_NESTING deep;
# Python 3.11 runs Python-to-Python calls without C stack, so a higher limit is safe.
_RECURSION_LIMIT = 50_000

Runner = Callable[[str, dict[str, str]], int]
# A value of the language; None is "no value" (what a function without a result returns).
Value: TypeAlias = "str | float | bool | list[Value] | _Function | _Builtin | None"


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    steps_run: int
    failed_step: int | None  # 1-based index of the exec block that returned non-zero


@dataclass
class _Function:
    declaration: ast.FunctionDecl
    scope: _Scope  # where it was declared: the function sees that scope's variables


@dataclass
class _Builtin:
    name: str


class _Scope:
    __slots__ = ("parent", "values")

    def __init__(self, parent: _Scope | None, values: dict[str, Value] | None = None) -> None:
        self.values: dict[str, Value] = values if values is not None else {}
        self.parent = parent

    def find(self, name: str) -> _Scope | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope
            scope = scope.parent
        return None


class _StepFailed(Exception):
    """Internal: an exec block returned non-zero; unwinds the run."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code


def type_name(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "void"
    return "function"


def to_text(value: Value) -> str:
    """The string form used for env values and print: numbers lose a trailing .0,
    bools are true/false and arrays are their elements joined by spaces."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return " ".join(to_text(element) for element in value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return f"<function {value.declaration.name if isinstance(value, _Function) else value.name}>"


def _from_python(value: object) -> Value:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_from_python(element) for element in value]
    return str(value)


def _truthy(value: Value) -> bool:
    if isinstance(value, (bool, float, str, list)):
        return bool(value)
    return value is not None


def _same(left: Value, right: Value) -> bool:
    """Equality without Python's True == 1.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return left == right if not isinstance(left, (_Function, _Builtin)) else left is right


def _symbolic(expression: ast.Expression) -> Value:
    """Config values are symbolic: literals as written, names as their text."""
    if isinstance(expression, (ast.StringLiteral, ast.NumberLiteral, ast.BoolLiteral)):
        return expression.value
    if isinstance(expression, ast.Identifier):
        return expression.name
    if isinstance(expression, ast.ArrayLiteral):
        return [_symbolic(element) for element in expression.elements]
    return None


class _Interpreter:
    def __init__(
        self, runner: Runner, output: Callable[[str], None], max_statements: int, given: set[str]
    ) -> None:
        self.runner = runner
        self.output = output
        self.max_statements = max_statements
        self.given = given
        self.statements_run = 0
        self.steps_run = 0
        self.call_depth = 0
        self.config_env: dict[str, str] = {}
        builtins = _Scope(None, {"print": _Builtin("print"), "len": _Builtin("len")})
        self.globals = _Scope(builtins)

    # ---------------------------------------------------------------------- statements

    def block(self, statements: list[ast.Statement], scope: _Scope) -> None:
        for statement in statements:
            self.statements_run += 1
            if self.statements_run > self.max_statements:
                raise DSLRuntimeError(
                    f"statement budget exceeded: more than {self.max_statements} statements run",
                    statement.line,
                    statement.column,
                )
            handler = getattr(self, "exec_" + type(statement).__name__, None)
            if handler is not None:  # declarative blocks do nothing at run time
                handler(statement, scope)

    def exec_VarDecl(self, node: ast.VarDecl, scope: _Scope) -> None:
        if scope is self.globals and node.name in self.given:
            return  # the execute-time value wins; the declaration is only its default
        scope.values[node.name] = self.evaluate(node.value, scope)

    def exec_Assignment(self, node: ast.Assignment, scope: _Scope) -> None:
        value = self.evaluate(node.value, scope)
        owner = scope.find(node.name)
        if owner is None:
            raise DSLRuntimeError(f"undefined variable '{node.name}'", node.line, node.column)
        if isinstance(owner.values[node.name], (_Function, _Builtin)):
            raise DSLRuntimeError(
                f"cannot assign to function '{node.name}'", node.line, node.column
            )
        owner.values[node.name] = value

    def exec_FunctionCall(self, node: ast.FunctionCall, scope: _Scope) -> None:
        self.call(node, scope)

    def exec_IfStmt(self, node: ast.IfStmt, scope: _Scope) -> None:
        if _truthy(self.evaluate(node.condition, scope)):
            self.block(node.then.statements, _Scope(scope))
        elif node.else_ is not None:
            self.block(node.else_.statements, _Scope(scope))

    def exec_ForLoop(self, node: ast.ForLoop, scope: _Scope) -> None:
        items = self.evaluate(node.iterable, scope)
        if not isinstance(items, list):
            raise DSLRuntimeError(
                f"cannot iterate over non-array type '{type_name(items)}'",
                node.iterable.line,
                node.iterable.column,
            )
        for item in list(items):
            self.block(node.body.statements, _Scope(scope, {node.variable: item}))

    def exec_FunctionDecl(self, node: ast.FunctionDecl, scope: _Scope) -> None:
        scope.values[node.name] = _Function(node, scope)

    def exec_ExecBlock(self, node: ast.ExecBlock, scope: _Scope) -> None:
        env = dict(self.config_env)
        visible: _Scope | None = scope
        while visible is not None:
            for name, value in visible.values.items():
                if name not in env and not isinstance(value, (_Function, _Builtin)):
                    env[name] = to_text(value)
            visible = visible.parent
        self.steps_run += 1
        exit_code = self.runner(node.command, env)
        if exit_code != 0:
            raise _StepFailed(exit_code)

    # --------------------------------------------------------------------- expressions

    def evaluate(self, node: ast.Expression, scope: _Scope) -> Value:
        if isinstance(node, (ast.StringLiteral, ast.NumberLiteral, ast.BoolLiteral)):
            return node.value
        if isinstance(node, ast.Identifier):
            owner = scope.find(node.name)
            if owner is None:
                raise DSLRuntimeError(f"undefined variable '{node.name}'", node.line, node.column)
            return owner.values[node.name]
        if isinstance(node, ast.ArrayLiteral):
            return [self.evaluate(element, scope) for element in node.elements]
        if isinstance(node, ast.FunctionCall):
            return self.call(node, scope)
        if isinstance(node, ast.UnaryExpr):
            operand = self.evaluate(node.operand, scope)
            if node.operator == "!":
                return not _truthy(operand)
            return -self.number(operand, node)
        return self.binary(node, scope)

    def number(self, value: Value, node: ast.Node, operator: str = "-") -> float:
        if not isinstance(value, float) or isinstance(value, bool):
            raise DSLRuntimeError(
                f"operator '{operator}' needs numbers, got {type_name(value)}",
                node.line,
                node.column,
            )
        return value

    def binary(self, node: ast.BinaryExpr, scope: _Scope) -> Value:
        operator = node.operator
        left = self.evaluate(node.left, scope)
        if operator == "&&":
            return _truthy(left) and _truthy(self.evaluate(node.right, scope))
        if operator == "||":
            return _truthy(left) or _truthy(self.evaluate(node.right, scope))
        right = self.evaluate(node.right, scope)
        if operator == "==":
            return _same(left, right)
        if operator == "!=":
            return not _same(left, right)
        if operator == "+" and (isinstance(left, str) or isinstance(right, str)):
            if isinstance(left, (list, type(None))) or isinstance(right, (list, type(None))):
                raise DSLRuntimeError(
                    f"cannot add {type_name(left)} and {type_name(right)}", node.line, node.column
                )
            return to_text(left) + to_text(right)
        if operator == "+" and isinstance(left, list) and isinstance(right, list):
            return left + right
        if operator in ("<", "<=", ">", ">=") and isinstance(left, str) and isinstance(right, str):
            return _compare(operator, left, right)
        a, b = self.number(left, node, operator), self.number(right, node, operator)
        if operator in ("<", "<=", ">", ">="):
            return _compare(operator, a, b)
        if operator in ("/", "%") and b == 0:
            raise DSLRuntimeError("division by zero", node.line, node.column)
        return _ARITHMETIC[operator](a, b)

    def call(self, node: ast.FunctionCall, scope: _Scope) -> Value:
        owner = scope.find(node.name)
        if owner is None:
            raise DSLRuntimeError(f"undefined function '{node.name}'", node.line, node.column)
        function = owner.values[node.name]
        if not isinstance(function, (_Function, _Builtin)):
            raise DSLRuntimeError(f"'{node.name}' is not a function", node.line, node.column)
        arity = 1 if isinstance(function, _Builtin) else len(function.declaration.params)
        if len(node.args) != arity:
            raise DSLRuntimeError(
                f"wrong number of arguments for '{node.name}': expected {arity}, "
                f"got {len(node.args)}",
                node.line,
                node.column,
            )
        args = [self.evaluate(argument, scope) for argument in node.args]
        if isinstance(function, _Builtin):
            return self.builtin(function.name, args[0], node)
        if self.call_depth >= MAX_CALL_DEPTH:
            raise DSLRuntimeError(
                f"calls nested more than {MAX_CALL_DEPTH} deep", node.line, node.column
            )
        parameters = {
            param.name: value
            for param, value in zip(function.declaration.params, args, strict=False)
        }
        self.call_depth += 1
        try:
            self.block(function.declaration.body.statements, _Scope(function.scope, parameters))
        finally:
            self.call_depth -= 1
        return None  # the language has no return statement

    def builtin(self, name: str, argument: Value, node: ast.FunctionCall) -> Value:
        if name == "print":
            self.output(to_text(argument))
            return None
        if not isinstance(argument, (str, list)):
            raise DSLRuntimeError(
                f"len() needs a string or an array, got {type_name(argument)}",
                node.line,
                node.column,
            )
        return float(len(argument))


_Ordered = TypeVar("_Ordered", str, float)


def _compare(operator: str, left: _Ordered, right: _Ordered) -> bool:
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    if operator == ">":
        return left > right
    return left >= right


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
}


def _discard(_text: str) -> None:
    """Default output: the caller did not ask for print() lines."""


def run(
    program: ast.Program,
    *,
    variables: Mapping[str, object] | None = None,
    runner: Runner,
    output: Callable[[str], None] = _discard,
    max_statements: int = 100_000,
) -> RunResult:
    """Run ``program``: every exec block becomes ``runner(command_text, env)``.

    ``variables`` are declared before the program starts and win over top-level ``var``
    defaults. The first non-zero exit code ends the run. Runtime errors raise
    ``DSLRuntimeError``; anything the runner raises propagates unchanged.
    """
    given = dict(variables or {})
    interpreter = _Interpreter(runner, output, max_statements, set(given))
    for name, value in given.items():
        interpreter.globals.values[name] = _from_python(value)
    config = next((s for s in program.statements if isinstance(s, ast.ConfigDecl)), None)
    if config is not None:
        for key, expression in config.properties.items():
            value = _symbolic(expression)
            if value is not None:
                interpreter.config_env[f"CODEAI_CONFIG_{key.upper()}"] = to_text(value)
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    try:
        interpreter.block(program.statements, interpreter.globals)
    except _StepFailed as failure:
        steps = interpreter.steps_run
        return RunResult(exit_code=failure.exit_code, steps_run=steps, failed_step=steps)
    return RunResult(exit_code=0, steps_run=interpreter.steps_run, failed_step=None)
