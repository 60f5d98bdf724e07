"""The lexer that the LALR loop (``driver.py``) pulls tokens from.

One regex match per token (whitespace and comments are skipped by the same match), and
the parser's state decides what a word is: a keyword where the state accepts that keyword,
otherwise a NAME (dsl.md change 4; the eight reserved words are always keywords). That is
what lark's contextual lexer decides too, in less time, and with Go's whole-word
keywords (``jwtissuer`` is one name, not ``jwt`` ``issuer``).

Exec text is scanned here by hand (dsl.md change 8): outside quotes braces nest and the
block ends at the ``}`` that closes it; inside ``'…'``, ``"…"`` and after ``\\`` braces are
text. Where that reading never closes the block, Go's reading (the first ``}``) applies.
Line and column are counted over everything consumed, exec text included.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from lark import Token
from lark.common import LexerConf
from lark.lexer import Lexer, LexerState

from codeai.dsl.errors import DSLSyntaxError

# Blocks may nest this deep; it keeps every recursive walker (validator, interpreter,
# to_json) far below Python's recursion limit.
MAX_NESTING = 64

# A name of the language (a variable, function, parameter, queue...); keywords are spelt so.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words the Go grammar never takes as names (reference §1.4).
RESERVED_WORDS = frozenset(["var", "if", "else", "for", "in", "function", "true", "false"])
# Operators whose grammar terminal groups several spellings.
_OPERATORS = {
    "==": "EQ_OP",
    "!=": "EQ_OP",
    "<=": "REL_OP",
    ">=": "REL_OP",
    "<": "REL_OP",
    ">": "REL_OP",
    "*": "MUL_OP",
    "/": "MUL_OP",
    "%": "MUL_OP",
}
_FLOAT_RE = re.compile(r"[0-9]+\.[0-9]+")
_EXEC_OPEN_RE = re.compile(r"\s*\{")
# Shell text: runs of plain characters, a quoted string, an escaped character, a brace, or
# an opening quote / backslash that is never closed.
_SHELL_RE = re.compile(r"""[^{}'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[{}]|['"\\]""", re.DOTALL)


def shell_exec_end(text: str, start: int) -> int | None:
    """Index of the ``}`` that closes an exec block whose text starts at ``start`` under
    the shell reading, or None where that reading never closes it."""
    depth = 1
    position = start
    match = _SHELL_RE.match
    while True:
        found = match(text, position)
        if found is None:
            return None  # end of text inside the block
        piece = found.group()
        if piece == "}":
            depth -= 1
            if depth == 0:
                return found.start()
        elif piece == "{":
            depth += 1
        elif piece in ("'", '"', "\\"):
            return None  # a quote or escape that runs to the end of the text
        position = found.end()


class Source:
    """One text to parse and how its exec blocks are read (per parse, so the lexer and
    the grammar tables stay shared between threads)."""

    __slots__ = ("exec_readings_differ", "go_reading", "text")

    def __init__(self, text: str, *, go_reading: bool = False) -> None:
        self.text = text
        self.go_reading = go_reading  # every exec block ends at its first "}"
        self.exec_readings_differ = False  # set when a block's two readings disagree


class DSLToken(Token):
    """A token of this lexer: unlike lark's in general, it always knows where it starts."""

    __slots__ = ()
    start_pos: int
    line: int
    column: int


def _token(kind: str, value: str, start: int, line: int, column: int) -> DSLToken:
    # Token(...) routes through a keyword-argument shim; this is its body, without it.
    token = str.__new__(DSLToken, value)
    token.type = kind
    token.value = value
    token.start_pos = start
    token.line = line
    token.column = column
    token.end_line = token.end_column = token.end_pos = None
    return token


