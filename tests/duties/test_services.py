"""duties: a due duty is claimed by exactly one caller per interval, however many ask."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from duties import runner
from duties.models import PeriodicDuty
from duties.services import duty_claim

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_claim_per_interval():
    assert duty_claim(name="tidy", interval=0.5, worker="a")
    assert not duty_claim(name="tidy", interval=0.5, worker="b")
    time.sleep(0.6)
    assert duty_claim(name="tidy", interval=0.5, worker="b")
    assert PeriodicDuty.objects.get(name="tidy").last_run_by == "b"


def test_many_workers_at_once_make_one_claim():
    start = threading.Barrier(6)
    claims: list[bool] = []

    def worker(number: int) -> None:
        start.wait()
        try:
            claims.append(duty_claim(name="tidy", interval=60, worker=f"w{number}"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claims) == [False] * 5 + [True]


def test_run_due_runs_each_due_duty_once_and_survives_a_failing_one(monkeypatch):
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(
        runner,
        "_duties",
        {
            "broken": runner.Duty("broken", 60, broken),
            "counted": runner.Duty("counted", 60, lambda: ran.append("counted")),
        },
    )

    assert runner.run_due("first") == ["broken", "counted"]
    assert runner.run_due("second") == []
    assert ran == ["counted"]
