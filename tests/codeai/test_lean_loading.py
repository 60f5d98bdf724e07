"""codeai.kernel.loading.LeanLoading: a model loaded from a row is the instance Django's own
``from_db`` makes, and anything listening to the init signals gets them as before."""

from __future__ import annotations

import pytest
from django.db.models import Model
from django.db.models.signals import post_init

from configs.models import Config
from deployments.models import Deployment
from deployments.services import deployment_create

pytestmark = pytest.mark.django_db


def ordinary(instance: Deployment) -> Deployment:
    """The same row through ``Model.from_db``."""
    fields = Deployment._meta.concrete_fields
    values = [getattr(instance, field.attname) for field in fields]
    return Model.from_db.__func__(Deployment, "default", [f.attname for f in fields], values)


def test_a_loaded_deployment_is_the_one_django_makes():
    config = Config.objects.create(name="cfg", content="exec { true }")
    made = deployment_create(name="lean", config=config)

    loaded = Deployment.objects.get(pk=made.pk)
    expected = ordinary(loaded)

    columns = loaded.__dict__.keys() - {"_state"}
    assert columns == expected.__dict__.keys() - {"_state"}
    assert {name: loaded.__dict__[name] for name in columns} == {
        name: expected.__dict__[name] for name in columns
    }
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    assert loaded.config == config  # the relation loads as usual
    loaded.name = "renamed"
    loaded.save(update_fields=["name"])
    assert Deployment.objects.get(pk=made.pk).name == "renamed"


def test_deferred_columns_load_the_ordinary_way():
    made = deployment_create(name="partial", config=None)

    partial = Deployment.objects.only("pk", "name").get(pk=made.pk)

    assert partial.get_deferred_fields() >= {"status", "created_at"}
    assert partial.status == made.status


def test_an_init_signal_listener_still_hears_every_load():
    made = deployment_create(name="heard", config=None)
    heard = []

    def listener(sender, instance, **kwargs):
        heard.append(instance.pk)

    post_init.connect(listener, sender=Deployment)
    try:
        Deployment.objects.get(pk=made.pk)
    finally:
        post_init.disconnect(listener, sender=Deployment)

    assert heard == [made.pk]
