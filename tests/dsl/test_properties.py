"""Property tests: any text gives a tree or a DSLError, never another exception, and
parsing time grows linearly with the input."""

from __future__ import annotations

import contextlib
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeai.dsl import DSLError, check, parse
from codeai.dsl.lexer import Source
from codeai.dsl.parser import _parse_statements

SAMPLE = """config { database_type: "postgres" }
var items = [1, 2, "three"]
function show(x) { print(x + 1) }
for i in items { if i == 2 && !false { show(i) } else { exec { echo $i } } }
database postgres { model M { id: uuid, primary  index: [id] } }
middleware auth { type authentication config { provider: p } }
event user.created { schema { status string } }
@auth("admin") endpoint GET "/x/:id" { response X status 200 do { r = find(X, id) } }
workflow w { trigger manual steps { s { activity "a" } } }
job j { schedule "* * * * *" task "t" }
"""
FRAGMENTS = st.sampled_from(
    [
        *SAMPLE.split(),
        *["{", "}", "(", ")", "[", "]", '"', "=", "-", "!", "exec {", "/*", "//", "\n", "@"],
    ]
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_dsl_errors(source: str) -> None:
    """parse raises nothing but DSLError; check (parse + validate) raises nothing at all."""
    with contextlib.suppress(DSLError):
        parse(source)
    result = check(source)
    assert all(d.line >= 1 and d.column >= 1 for d in result.diagnostics)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_raises_only_dsl_errors(source):
    only_dsl_errors(source)


@FUZZ
@given(st.lists(FRAGMENTS, max_size=80))
def test_random_token_soup_raises_only_dsl_errors(fragments):
    only_dsl_errors(" ".join(fragments))


@FUZZ
@given(st.data())
def test_mutated_valid_program_raises_only_dsl_errors(data):
    position = data.draw(st.integers(0, len(SAMPLE)))
    cut = data.draw(st.integers(0, 20))
    insert = data.draw(st.text(max_size=10) | FRAGMENTS)
    only_dsl_errors(SAMPLE[:position] + insert + SAMPLE[position + cut :])


def _parse_seconds(source: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with contextlib.suppress(DSLError):
            parse(source)
        best = min(best, time.perf_counter() - start)
    return best


def test_parse_time_is_linear_in_input_size():
    units = (SAMPLE, "var x = " + "1 + " * 20 + "1\n", "(" * 10 + "\n", '"\\', "/* exec {")
    for unit in units:
        small, large = unit * 50, unit * 200
        ratio = _parse_seconds(large) / max(_parse_seconds(small), 1e-4)
        assert ratio < 4 * 2.5, (unit[:20], ratio)  # 4x the input, generous noise margin


def _go_reading(source: str):
    """The statements under Go's exec rule (every block ends at its first "}"), or None."""
    try:
        return _parse_statements(Source(source, go_reading=True))
    except DSLError:
        return None


# Exec text as Go reads it (no "}") with braces, quotes and escapes the shell reading sees
# differently, between statements that may open or close blocks.
GO_EXEC_TEXT = st.lists(st.sampled_from(["{", "'", '"', "\\", " ", "echo", ";", "$x"]), max_size=6)
BETWEEN = st.sampled_from(["\n", "\n// it's\n", "\nif a {\n", "\nif a {\n", "\n}\n", "\n}\n"])


@FUZZ
@given(st.lists(st.tuples(GO_EXEC_TEXT, BETWEEN), min_size=1, max_size=5))
def test_every_program_go_accepts_keeps_its_tree(blocks):  # dsl.md change 8
    source = "".join("exec { " + "".join(text) + " }" + after for text, after in blocks)
    go_tree = _go_reading(source)
    if go_tree is not None:
        assert parse(source).statements == go_tree
