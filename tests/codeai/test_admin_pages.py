"""Every model's admin list, add/change and search pages render for a superuser."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configs.models import Config
from deployments.models import Deployment
from executions.models import Execution


@pytest.fixture
def objects(db, admin_user):
    config = Config.objects.create(name="hello", content='var x = "hi"\n')
    deployment = Deployment.objects.create(name="hello-prod", config=config)
    execution = Execution.objects.create(deployment=deployment, triggered_by=admin_user)
    return {"config": config, "deployment": deployment, "execution": execution}


@pytest.mark.parametrize("model", ["config", "deployment", "execution"])
def test_changelist_and_detail_render(admin_client, objects, model):
    obj = objects[model]
    app = obj._meta.app_label
    changelist = admin_client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert changelist.status_code == 200
    assert str(obj.pk) in changelist.content.decode() or str(obj) in changelist.content.decode()
    change = admin_client.get(reverse(f"admin:{app}_{model}_change", args=[obj.pk]))
    assert change.status_code == 200
    searched = admin_client.get(reverse(f"admin:{app}_{model}_changelist"), {"q": "hello"})
    assert searched.status_code == 200


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("admin:configs_config_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
