"""deployments.services: unique names as conflicts, delete refused while an execution is active."""

from __future__ import annotations

import pytest
from django.db import transaction

from codeai.kernel.exceptions import Conflict
from configs.services import config_create
from deployments.models import Deployment, DeploymentStatus
from deployments.services import deployment_create, deployment_delete, deployment_update
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


def test_create_is_pending():
    deployment = deployment_create(name="web")

    assert deployment.status == DeploymentStatus.PENDING
    assert deployment.config is None


def test_duplicate_name_is_a_conflict_and_leaves_the_transaction_usable():
    deployment_create(name="web")

    with transaction.atomic():
        with pytest.raises(Conflict, match="'web' already exists"):
            deployment_create(name="web")
        assert Deployment.objects.count() == 1


def test_update_changes_config_and_name():
    config = config_create(name="c", content="var x = 1\n")
    deployment = deployment_create(name="web")

    deployment_update(deployment=deployment, name="web-2", config=config)

    deployment.refresh_from_db()
    assert (deployment.name, deployment.config) == ("web-2", config)


def test_rename_onto_an_existing_name_is_a_conflict():
    deployment_create(name="a")
    second = deployment_create(name="b")

    with pytest.raises(Conflict):
        deployment_update(deployment=second, name="a")


def test_update_refuses_status_changes():
    deployment = deployment_create(name="web")

    with pytest.raises(TypeError, match="status"):
        deployment_update(deployment=deployment, status=DeploymentStatus.COMPLETE)


@pytest.mark.parametrize("status", ExecutionStatus.active())
def test_delete_with_an_active_execution_is_a_conflict(status):
    deployment = deployment_create(name="web")
    Execution.objects.create(deployment=deployment, status=status)

    with pytest.raises(Conflict):
        deployment_delete(deployment=deployment)
    assert Deployment.objects.exists()


def test_delete_removes_finished_history():
    deployment = deployment_create(name="web")
    Execution.objects.create(deployment=deployment, status=ExecutionStatus.FAILED)

    deployment_delete(deployment=deployment)

    assert not Deployment.objects.exists()
    assert not Execution.objects.exists()
