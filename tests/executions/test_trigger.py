"""What started an execution: the execute service records the trigger its caller names
(the API and the admin's Execute name theirs; schedules and relaunches theirs)."""

from __future__ import annotations

import pytest

from configs.services import config_create
from deployments.services import deployment_create
from executions.models import Execution, ExecutionTrigger
from executions.services import deployment_execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment():
    return deployment_create(
        name="triggered", config=config_create(name="t", content="var x = 1\n")
    )


def test_the_trigger_defaults_to_api(deployment):
    execution = deployment_execute(deployment=deployment, user=None)

    assert Execution.objects.get(pk=execution.pk).trigger == ExecutionTrigger.API


@pytest.mark.parametrize("trigger", ExecutionTrigger.values)
def test_the_execute_service_records_the_trigger_it_is_given(deployment, trigger):
    execution = deployment_execute(deployment=deployment, user=None, trigger=trigger)

    assert Execution.objects.get(pk=execution.pk).trigger == trigger


def test_the_four_triggers():
    assert ExecutionTrigger.values == ["api", "admin", "schedule", "relaunch"]
