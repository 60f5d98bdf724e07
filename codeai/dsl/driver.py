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

from lark import Lark, Token
from lark.parsers.lalr_analysis import Shift

from codeai.dsl.lexer import Source


class _ParserView:
    """What the lexer reads of lark's ParserState: ``parse_conf.states`` (the terminals each
    state accepts) and ``state_stack``."""

    __slots__ = ("parse_conf", "state_stack", "states")

    def __init__(self, states: dict[int, dict[str, object]], state_stack: list[int]) -> None:
        self.parse_conf = self
        self.states = states
        self.state_stack = state_stack


class Driver:
    def __init__(self, lark: Lark) -> None:
        frontend = lark.parser
        parser = frontend.parser.parser
        table = parser.parse_table
        callbacks = parser.callbacks
        assert not any(isinstance(key, str) for key in callbacks), "no terminal callbacks"
        self.lexer = frontend.lexer
        self.start_state = table.start_states["start"]
        self.end_state = table.end_states["start"]
        # state -> terminal -> a state to shift to (int) or (size, callback, rule name)
        self.actions: dict[int, dict[str, object]] = {}
        # state -> rule name -> the state after reducing to that rule
        self.gotos: dict[int, dict[str, int]] = {}
        for state, row in table.states.items():
            actions, gotos = {}, {}
            for symbol, (action, argument) in row.items():
                name = str(symbol)
                if not name.isupper() and name != "$END":
                    gotos[name] = argument
                elif action is Shift:
                    actions[name] = argument
                else:
                    actions[name] = (
                        len(argument.expansion),
                        callbacks[argument],
                        str(argument.origin.name),
                    )
            self.actions[state], self.gotos[state] = actions, gotos

    def parse(self, source: Source):
        actions, gotos, end_state = self.actions, self.gotos, self.end_state
        state_stack = [self.start_state]
        value_stack: list = []
        view = _ParserView(actions, state_stack)
        token = previous = None
        for token in self.lexer.lex(_LexerState(source), view):
            kind = token.type
            before = None  # the stack before this token's reductions, once there are any
            while True:
                action = actions[state_stack[-1]].get(kind)
                if action is None:
                    raise self._unexpected(token, previous, before or state_stack)
                if action.__class__ is int:
                    state_stack.append(action)
                    value_stack.append(token)
                    break
                if before is None:
                    before = state_stack[:]
                size, callback, origin = action
                if size:
                    children = value_stack[-size:]
                    del value_stack[-size:]
                    del state_stack[-size:]
                else:
                    children = []
                value_stack.append(callback(children))
                state_stack.append(gotos[state_stack[-1]][origin])
            previous = token
        end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
        before = state_stack[:]
        while True:
            action = actions[state_stack[-1]].get("$END")
            if action is None or action.__class__ is int:
                raise self._unexpected(end, previous, before)
            size, callback, origin = action
            if size:
                children = value_stack[-size:]
                del value_stack[-size:]
                del state_stack[-size:]
            else:
                children = []
            value = callback(children)
            state_stack.append(gotos[state_stack[-1]][origin])
            value_stack.append(value)
            if state_stack[-1] == end_state:
                return value

    def _unexpected(self, token: Token, previous: Token | None, stack: list[int]):
        expected = {name for name in self.actions[stack[-1]] if self._shifts(stack, name)}
        return UnexpectedTokenError(token, previous, expected)

    def _shifts(self, stack: list[int], terminal: str) -> bool:
        """Whether ``terminal`` would be shifted, after the reductions it calls for."""
        stack = list(stack)
        while True:
            action = self.actions[stack[-1]].get(terminal)
            if action is None:
                return False
            if action.__class__ is int:
                return True
            size, _callback, origin = action
            if size:
                del stack[-size:]
            stack.append(self.gotos[stack[-1]][origin])
            if terminal == "$END" and stack[-1] == self.end_state:
                return True


class UnexpectedTokenError(Exception):
    """``token`` cannot follow ``previous``; ``expected``: the terminals that can."""

    def __init__(self, token: Token, previous: Token | None, expected: set[str]) -> None:
        super().__init__(token)
        self.token = token
        self.previous = previous
        self.expected = expected


class _LexerState:
    """The one field of lark's LexerState that the lexer reads."""

    __slots__ = ("text",)

    def __init__(self, text: Source) -> None:
        self.text = text