class DSLLexer(Lexer):
    """lark's custom-lexer interface (built once per grammar, from its terminals); the LALR
    loop of ``driver.py`` calls ``tokens`` once per text."""

    __future_interface__ = 2

    def __init__(self, conf: LexerConf) -> None:
        words: dict[str, str] = {}
        symbols: dict[str, str] = dict(_OPERATORS)
        for terminal in conf.terminals:
            if terminal.pattern.type != "str":
                continue
            value = terminal.pattern.value
            (words if NAME_RE.fullmatch(value) else symbols)[value] = terminal.name
        self.keywords = words
        self.symbols = symbols
        alternatives = "|".join(re.escape(s) for s in sorted(symbols, key=len, reverse=True))
        self.token_re = re.compile(
            r"(?:\s+|//[^\n]*|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/)*"
            rf"(?:(?P<WORD>{NAME_RE.pattern})"
            r"|(?P<NUMBER>[0-9]+(?:\.[0-9]*)?)"
            r'|(?P<STRING>"[^"\\]*(?:\\.[^"\\]*)*")'
            r'|(?P<OPEN_STRING>")'
            r"|(?P<OPEN_COMMENT>/\*)"
            rf"|(?P<SYMBOL>{alternatives}))?"
        )

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        """lark's own entry point: its parse loop is not used (see ``tokens``)."""
        raise NotImplementedError("codeai.dsl parses with driver.Driver, which calls tokens()")

    def tokens(
        self, source: Source, states: Mapping[int, Collection[str]], state_stack: list[int]
    ) -> Iterator[DSLToken]:
        """The tokens of ``source``, then ``$END`` where the input ends. ``states``: the
        terminals each parser state accepts; ``state_stack``: the parser's, read as it goes
        (where a word is a keyword depends on the state it arrives in)."""
        text = source.text
        size = len(text)
        match = self.token_re.match
        keywords, symbols = self.keywords, self.symbols
        position, line, line_start, depth = 0, 1, 0, 0
        while True:
            found = match(text, position)
            assert found is not None  # every part of the pattern is optional
            kind = found.lastgroup
            start = found.start(kind) if kind else found.end()
            if start > position:  # skipped whitespace and comments
                newlines = text.count("\n", position, start)
                if newlines:
                    line += newlines
                    line_start = text.rfind("\n", position, start) + 1
            column = start - line_start + 1
            if kind is None:
                if start >= size:
                    yield _token("$END", "", start, line, column)
                    return
                raise DSLSyntaxError(f"unexpected character {text[start]!r}", line, column)
            value = found.group(kind)
            position = found.end()
            if kind == "WORD":
                accepts = states[state_stack[-1]]
                if value == "exec" and "EXEC" in accepts:
                    opened = _EXEC_OPEN_RE.match(text, position)
                    if opened:
                        position = self._exec_end(source, opened.end())
                        value = text[start:position]
                        yield _token("EXEC", value, start, line, column)
                        newlines = value.count("\n")
                        if newlines:
                            line += newlines
                            line_start = text.rfind("\n", start, position) + 1
                        continue
                keyword = keywords.get(value)
                if keyword is not None and (keyword in accepts or value in RESERVED_WORDS):
                    kind = keyword
                else:
                    kind = "NAME"
            elif kind == "SYMBOL":
                kind = symbols[value]
                if kind == "LBRACE":
                    depth += 1
                    if depth > MAX_NESTING:
                        raise DSLSyntaxError(
                            f"blocks nested too deeply (more than {MAX_NESTING} levels)",
                            line,
                            column,
                        )
                elif kind == "RBRACE":
                    depth -= 1
            elif kind == "NUMBER":
                if "FLOAT" in states[state_stack[-1]] and _FLOAT_RE.fullmatch(value):
                    kind = "FLOAT"
            elif kind == "STRING":
                yield _token(kind, value, start, line, column)
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = text.rfind("\n", start, position) + 1
                continue
            elif kind == "OPEN_STRING":
                raise DSLSyntaxError(
                    "unterminated string: no closing '\"' before the end of the input",
                    line,
                    column,
                )
            else:  # OPEN_COMMENT
                raise DSLSyntaxError("unterminated comment: no closing '*/'", line, column)
            yield _token(kind, value, start, line, column)

    @staticmethod
    def _exec_end(source: Source, text_start: int) -> int:
        """Where the exec block whose text starts at ``text_start`` ends (past its ``}``)."""
        text = source.text
        first = text.find("}", text_start)
        if first == text_start:
            raise _error_at("an exec block needs a command between '{' and '}'", text, first - 1)
        closing = first
        if not source.go_reading:
            shell = shell_exec_end(text, text_start)
            if shell is not None and shell != first:  # None: it never closes, Go's reading
                source.exec_readings_differ = True
                closing = shell
        if closing < 0:
            raise _error_at("this exec block is never closed with '}'", text, text_start - 1)
        return closing + 1


def _error_at(message: str, text: str, position: int) -> DSLSyntaxError:
    line = text.count("\n", 0, position) + 1
    return DSLSyntaxError(message, line, position - text.rfind("\n", 0, position))
