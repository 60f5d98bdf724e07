"""The deployment's row lock on PostgreSQL: moves of its executions take turns, and so do a
queue or refuse deployment's admissions, but a parallel deployment's execute and the moves
never wait for each other. Another session stands for the other process (a worker's move,
or an execute still in its transaction)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from deployments.models import Concurrency, Deployment
from executions import services, statements
from executions.models import Execution
from tests.conftest import uses_postgres

pytestmark = pytest.mark.django_db(transaction=True)

# What a move takes first (executions/statements.py, services._move); FOR UPDATE conflicts
# with every row lock, so getting it at once shows that none is held.
MOVE_LOCK = f"SELECT 1 FROM {Deployment._meta.db_table} WHERE id = %s FOR NO KEY UPDATE"
WHOLE_ROW_LOCK = MOVE_LOCK.replace("NO KEY UPDATE", "UPDATE")


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if not uses_postgres():
        pytest.skip("the statements' locks are PostgreSQL's")


@pytest.fixture
def other_session() -> Iterator[psycopg.Connection]:
    with psycopg.connect(**connection.get_connection_params()) as session:
        yield session
        session.rollback()


def _unsaved(deployment: Deployment) -> Execution:
    return Execution(deployment=deployment, config_snapshot="exec { true }")


def _no_waiting(seconds: str = "300ms") -> None:
    """A lock this transaction would wait for fails it after ``seconds`` instead."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{seconds}'")


def test_a_parallel_execute_does_not_wait_for_a_move_of_its_deployment(
    make_deployment, other_session
):
    deployment = make_deployment("exec { true }")
    other_session.execute(MOVE_LOCK, [deployment.pk])  # a worker's move, not committed yet

    with transaction.atomic():
        _no_waiting()
        assert statements.create(_unsaved(deployment))
        transaction.set_rollback(True)


def test_a_move_does_not_wait_for_a_parallel_execute_in_flight(make_deployment, other_session):
    deployment = make_deployment("exec { true }")

    with transaction.atomic():
        assert statements.create(_unsaved(deployment))  # the execute's transaction, open
        other_session.execute("SET lock_timeout = '300ms'")
        assert other_session.execute(MOVE_LOCK, [deployment.pk]).fetchone() == (1,)
        transaction.set_rollback(True)


def test_moves_of_one_deployment_take_turns(make_deployment, other_session):
    deployment = make_deployment("exec { true }")
    execution = Execution.objects.create(deployment=deployment, config_snapshot="exec { true }")
    other_session.execute(MOVE_LOCK, [deployment.pk])

    with transaction.atomic():
        _no_waiting()
        with pytest.raises(OperationalError, match="lock timeout"):
            statements.claim(execution_id=execution.pk, worker="test", now=timezone.now())
        transaction.set_rollback(True)

    execution.refresh_from_db()
    assert execution.status == "queued"


@pytest.mark.parametrize("concurrency", [Concurrency.QUEUE, Concurrency.REFUSE])
def test_an_execute_of_a_queue_or_refuse_deployment_locks_nothing_before_its_admission(
    make_deployment, other_session, concurrency
):
    # A share lock held while _admit asks for its own would deadlock two such executes.
    deployment = make_deployment("exec { true }", concurrency=concurrency)

    with transaction.atomic():
        assert not statements.create(_unsaved(deployment))
        other_session.execute("SET lock_timeout = '300ms'")
        assert other_session.execute(WHOLE_ROW_LOCK, [deployment.pk]).fetchone() == (1,)
        other_session.rollback()
        transaction.set_rollback(True)


@pytest.mark.parametrize("concurrency", [Concurrency.QUEUE, Concurrency.REFUSE])
def test_the_admission_of_a_queue_or_refuse_execute_waits_for_a_move(
    make_deployment, other_session, concurrency
):
    deployment = make_deployment("exec { true }", concurrency=concurrency)
    other_session.execute(MOVE_LOCK, [deployment.pk])

    with transaction.atomic():
        _no_waiting()
        with pytest.raises(OperationalError, match="lock timeout"):
            services._admit(deployment)
        transaction.set_rollback(True)
