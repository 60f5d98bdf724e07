"""The LALR loop over lark's parse table and lark's tree-building callbacks.

lark's own loop (``ParserState.feed_token``) pays per step for generic machinery: attribute
look-ups, ``Rule`` objects as dictionary keys (hashed and compared in Python), grammar
names that are ``Token`` objects (compared in Python). This loop runs the same table,
flattened once into plain dictionaries, and calls the same callbacks.

On an unexpected token it reports the terminals that can really come next: those the
parser would shift from the state it was in before the reductions that LALR makes on any
lookahead (lark's own ``expected`` is the state after them: too many and too few).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Lark
from lark.parsers.lalr_analysis import Shift

from codeai.dsl.lexer import DSLLexer, DSLToken, Source

# One entry of the flattened table, a tuple either way so the loop unpacks it untested:
# a shift is (the state to shift to, None, ""), a reduction is (the rule's length, the
# callback that builds its value from its children, the rule's name).
Action = tuple[int, Callable[[list[Any]], Any] | None, str]


class Driver:
    def __init__(self, lark: Lark) -> None:
        frontend = lark.parser
        parser = frontend.parser.parser
        table = parser.parse_table
        callbacks = parser.callbacks
        assert not any(isinstance(key, str) for key in callbacks), "no terminal callbacks"
        lexer = frontend.lexer
        assert isinstance(lexer, DSLLexer), "the grammar is built with lexer=DSLLexer"
        self.lexer = lexer
        self.start_state: int = table.start_states["start"]
        self.end_state: int = table.end_states["start"]
        # state -> terminal -> action
        self.actions: dict[int, dict[str, Action]] = {}
        # state -> rule name -> the state after reducing to that rule
        self.gotos: dict[int, dict[str, int]] = {}
        for state, row in table.states.items():
            actions: dict[str, Action] = {}
            gotos: dict[str, int] = {}
            for symbol, (action, argument) in row.items():
                name = str(symbol)
                if not name.isupper() and name != "$END":
                    gotos[name] = argument
                elif action is Shift:
                    actions[name] = (argument, None, "")
                else:
                    actions[name] = (
                        len(argument.expansion),
                        callbacks[argument],
                        str(argument.origin.name),
                    )
            self.actions[state], self.gotos[state] = actions, gotos
        # lark's table has no action in the state after the whole program: there, shifting
        # the lexer's last token ($END) is accepting the input.
        assert not self.actions[self.end_state], "nothing follows the whole program"
        self.actions[self.end_state]["$END"] = (self.end_state, None, "")

    def parse(self, source: Source) -> Any:
        """The value of the grammar's ``start`` rule for ``source``."""
        actions, gotos = self.actions, self.gotos
        state_stack = [self.start_state]
        value_stack: list[Any] = []
        previous: DSLToken | None = None
        for token in self.lexer.tokens(source, actions, state_stack):
            kind = token.type
            before = None  # the stack before this token's reductions, once there are any
            while True:
                action = actions[state_stack[-1]].get(kind)
                if action is None:
                    raise self._unexpected(token, previous, before or state_stack)
                number, callback, origin = action
                if callback is None:  # shift to state ``number``
                    state_stack.append(number)
                    value_stack.append(token)
                    break
                if before is None:
                    before = state_stack[:]
                if number:  # reduce the ``number`` values on top of the stack
                    children = value_stack[-number:]
                    del value_stack[-number:]
                    del state_stack[-number:]
                else:
                    children = []
                value_stack.append(callback(children))
                state_stack.append(gotos[state_stack[-1]][origin])
            previous = token
        # The lexer ends with $END, whose shift accepted: the program's value is below it.
        return value_stack[0]

    def _unexpected(
        self, token: DSLToken, previous: DSLToken | None, stack: list[int]
    ) -> UnexpectedTokenError:
        expected = {name for name in self.actions[stack[-1]] if self._shifts(stack, name)}
        return UnexpectedTokenError(token, previous, expected)

    def _shifts(self, stack: list[int], terminal: str) -> bool:
        """Whether ``terminal`` would be shifted, after the reductions it calls for."""
        stack = list(stack)
        while True:
            action = self.actions[stack[-1]].get(terminal)
            if action is None:
                return False
            number, callback, origin = action
            if callback is None:
                return True
            if number:
                del stack[-number:]
            stack.append(self.gotos[stack[-1]][origin])


class UnexpectedTokenError(Exception):
    """``token`` cannot follow ``previous``; ``expected``: the terminals that can."""

    def __init__(self, token: DSLToken, previous: DSLToken | None, expected: set[str]) -> None:
        super().__init__(token)
        self.token = token
        self.previous = previous
        self.expected = expected
