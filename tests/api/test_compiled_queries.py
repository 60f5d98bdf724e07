"""Querysets compiled once (codeai.kernel.compiled): the same instances as the queryset's own
evaluation, with the values of each call; the plain lists and the execute read use them and
answer what the ORM's ordinary path answers."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connections
from django.db.models import Count, F, QuerySet
from django.db.models.sql.query import Query
from django.urls import resolve

from codeai.kernel.api import pagination
from codeai.kernel.compiled import CompiledQuery, NotCompilable
from configs.models import Config
from deployments.models import Deployment
from deployments.services import deployment_create
from executions import selectors
from executions.models import ExecutionStatus
from tests.api.conftest import make_execution


def with_config_name(deployment_id: object) -> QuerySet[Deployment]:
    return (
        Deployment.objects.select_related("config")
        .annotate(config_title=F("config__name"))
        .filter(pk=deployment_id)
    )


@pytest.fixture
def three(config):
    return [deployment_create(name=f"d{number}", config=config) for number in range(3)]


def test_rows_are_the_querysets_instances_with_each_calls_value(three):
    compiled = CompiledQuery(with_config_name, Deployment._meta.pk)

    for deployment in three:
        (got,) = compiled.rows(deployment.pk)
        expected = with_config_name(deployment.pk).get()
        assert (got.pk, got.name, got.config_title) == (expected.pk, expected.name, "web")
        assert got.__dict__.keys() == expected.__dict__.keys()
        assert got.config.content == expected.config.content  # select_related: read with it
    assert compiled.rows(uuid.uuid4()) == []


def test_the_sql_is_built_once(three, monkeypatch):
    compiled = CompiledQuery(with_config_name, Deployment._meta.pk)
    compiled.rows(three[0].pk)
    monkeypatch.setattr(
        Query, "get_compiler", lambda *args, **kwargs: pytest.fail("compiled again")
    )

    assert compiled.rows(three[1].pk)[0].pk == three[1].pk


@pytest.mark.django_db(transaction=True)
def test_each_thread_runs_it_on_its_own_connection(config):
    # Compiled in one thread, run in others (gunicorn's threads): a Django connection
    # belongs to the thread that opened it.
    three = [deployment_create(name=f"d{number}", config=config) for number in range(3)]
    compiled = CompiledQuery(with_config_name, Deployment._meta.pk)
    compiled.rows(three[0].pk)
    found, errors = [], []

    def read(deployment: Deployment) -> None:
        try:
            found.append(compiled.rows(deployment.pk)[0].name)
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=read, args=(d,)) for d in three]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (errors, sorted(found)) == ([], ["d0", "d1", "d2"])


def test_a_page_is_the_querysets_slice_of_rows_written_since(three, config):
    newest_first = Deployment.objects.order_by("-created_at", "-pk")
    compiled = CompiledQuery(lambda: newest_first)
    compiled.compile()
    later = deployment_create(name="later", config=config)

    for limit, offset in [(2, 0), (2, 2), (10, 0), (1, 3), (5, 9)]:
        page = compiled.page(limit=limit, offset=offset)
        assert [d.pk for d in page] == [d.pk for d in newest_first[offset : offset + limit]]
    assert compiled.page(limit=1, offset=0)[0].pk == later.pk


def comparable(instance):
    state = instance.__dict__["_state"]
    values = {name: value for name, value in instance.__dict__.items() if name != "_state"}
    return values, state.db, state.adding


def test_lean_rows_are_the_instances_the_queryset_makes(three, config):
    # Every column plus annotations (one through a converter): built by one function.
    annotated = Deployment.objects.annotate(
        config_title=F("config__name"), last=selectors.LastExecutionRow()
    ).order_by("name")
    make_execution(three[0], status=ExecutionStatus.SUCCEEDED)
    compiled = CompiledQuery(lambda: annotated)
    compiled.compile()

    got = compiled.page(limit=10, offset=0)

    assert compiled._statement("default").lean_values is not None
    assert [comparable(d) for d in got] == [comparable(d) for d in annotated]
    assert got[0].last is not None
    assert got[1].last is None
    assert got[0].config.name == "web"  # a relation still loads on access


def test_lean_rows_take_the_general_path_while_something_listens_to_init(three, monkeypatch):
    from django.db.models.signals import post_init

    compiled = CompiledQuery(lambda: Deployment.objects.order_by("name"))
    compiled.compile()
    compiled.page(limit=10, offset=0)
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance.name)

    post_init.connect(listener, sender=Deployment)
    try:
        got = compiled.page(limit=10, offset=0)
    finally:
        post_init.disconnect(listener, sender=Deployment)

    assert seen == [d.name for d in got] == ["d0", "d1", "d2"]


def test_what_cannot_be_compiled_says_so(db):
    with pytest.raises(NotCompilable):
        CompiledQuery(lambda: Deployment.objects.values("name")).compile()
    with pytest.raises(NotCompilable):
        CompiledQuery(lambda: Config.objects.annotate(n=Count("deployments"))[:2]).compile()
    with pytest.raises(TypeError):
        CompiledQuery(
            lambda name: Deployment.objects.filter(name=name), Deployment._meta.get_field("name")
        )


LISTS = ["/api/v1/deployments/", "/api/v1/executions/", "/api/v1/configs/", "/api/v1/webhooks/"]


@pytest.fixture
def lists(three, admin_client):
    for deployment in three:
        make_execution(deployment, status=ExecutionStatus.SUCCEEDED, output="x" * 10)
    for number in range(3):
        admin_client.post(
            "/api/v1/webhooks/",
            {"url": f"https://hooks.example.com/{number}", "events": ["execution.succeeded"]},
            format="json",
        )


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("page", ["", "?limit=2", "?limit=2&offset=2", "?offset=1", "?offset=50"])
def test_a_plain_list_answers_what_the_ordinary_path_answers(
    lists, admin_client, monkeypatch, url, page
):
    compiled = admin_client.get(url + page)
    assert compiled.status_code == 200
    assert pagination._PLAIN_LISTS.get(resolve(url).func.cls) is not None
    monkeypatch.setattr(pagination, "_plain_list_statement", lambda *args: None)

    assert admin_client.get(url + page).content == compiled.content


def test_a_plain_deployment_list_runs_the_compiled_statement(lists, admin_client, monkeypatch):
    admin_client.get("/api/v1/deployments/")  # compiled, and the token's user kept
    monkeypatch.setattr(
        Query, "get_compiler", lambda *args, **kwargs: pytest.fail("compiled again")
    )

    body = admin_client.get("/api/v1/deployments/?limit=2&offset=1").json()

    assert (body["count"], [item["name"] for item in body["data"]]) == (3, ["d1", "d0"])


@pytest.mark.parametrize(
    ("query", "names"),
    [("?name=d1", ["d1"]), ("?ordering=name", ["d0", "d1", "d2"]), ("?search=d2", ["d2"])],
)
def test_a_list_with_other_parameters_takes_the_ordinary_path(lists, admin_client, query, names):
    admin_client.get("/api/v1/deployments/")  # the plain one compiled first

    body = admin_client.get("/api/v1/deployments/" + query).json()

    assert [item["name"] for item in body["data"]] == names


def test_the_execute_read_is_the_deployment_with_its_config_and_revision(config, deployment):
    found = selectors.deployment_to_execute(str(deployment.pk))

    assert (found.pk, found.config.content, found.config_current_revision) == (
        deployment.pk,
        config.content,
        1,
    )
    assert selectors.deployment_to_execute(uuid.uuid4()) is None
    assert selectors.deployment_to_execute("not-a-uuid") is None


def test_execute_of_an_unknown_or_malformed_id_is_404(client_for):
    editor = client_for("editor")
    for id_ in (uuid.uuid4(), "not-a-uuid"):
        response = editor.post(f"/api/v1/deployments/{id_}/execute/", {}, format="json")
        assert (response.status_code, response.json()) == (404, {"error": "deployment not found"})
