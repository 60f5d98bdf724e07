"""One execution through RabbitMQ: a real worker on amqp:// and a queue of this test's own
(the broker is shared, so neither the worker nor the task touches the usual queues)."""

from __future__ import annotations

import uuid

import pytest

from codeai.celery import app
from executions.models import Execution, ExecutionStatus
from executions.tasks import run_execution
from tests.conftest import RABBITMQ_URL, require_service
from tests.executions.conftest import start_worker, stop_worker, wait_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def test_an_execution_runs_through_rabbitmq(make_deployment, tmp_path):
    require_service("rabbitmq")
    queue = f"codeai-exec-test-{uuid.uuid4().hex}"
    worker = start_worker(
        tmp_path / "worker.log", {"CODEAI_CELERY_BROKER_URL": RABBITMQ_URL}, queue
    )
    try:
        deployment = make_deployment("exec { echo through rabbitmq }")
        execution = Execution.objects.create(
            deployment=deployment, config_snapshot=deployment.config.content
        )
        with app.connection_for_write(RABBITMQ_URL) as connection:
            run_execution.apply_async(
                args=[str(execution.pk)], queue=queue, routing_key=queue, connection=connection
            )
        wait_finished(execution)
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        assert execution.output == "through rabbitmq\n"
    finally:
        stop_worker(worker)
        with app.connection_for_write(RABBITMQ_URL) as connection:
            connection.default_channel.queue_delete(queue)
            connection.default_channel.exchange_delete(queue)
