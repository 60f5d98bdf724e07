"""configs.services: every save parses and validates; deleting a config in use conflicts."""

from __future__ import annotations

import pytest

from codeai.kernel.exceptions import Conflict
from configs.models import Config
from configs.services import config_check, config_create, config_delete, config_update
from deployments.services import deployment_create

VALID = 'var name = "world"\nexec { echo hello }\n'
INVALID = "print(nobody)\n"


def test_check_returns_the_tree_and_no_errors_for_valid_text():
    tree, errors = config_check(content=VALID)

    assert tree["Type"] == "Program"
    assert errors == []


def test_check_of_a_syntax_error_has_no_tree():
    tree, errors = config_check(content="var = \n")

    assert tree is None
    assert errors[0]["kind"] == "SyntaxError"
    assert set(errors[0]) == {"line", "column", "message", "kind"}


@pytest.mark.django_db
def test_create_stores_the_verdict():
    config = config_create(name="draft", content=INVALID)

    config.refresh_from_db()
    assert config.is_valid is False
    assert config.validation_errors[0]["message"] == "undefined variable 'nobody'"
    assert config.ast is not None


@pytest.mark.django_db
def test_update_rechecks_the_content():
    config = config_create(name="draft", content=INVALID)

    config_update(config=config, content=VALID)

    config.refresh_from_db()
    assert config.is_valid is True
    assert config.validation_errors == []


@pytest.mark.django_db
def test_update_refuses_unknown_fields():
    config = config_create(name="draft", content=VALID)

    with pytest.raises(TypeError, match="ast"):
        config_update(config=config, ast={})


@pytest.mark.django_db
def test_delete_of_a_config_in_use_is_a_conflict():
    config = config_create(name="used", content=VALID)
    deployment_create(name="d1", config=config)

    with pytest.raises(Conflict, match="d1"):
        config_delete(config=config)
    assert Config.objects.filter(pk=config.pk).exists()


@pytest.mark.django_db
def test_delete_of_an_unused_config():
    config = config_create(name="unused", content=VALID)

    config_delete(config=config)

    assert not Config.objects.exists()
