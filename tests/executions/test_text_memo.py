"""A process remembers the check and the parse of the config texts it ran lately
(``services._TextMemo``): the same verdicts and programs, computed once per text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeai import dsl
from codeai.kernel.exceptions import Conflict
from executions import services
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_memos() -> Iterator[None]:
    services._text_problems.clear()
    services._programs.clear()
    yield
    services._text_problems.clear()
    services._programs.clear()


@pytest.fixture
def counted(monkeypatch) -> dict[str, int]:
    calls = {"check": 0, "parse": 0}
    check, parse = dsl.check, dsl.parse

    def counted_check(*args, **kwargs):
        calls["check"] += 1
        return check(*args, **kwargs)

    def counted_parse(*args, **kwargs):
        calls["parse"] += 1
        return parse(*args, **kwargs)

    monkeypatch.setattr(dsl, "check", counted_check)
    monkeypatch.setattr(dsl, "parse", counted_parse)
    return calls


def test_the_memo_keeps_the_last_texts_by_digest_and_arguments():
    memo = services._TextMemo(2)
    computed = []

    def answer(text: str, *more: str) -> str:
        def compute() -> str:
            computed.append((text, *more))
            return f"{text}{more}"

        return memo.get(text, *more, compute=compute)

    assert answer("a") == answer("a") == "a()"
    assert answer("a", "x") == "a('x',)"  # other arguments: another entry
    assert answer("b") == "b()"  # the oldest ("a" alone) goes
    assert answer("a", "x") == "a('x',)"
    assert answer("a") == "a()"
    assert computed == [("a",), ("a", "x"), ("b",), ("a",)]
    assert answer("\ud800") == "\ud800()"  # a lone surrogate has a digest too


def test_an_exception_is_not_remembered():
    memo = services._TextMemo(4)
    attempts = []

    def fail() -> str:
        attempts.append(1)
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError, match="no"):
            memo.get("text", compute=fail)
    assert len(attempts) == 2
    assert memo.get("text", compute=lambda: "now") == "now"


def test_execute_checks_a_text_once_per_name_and_variables(make_deployment, alice, counted):
    deployment = make_deployment("print(who)")
    for _ in range(2):
        with pytest.raises(Conflict, match=r"config is invalid: .*'who'"):
            services.deployment_execute(deployment=deployment, user=alice)
    assert counted["check"] == 1
    for _ in range(2):
        services.deployment_execute(deployment=deployment, user=alice, variables={"who": "x"})
    assert counted["check"] == 2  # with the variable declared: a verdict of its own
    assert Execution.objects.filter(deployment=deployment).count() == 2


def test_an_invalid_text_gives_the_same_conflict_as_before(make_deployment, alice):
    deployment = make_deployment("exec { true }\nprint(missing)\nprint(gone)")
    expected = dsl.check(deployment.config.content, filename=deployment.config.name)
    first = f"config is invalid: {expected.diagnostics[0]} (and 1 more)"
    for _ in range(2):
        with pytest.raises(Conflict) as raised:
            services.deployment_execute(deployment=deployment, user=alice)
        assert str(raised.value) == first


def test_runs_of_one_text_share_its_program_and_nothing_else(make_deployment, counted):
    text = "var n = 0\nfor w in words {\n  n = n + 1\n  print(w)\n}\nprint(n)\nexec { true }"
    deployment = make_deployment(text)
    outputs = []
    for words in (["a", "b"], ["c"]):
        execution = Execution.objects.create(
            deployment=deployment, config_snapshot=text, variables={"words": words}
        )
        claim = services.execution_claim_and_run(execution_id=execution.pk, worker="test")
        assert claim is services.ClaimResult.CLAIMED
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        outputs.append(execution.output)
    assert outputs == ["a\nb\n2\n", "c\n1\n"]
    assert counted["parse"] == 1


def test_a_snapshot_that_does_not_parse_fails_every_run(make_deployment):
    deployment = make_deployment("exec { true }")
    for _ in range(2):
        execution = Execution.objects.create(deployment=deployment, config_snapshot="exec {")
        services.execution_claim_and_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.FAILED
        assert execution.explanation.startswith("config is invalid: ")
