"""Errors and diagnostics of the CodeAI DSL."""

from __future__ import annotations

from dataclasses import dataclass


class DSLError(Exception):
    """Any error the DSL reports; ``str()`` is ``line:column: message``."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


class DSLSyntaxError(DSLError):
    """The text is not a CodeAI program; carries the offending source line."""

    def __init__(
        self, message: str, line: int, column: int, *, source_line: str = "", filename: str = ""
    ) -> None:
        super().__init__(message, line, column)
        self.source_line = source_line
        self.filename = filename

    def render(self) -> str:
        """``file:line:column: message`` followed by the source line and a caret under the spot."""
        location = f"{self.filename}:" if self.filename else ""
        text = f"{location}{self}"
        if self.source_line:
            # Tabs keep their width so the caret lines up under the offending character.
            prefix = "".join(
                ch if ch == "\t" else " " for ch in self.source_line[: self.column - 1]
            )
            text += f"\n    {self.source_line}\n    {prefix}^"
        return text


class DSLRuntimeError(DSLError):
    """A program stopped while running (bad operand, statement budget, call depth, ...)."""


@dataclass(frozen=True)
class Diagnostic:
    """One validation finding: ``kind`` is ScopeError, TypeError, FunctionError,
    SemanticError or (from ``check``) SyntaxError; ``message`` uses Go's wording."""

    kind: str
    message: str
    line: int
    column: int

    def to_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "kind": self.kind,
        }

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.kind}: {self.message}"
