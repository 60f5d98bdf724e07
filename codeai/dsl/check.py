"""Parse and validate in one call: what the configs app stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from codeai.dsl.ast import Program
from codeai.dsl.errors import Diagnostic, DSLSyntaxError
from codeai.dsl.parser import parse
from codeai.dsl.validator import validate


@dataclass(frozen=True)
class CheckResult:
    program: Program | None  # None when the text does not parse
    diagnostics: list[Diagnostic]

    @property
    def valid(self) -> bool:
        return not self.diagnostics


def check(
    source: str, *, filename: str = "<config>", predeclared: Iterable[str] = ()
) -> CheckResult:
    """A syntax error comes back as one diagnostic of kind ``SyntaxError``."""
    try:
        program = parse(source, filename=filename)
    except DSLSyntaxError as error:
        return CheckResult(
            None, [Diagnostic("SyntaxError", error.message, error.line, error.column)]
        )
    return CheckResult(program, validate(program, predeclared=predeclared))
