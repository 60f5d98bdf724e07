"""The size limits at their edges (CODEAI_MAX_REQUEST_BYTES, CODEAI_MAX_CONFIG_BYTES), list
pages that stay small whatever the rows hold, and JSON for every error under /api/."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from codeai.kernel import conf
from configs.models import Config
from configs.services import MAX_REPORTED_PROBLEMS, config_check
from executions.models import Execution
from tests.api.conftest import VALID_CONTENT, make_execution, make_user, run_fresh

MIB = 1024 * 1024
PAGE_BOUND = 512 * 1024


def comment_of(size: int, *, filler: str = "x") -> str:
    """A config of exactly ``size`` UTF-8 bytes (a comment: parsed in a moment)."""
    count, rest = divmod(size - 3, len(filler.encode()))
    return "// " + filler * count + "x" * rest


def padded_body(document: dict, size: int) -> bytes:
    """``document`` as JSON, padded with trailing whitespace to exactly ``size`` bytes."""
    body = json.dumps(document).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def post_json(client: APIClient, path: str, body: bytes, method: str = "POST"):
    return client.generic(method, path, body, content_type="application/json")


# --- CODEAI_MAX_REQUEST_BYTES ------------------------------------------------------------


def test_defaults_are_two_and_one_mebibytes():
    loaded = conf.load({}, yaml_files=())

    assert loaded["CODEAI_MAX_REQUEST_BYTES"] == 2 * MIB == settings.MAX_REQUEST_BYTES
    assert loaded["CODEAI_MAX_CONFIG_BYTES"] == MIB == settings.MAX_CONFIG_BYTES
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.MAX_REQUEST_BYTES


@pytest.mark.parametrize(("extra", "status"), [(0, 201), (1, 413)], ids=["at-limit", "one-over"])
def test_a_body_over_the_request_limit_is_413_and_stores_nothing(client_for, extra, status):
    body = padded_body(
        {"name": "padded", "content": VALID_CONTENT}, settings.MAX_REQUEST_BYTES + extra
    )

    response = post_json(client_for("editor"), "/api/v1/configs/", body)

    assert response.status_code == status
    if status == 413:
        assert response.json() == {
            "error": f"request body too large: the limit is {settings.MAX_REQUEST_BYTES} bytes"
        }
        assert not Config.objects.exists()
    else:
        assert Config.objects.get().name == "padded"


def test_the_request_limit_is_checked_before_authentication(db):
    response = APIClient().generic(
        "POST", "/api/v1/configs/", b" " * (settings.MAX_REQUEST_BYTES + 1), "application/json"
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"


def test_the_admin_answers_a_body_over_the_limit_with_a_page(db):
    response = Client().post(
        "/admin/login/",
        b"x" * (settings.MAX_REQUEST_BYTES + 1),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"the limit is 2097152 bytes" in response.content


def test_probes_refuse_a_body_over_the_limit_too(db):
    response = Client().generic("POST", "/live", b"x" * (settings.MAX_REQUEST_BYTES + 1))

    assert response.status_code == 413


# --- CODEAI_MAX_CONFIG_BYTES -------------------------------------------------------------


def too_large_message(size: int) -> dict:
    return {
        "error": f"config content is too large ({size} bytes; the limit is "
        f"{settings.MAX_CONFIG_BYTES} bytes)"
    }


@pytest.mark.parametrize("filler", ["x", "é"], ids=["ascii", "two-byte"])
def test_create_accepts_a_config_at_the_limit_and_refuses_one_byte_more(client_for, filler):
    editor = client_for("editor")
    limit = settings.MAX_CONFIG_BYTES
    at_limit = comment_of(limit, filler=filler)
    assert len(at_limit.encode()) == limit

    accepted = editor.post("/api/v1/configs/", {"name": "big", "content": at_limit})
    refused = editor.post("/api/v1/configs/", {"name": "bigger", "content": at_limit + "x"})

    assert accepted.status_code == 201
    assert refused.status_code == 413
    assert refused.json() == too_large_message(limit + 1)
    assert list(Config.objects.values_list("name", flat=True)) == ["big"]
    assert Config.objects.get().content == at_limit


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_refuses_a_config_one_byte_over_and_keeps_the_stored_one(client_for, config, method):
    editor = client_for("editor")
    limit = settings.MAX_CONFIG_BYTES
    path = f"/api/v1/configs/{config.pk}/"
    body = {"name": "web", "content": comment_of(limit + 1)}

    refused = editor.generic(method, path, json.dumps(body), content_type="application/json")
    body["content"] = comment_of(limit)
    accepted = editor.generic(method, path, json.dumps(body), content_type="application/json")

    assert refused.status_code == 413
    assert refused.json() == too_large_message(limit + 1)
    assert accepted.status_code == 200
    config.refresh_from_db()
    assert config.content == body["content"]


def test_update_refused_as_too_large_changes_nothing(client_for, config):
    response = client_for("editor").patch(
        f"/api/v1/configs/{config.pk}/",
        {"name": "renamed", "content": comment_of(settings.MAX_CONFIG_BYTES + 1)},
    )

    assert response.status_code == 413
    config.refresh_from_db()
    assert (config.name, config.content) == ("web", VALID_CONTENT)


@pytest.mark.parametrize("route", ["/api/v1/configs/validate/", "/api/v1/configs/{id}/validate/"])
def test_both_validate_routes_check_a_viewers_text_up_to_the_limit_only(client_for, config, route):
    viewer = client_for("viewer")
    path = route.format(id=config.pk)
    limit = settings.MAX_CONFIG_BYTES

    accepted = viewer.post(path, {"content": comment_of(limit)})
    refused = viewer.post(path, {"content": comment_of(limit + 1)})

    assert accepted.status_code == 200
    assert accepted.json() == {"valid": True, "errors": []}
    assert refused.status_code == 413
    assert refused.json() == too_large_message(limit + 1)


def test_a_config_lists_its_first_hundred_problems_only(db):
    content = "print(missing)\n" * (MAX_REPORTED_PROBLEMS + 50)

    _tree, problems = config_check(content=content)

    assert len(problems) == MAX_REPORTED_PROBLEMS
    assert problems[0]["line"] == 1


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"CODEAI_MAX_CONFIG_BYTES": "999999"}, "expected a number of bytes, at least 1000000"),
        (
            {"CODEAI_MAX_CONFIG_BYTES": "5000001", "CODEAI_MAX_REQUEST_BYTES": "10485760"},
            "expected at most 5000000 (the DSL parser's bound)",
        ),
        (
            {"CODEAI_MAX_REQUEST_BYTES": "1048575"},
            "expected at least CODEAI_MAX_CONFIG_BYTES (1048576)",
        ),
    ],
    ids=["config-below-a-megabyte", "config-over-the-parser", "request-below-config"],
)
def test_start_up_refuses_limits_that_do_not_fit_together(tmp_path, environ, problem):
    result = run_fresh(["manage.py", "check"], tmp_path, **environ)

    assert result.returncode == 1
    assert result.stderr.startswith("configuration error: ")
    assert problem in result.stderr


def test_the_smallest_allowed_config_limit_starts(tmp_path):
    result = run_fresh(["manage.py", "check"], tmp_path, CODEAI_MAX_CONFIG_BYTES="1000000")

    assert result.returncode == 0, result.stderr


# --- list shapes and sizes ------------------------------------------------------------


def test_config_list_items_leave_out_the_large_fields_and_the_detail_has_them(client_for, config):
    viewer = client_for("viewer")

    item = viewer.get("/api/v1/configs/").json()["data"][0]
    detail = viewer.get(f"/api/v1/configs/{config.pk}/").json()

    assert set(item) == {"id", "name", "is_valid", "created_at", "updated_at"}
    assert item["is_valid"] is True
    assert {"content", "ast", "validation_errors"} <= set(detail)
    assert detail["content"] == VALID_CONTENT


def test_execution_list_items_leave_out_the_large_fields_and_the_detail_has_them(
    client_for, deployment
):
    viewer = client_for("viewer")
    execution = make_execution(deployment, output="hello\n", variables={"x": "1"})

    items = [
        viewer.get("/api/v1/executions/").json()["data"][0],
        viewer.get(f"/api/v1/deployments/{deployment.pk}/executions/").json()["data"][0],
    ]
    detail = viewer.get(f"/api/v1/executions/{execution.pk}/").json()

    for item in items:
        assert not {"output", "steps", "variables"} & set(item)
        assert item["id"] == str(execution.pk)
    assert (detail["output"], detail["variables"]) == ("hello\n", {"x": "1"})


def test_the_browsable_api_says_what_lists_leave_out_and_its_form_has_every_field(db):
    browser = Client()
    browser.force_login(make_user("editor"))

    page = browser.get("/api/v1/configs/", HTTP_ACCEPT="text/html").content.decode()

    assert "List items leave out `content`, `ast` and" in page
    assert "&quot;content&quot;" in page  # the create form keeps the full shape


def test_a_page_of_100_configs_of_a_megabyte_each_is_under_512_kb(client_for):
    content = comment_of(settings.MAX_CONFIG_BYTES)
    tree, problems = config_check(content=content)
    Config.objects.bulk_create(
        Config(name=f"big-{index:03}", content=content, ast=tree, validation_errors=problems)
        for index in range(100)
    )

    response = client_for("viewer").get("/api/v1/configs/?limit=100")

    assert response.status_code == 200
    assert len(response.json()["data"]) == 100
    assert len(response.content) < PAGE_BOUND


def test_a_page_of_100_executions_with_a_mebibyte_of_output_each_is_under_512_kb(
    client_for, deployment
):
    output = "y\n" * (MIB // 2)
    Execution.objects.bulk_create(
        Execution(deployment=deployment, output=output, triggered_by_name="alice")
        for _ in range(100)
    )
    viewer = client_for("viewer")

    for path in ("/api/v1/executions/", f"/api/v1/deployments/{deployment.pk}/executions/"):
        response = viewer.get(f"{path}?limit=100")
        assert response.status_code == 200
        assert len(response.json()["data"]) == 100
        assert len(response.content) < PAGE_BOUND

    one = Execution.objects.first()
    detail = viewer.get(f"/api/v1/executions/{one.pk}/output/").json()
    assert len(detail["output"]) == MIB


# --- every error under /api/ is JSON --------------------------------------------------


def test_a_disallowed_host_under_api_is_a_json_400(db):
    response = APIClient().get("/api/v1/configs/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "host not allowed"}


def test_a_disallowed_host_elsewhere_keeps_djangos_page(db):
    response = Client().get("/admin/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/nothing-here/", "/api/v1/nothing/", "/api/v1/configs/x/y/"])
def test_an_unknown_path_under_api_is_a_json_404(db, path):
    response = APIClient().get(path)

    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_an_unhandled_error_under_api_is_a_json_500(client_for, monkeypatch):
    viewer = client_for("viewer")
    viewer.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("configs.selectors.config_summaries", broken)
    response = viewer.get("/api/v1/configs/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "internal server error"}
