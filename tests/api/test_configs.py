"""Config endpoints: saving parses and validates, validate actions save nothing, strict types."""

from __future__ import annotations

import pytest

from configs.models import Config
from tests.api.conftest import SCOPE_ERROR_CONTENT, SYNTAX_ERROR_CONTENT, VALID_CONTENT

CONFIG_KEYS = {
    "id",
    "name",
    "content",
    "ast",
    "validation_errors",
    "is_valid",
    "created_at",
    "updated_at",
}


@pytest.fixture
def editor(client_for):
    return client_for("editor")


def test_create_stores_the_syntax_tree_of_a_valid_config(editor):
    response = editor.post("/api/v1/configs/", {"name": "ok", "content": VALID_CONTENT})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == CONFIG_KEYS
    assert body["is_valid"] is True
    assert body["validation_errors"] == []
    assert body["ast"]["Type"] == "Program"
    assert Config.objects.get(pk=body["id"]).ast == body["ast"]


def test_create_stores_an_invalid_config_with_its_errors(editor):
    response = editor.post("/api/v1/configs/", {"name": "draft", "content": SCOPE_ERROR_CONTENT})

    assert response.status_code == 201
    body = response.json()
    assert body["is_valid"] is False
    assert body["validation_errors"] == [
        {"line": 1, "column": 7, "message": "undefined variable 'missing'", "kind": "ScopeError"}
    ]
    assert body["ast"] is not None


def test_a_syntax_error_leaves_no_syntax_tree(editor):
    body = editor.post("/api/v1/configs/", {"name": "x", "content": SYNTAX_ERROR_CONTENT}).json()

    assert body["ast"] is None
    assert [error["kind"] for error in body["validation_errors"]] == ["SyntaxError"]


def test_update_validates_the_new_content(editor, config):
    response = editor.patch(f"/api/v1/configs/{config.pk}/", {"content": SCOPE_ERROR_CONTENT})

    assert response.status_code == 200
    assert response.json()["is_valid"] is False
    config.refresh_from_db()
    assert config.content == SCOPE_ERROR_CONTENT
    assert config.validation_errors[0]["kind"] == "ScopeError"


def test_put_needs_every_writable_field(editor, config):
    response = editor.put(f"/api/v1/configs/{config.pk}/", {"name": "only-name"})

    assert response.status_code == 400
    assert response.json()["details"] == {"content": ["This field is required."]}


def test_writing_a_computed_field_is_400_saying_why(editor, config):
    response = editor.patch(
        f"/api/v1/configs/{config.pk}/", {"is_valid": False, "ast": None}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["details"] == {
        name: ["read-only: computed from content on every save"] for name in ("ast", "is_valid")
    }


def test_validate_a_stored_config_saves_nothing(client_for, config):
    before = Config.objects.values().get(pk=config.pk)

    response = client_for("viewer").post(
        f"/api/v1/configs/{config.pk}/validate/", {"content": SCOPE_ERROR_CONTENT}
    )

    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["errors"][0]["kind"] == "ScopeError"
    assert Config.objects.values().get(pk=config.pk) == before


def test_validate_a_stored_config_without_body_checks_the_stored_text(client_for, config):
    response = client_for("viewer").post(f"/api/v1/configs/{config.pk}/validate/")

    assert response.status_code == 200
    assert response.json() == {"valid": True, "errors": []}


@pytest.mark.parametrize("stored", [True, False], ids=["stored config", "text"])
def test_validate_with_a_misspelt_key_is_400_naming_it(client_for, config, stored):
    url = f"/api/v1/configs/{config.pk}/validate/" if stored else "/api/v1/configs/validate/"

    response = client_for("viewer").post(url, {"contnet": SCOPE_ERROR_CONTENT}, format="json")

    # Not the stored text's verdict (valid) for a text that was never looked at.
    assert response.status_code == 400
    assert response.json() == {
        "error": "validation failed",
        "details": {"contnet": ["unknown field"]},
    }


def test_validate_text_saves_nothing(client_for, db):
    response = client_for("viewer").post(
        "/api/v1/configs/validate/", {"content": SYNTAX_ERROR_CONTENT}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert set(body["errors"][0]) == {"line", "column", "message", "kind"}
    assert not Config.objects.exists()


def test_validate_text_needs_content(client_for, db):
    response = client_for("viewer").post("/api/v1/configs/validate/", {})

    assert response.status_code == 400
    assert response.json() == {
        "error": "validation failed",
        "details": {"content": ["This field is required."]},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 123, "content": VALID_CONTENT}, "name"),
        ({"name": ["a"], "content": VALID_CONTENT}, "name"),
        ({"name": "ok", "content": 1.5}, "content"),
        ({"name": "ok", "content": None}, "content"),
        ({"name": "", "content": VALID_CONTENT}, "name"),
        ({"name": "n" * 256, "content": VALID_CONTENT}, "name"),
        ({"name": "nul\x00", "content": VALID_CONTENT}, "name"),
        ({"content": VALID_CONTENT}, "name"),
        ({"name": "ok"}, "content"),
    ],
)
def test_wrong_json_types_and_values_are_400_not_coerced(editor, body, field):
    response = editor.post("/api/v1/configs/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation failed"
    assert list(response.json()["details"]) == [field]
    assert not Config.objects.exists()


def test_deleting_a_config_deployments_use_is_409(editor, deployment):
    response = editor.delete(f"/api/v1/configs/{deployment.config_id}/")

    assert response.status_code == 409
    assert response.json() == {"error": "config is used by deployments: web-prod"}
    assert Config.objects.filter(pk=deployment.config_id).exists()
