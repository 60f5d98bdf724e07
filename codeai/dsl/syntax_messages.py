"""Turn lark's "unexpected token" into a sentence a person can act on.

``3:9: expected an expression after '=', found end of line``
"""

from __future__ import annotations

from collections.abc import Collection

from codeai.dsl.lexer import DSLToken

_EXPRESSION_START = {"STRING", "NUMBER", "TRUE", "FALSE", "LSQB", "LPAR", "MINUS", "BANG"}
# Keywords the grammar also takes as a name: where a name may come they are "a name".
_NAME_KEYWORDS = {
    "CONFIG",
    "DATABASE",
    "AUTH",
    "ROLE",
    "MIDDLEWARE",
    "EVENT",
    "ON",
    "INTEGRATION",
    "WEBHOOK",
    "ENDPOINT",
    "WORKFLOW",
    "JOB",
}
_BINARY_OPERATORS = {"OR_OP", "AND_OP", "EQ_OP", "REL_OP", "PLUS", "MINUS", "MUL_OP"}
_STATEMENT_START = {"VAR", "IF", "FOR", "FUNCTION", "EXEC", "CONFIG", "DATABASE", "AT"}
_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "FLOAT": "a decimal number such as 2.0",
    "EXEC": "an exec block",
    "EQ_OP": "'==' or '!='",
    "REL_OP": "'<', '<=', '>' or '>='",
    "MUL_OP": "'*', '/' or '%'",
    "$END": "end of input",
}
_PUNCTUATION = {
    "LBRACE": "{",
    "RBRACE": "}",
    "LSQB": "[",
    "RSQB": "]",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "COLON": ":",
    "EQUAL": "=",
    "DOT": ".",
    "AT": "@",
    "OR_OP": "||",
    "AND_OP": "&&",
    "PLUS": "+",
    "MINUS": "-",
    "BANG": "!",
}


def _terminal_text(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name in _PUNCTUATION:
        return f"'{_PUNCTUATION[name]}'"
    if name.isupper() and not name.startswith("__"):
        return f"'{name.lower() if name not in _HTTP_METHODS else name}'"
    return f"'{name}'"


_HTTP_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


def expected_phrase(expected: Collection[str]) -> str:
    names = set(expected)
    if {"LPAR", "EQUAL"} < names and len(names) > 2:
        # "(" and "=" only offer to read the keyword before as a variable name: noise here.
        names -= {"LPAR", "EQUAL"}
    parts: list[str] = []
    if names >= _STATEMENT_START:
        parts.append("a statement")
        names -= _STATEMENT_START | {"NAME", "AT", "ENDPOINT", "WORKFLOW", "JOB", "AUTH", "ROLE"}
        names -= {"MIDDLEWARE", "EVENT", "ON", "INTEGRATION", "WEBHOOK"}
    if names >= _EXPRESSION_START:
        parts.append("an expression")
        names -= _EXPRESSION_START | {"NAME"}
        names -= {"CONFIG", "DATABASE", "AUTH", "ROLE", "MIDDLEWARE", "EVENT", "ON"}
        names -= {"INTEGRATION", "WEBHOOK", "ENDPOINT", "WORKFLOW", "JOB"}
    if "NAME" in names and names >= _NAME_KEYWORDS:
        names -= _NAME_KEYWORDS
    if names >= _BINARY_OPERATORS:  # after a complete operand
        parts.append("an operator")
        names -= _BINARY_OPERATORS
    parts.extend(sorted(_terminal_text(n) for n in names))
    if not parts:
        return "something else"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def _end_of(token: DSLToken, source: str) -> tuple[int, int]:
    """(line, column) just after ``token``."""
    end = token.start_pos + len(token)
    return token.line + token.count("\n"), end - (source.rfind("\n", 0, end) + 1) + 1


def _found_phrase(token: DSLToken) -> str:
    if token.type == "$END":
        return "end of input"
    text = str(token)
    if token.type == "STRING":
        return f"the string {text if len(text) <= 30 else text[:27] + '...'}"
    return f"'{text}'"


def _misplaced_exec(
    source: str, brace: DSLToken, exec_line: int, exec_end_column: int
) -> tuple[str, int, int]:
    """``exec {`` that did not lex as an exec block: empty, unclosed, or where no statement fits."""
    after_brace = source[brace.start_pos + 1 :]
    if after_brace.startswith("}"):
        return "an exec block needs a command between '{' and '}'", brace.line, brace.column
    if "}" not in after_brace:
        return "this exec block is never closed with '}'", brace.line, brace.column
    return (
        "an exec block must be a statement of its own; the statement before it is unfinished",
        exec_line,
        exec_end_column - len("exec"),
    )


def describe_unexpected_token(
    token: DSLToken, expected: Collection[str], previous: DSLToken | None, source: str
) -> tuple[str, int, int]:
    """(message, line, column) for an unexpected ``token`` that follows ``previous``."""
    at_end = token.type == "$END"
    wanted = expected_phrase(expected)
    if previous is None:
        line = 1 if at_end else token.line
        column = 1 if at_end else token.column
        return f"expected {wanted}, found {_found_phrase(token)}", line, column
    text = str(previous)
    prev_line, prev_end_column = _end_of(previous, source)
    if text == "exec" and str(token) == "{":
        return _misplaced_exec(source, token, prev_line, prev_end_column)
    shown = text if len(text) <= 20 else text[:17] + "..."
    after = f"after '{shown}'"
    if at_end or token.line > prev_line:
        # Nothing more on the line: point just past the last token, where the user must type.
        found = "end of input" if at_end else "end of line"
        return f"expected {wanted} {after}, found {found}", prev_line, prev_end_column
    return f"expected {wanted} {after}, found {_found_phrase(token)}", token.line, token.column
