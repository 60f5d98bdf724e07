"""The interpreter of dsl.md, driven through a recording runner (no processes)."""

from __future__ import annotations

import pytest

from codeai.dsl import DSLRuntimeError, RunResult, parse, run


class Recorder:
    """A runner that records every exec call and answers with scripted exit codes."""

    def __init__(self, exit_codes: dict[int, int] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.exit_codes = exit_codes or {}

    def __call__(self, command: str, env: dict[str, str]) -> int:
        self.calls.append((command, env))
        return self.exit_codes.get(len(self.calls), 0)


def execute(source: str, **kwargs) -> tuple[RunResult, Recorder, list[str]]:
    runner = kwargs.pop("runner", None) or Recorder()
    lines: list[str] = []
    result = run(parse(source), runner=runner, output=lines.append, **kwargs)
    return result, runner, lines


def test_print_writes_one_output_line_per_call():
    result, _, lines = execute('var who = "world"\nprint("hello " + who)\nprint(3)')
    assert lines == ["hello world", "3"]
    assert result == RunResult(exit_code=0, steps_run=0, failed_step=None)


def test_if_else_if_else_takes_the_first_true_branch():
    source = """
    var n = 5
    if n > 10 { print("big") } else if n > 3 { print("medium") } else { print("small") }
    """
    assert execute(source)[2] == ["medium"]


@pytest.mark.parametrize("falsy", ["false", "0", '""', "[]"])
def test_falsy_values(falsy):
    assert execute(f'if {falsy} {{ print("yes") }} else {{ print("no") }}')[2] == ["no"]


def test_operator_precedence_and_arithmetic():
    _, _, lines = execute("print(1 + 2 * 3)\nprint((1 + 2) * 3)\nprint(-2 + 7 % 4)\nprint(7 / 2)")
    assert lines == ["7", "9", "1", "3.5"]


def test_comparison_and_logic():
    source = 'print(1 < 2 && "a" == "a")\nprint(!true || 2 >= 3)\nprint(1 == true)'
    assert execute(source)[2] == ["true", "false", "false"]


def test_for_loop_and_block_scoping():
    source = """
    var total = 0
    for x in [1, 2, 3] {
        var doubled = x * 2
        total = total + doubled
    }
    print(total)
    """
    assert execute(source)[2] == ["12"]


def test_inner_var_shadows_without_touching_the_outer_one():
    source = 'var x = "outer"\nif true { var x = "inner"\nprint(x) }\nprint(x)'
    assert execute(source)[2] == ["inner", "outer"]


def test_functions_take_parameters_and_see_their_defining_scope():
    source = """
    var greeting = "hi"
    function greet(name, punctuation) {
        print(greeting + " " + name + punctuation)
    }
    greet("ann", "!")
    var ignored = greet("bob", ".")
    """
    assert execute(source)[2] == ["hi ann!", "hi bob."]


def test_recursion_is_bounded_by_the_call_depth():
    source = "function f(n) {\n  f(n + 1)\n}\nf(0)"
    with pytest.raises(DSLRuntimeError) as raised:
        execute(source)
    assert "calls nested more than 100 deep" in raised.value.message
    assert (raised.value.line, raised.value.column) == (2, 3)


def test_execute_time_variables_override_top_level_defaults():
    source = 'var env = "dev"\nvar region = "eu"\nexec { deploy }'
    _, runner, _ = execute(source, variables={"env": "prod"})
    assert runner.calls[0][1]["env"] == "prod"
    assert runner.calls[0][1]["region"] == "eu"


def test_nested_var_of_an_execute_time_name_shadows_it():
    source = 'if true { var env = "inner"\nprint(env) }\nprint(env)'
    assert execute(source, variables={"env": "given"})[2] == ["inner", "given"]


def test_env_maps_every_value_type_to_text():
    source = """
    var text = "a b"
    var whole = 42
    var fraction = 2.5
    var yes = true
    var no = false
    var list = ["x", 1, true]
    function helper() { var unused = 1 }
    exec { run }
    """
    _, runner, _ = execute(source)
    command, env = runner.calls[0]
    assert command == "run"
    assert env == {
        "text": "a b",
        "whole": "42",
        "fraction": "2.5",
        "yes": "true",
        "no": "false",
        "list": "x 1 true",
    }


def test_values_are_never_pasted_into_the_command_text():
    _, runner, _ = execute('var name = "x; rm -rf /"\nexec { echo $name }')
    assert runner.calls[0] == ("echo $name", {"name": "x; rm -rf /"})


def test_config_properties_reach_exec_as_codeai_config_variables():
    source = 'config {\n  database_type: "postgres"\n  replicas: 3\n  mode: fast\n}\nexec { go }'
    env = execute(source)[1].calls[0][1]
    assert env["CODEAI_CONFIG_DATABASE_TYPE"] == "postgres"
    assert env["CODEAI_CONFIG_REPLICAS"] == "3"
    assert env["CODEAI_CONFIG_MODE"] == "fast"


def test_env_holds_only_the_variables_visible_at_that_point():
    source = "var top = 1\nfunction f(arg) {\n  exec { inner }\n}\nf(2)\nexec { outer }"
    _, runner, _ = execute(source)
    assert runner.calls[0][1] == {"top": "1", "arg": "2"}
    assert runner.calls[1][1] == {"top": "1"}


def test_first_failing_step_stops_the_run():
    source = "exec { one }\nexec { two }\nexec { three }"
    result, runner, _ = execute(source, runner=Recorder({2: 7}))
    assert result == RunResult(exit_code=7, steps_run=2, failed_step=2)
    assert [command for command, _ in runner.calls] == ["one", "two"]


def test_steps_inside_loops_count_once_per_run():
    result, runner, _ = execute("for i in [1, 2, 3] { exec { step $i } }")
    assert result.steps_run == 3
    assert [env["i"] for _, env in runner.calls] == ["1", "2", "3"]


def test_runner_exceptions_propagate_unchanged():
    class Cancelled(Exception):
        pass

    def cancelling_runner(command, env):
        raise Cancelled(command)

    with pytest.raises(Cancelled, match="work"):
        run(parse("exec { work }"), runner=cancelling_runner)


def test_statement_budget_stops_endless_work():
    source = (
        "var xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
        "for a in xs {\n  for b in xs {\n    var c = 1\n  }\n}"
    )
    with pytest.raises(DSLRuntimeError) as raised:
        execute(source, max_statements=50)
    assert "statement budget" in raised.value.message
    assert raised.value.line == 4


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("var n = 3\nvar size = len(n)", "len() needs a string or an array, got number", (2, 12)),
        ("var x = 1\nx()", "'x' is not a function", (2, 1)),
        ("for i in 5 { }", "cannot iterate over non-array type 'number'", (1, 10)),
        ('var a = "x" - 1', "operator '-' needs numbers, got string", (1, 9)),
        ("var a = 1 / 0", "division by zero", (1, 9)),
        ("y = 2", "undefined variable 'y'", (1, 1)),
        ("missing(1)", "undefined function 'missing'", (1, 1)),
    ],
)
def test_runtime_errors_carry_positions(source, message, position):
    with pytest.raises(DSLRuntimeError) as raised:
        execute(source)
    assert raised.value.message == message
    assert (raised.value.line, raised.value.column) == position
    assert str(raised.value) == f"{position[0]}:{position[1]}: {message}"


def test_declarative_blocks_do_nothing_at_run_time():
    source = 'role admin {\n  permissions ["a:b"]\n}\nendpoint GET "/x" { response X status 200 }'
    assert execute(source)[0] == RunResult(0, 0, None)
