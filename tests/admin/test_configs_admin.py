"""Configs in the admin: the editor, problems by line and column with the offending line,
validity badges and filter, the syntax tree, the validate action and the check button."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from configs.models import Config
from configs.services import config_create
from tests.admin.conftest import INVALID_CONFIG, VALID_CONFIG, messages_of

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:configs_config_add")
LIST_URL = reverse("admin:configs_config_changelist")


def test_add_page_shows_the_monospace_editor_with_line_numbers(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    assert 'class="codeai-editor"' in page
    assert "codeai-editor-gutter" in page
    assert "codeai/admin/editor." in page  # hashed once collectstatic ran
    assert 'spellcheck="false"' in page


def test_saving_an_invalid_config_stays_in_the_editor_and_points_at_line_and_column(
    admin_client,
):
    response = admin_client.post(
        ADD_URL, {"name": "draft", "content": INVALID_CONFIG, "_save": "Save"}, follow=True
    )
    config = Config.objects.get(name="draft")
    assert response.redirect_chain[-1][0] == reverse(
        "admin:configs_config_change", args=[config.pk]
    )
    assert any(
        "1 problem(s): line 2, column 7: undefined variable 'missing'" in message
        for message in messages_of(response)
    )
    page = response.content.decode()
    assert 'data-line="2"' in page
    assert "line 2, column 7" in page
    # The offending line, with a caret under column 7.
    assert "2 | print(missing)\n          ^" in page


def test_fixing_the_config_makes_it_valid_and_returns_to_the_list(admin_client):
    config = config_create(name="draft", content=INVALID_CONFIG)
    response = admin_client.post(
        reverse("admin:configs_config_change", args=[config.pk]),
        {"name": "draft", "content": VALID_CONFIG, "_save": "Save"},
    )
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    config.refresh_from_db()
    assert config.is_valid
    assert config.ast is not None


def test_list_shows_validity_badges_and_filters_by_validity(admin_client):
    config_create(name="good", content=VALID_CONFIG)
    config_create(name="bad", content=INVALID_CONFIG)
    page = admin_client.get(LIST_URL).content.decode()
    assert 'codeai-status-valid">valid<' in page
    assert 'codeai-status-invalid">1 problem<' in page
    valid_only = admin_client.get(LIST_URL, {"valid": "yes"})
    assert [c.name for c in valid_only.context["cl"].result_list] == ["good"]
    invalid_only = admin_client.get(LIST_URL, {"valid": "no"})
    assert [c.name for c in invalid_only.context["cl"].result_list] == ["bad"]


def test_search_finds_configs_by_content(admin_client):
    config_create(name="one", content='var needle = "x"\n')
    config_create(name="two", content=VALID_CONFIG)
    found = admin_client.get(LIST_URL, {"q": "needle"})
    assert [c.name for c in found.context["cl"].result_list] == ["one"]


def test_syntax_tree_is_shown_read_only_and_collapsed(admin_client, config):
    page = admin_client.get(reverse("admin:configs_config_change", args=[config.pk]))
    html = page.content.decode()
    assert '<details class="codeai-ast">' in html
    assert "&quot;Statements&quot;" in html
    assert 'name="ast"' not in html


def test_validate_action_reports_each_config(admin_client):
    good = config_create(name="good", content=VALID_CONFIG)
    bad = config_create(name="bad", content=INVALID_CONFIG)
    response = admin_client.post(
        LIST_URL,
        {"action": "validate", "_selected_action": [good.pk, bad.pk], "index": 0},
        follow=True,
    )
    messages = messages_of(response)
    assert "good: valid" in messages
    assert any(m.startswith("bad: 1 problem(s): line 2, column 7") for m in messages)


def test_check_button_reports_problems_of_unsaved_text(admin_client):
    response = admin_client.post(reverse("admin:configs_config_check"), {"content": "var x = \n"})
    body = response.json()
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 1
    assert body["errors"][0]["column"] == 8
    assert "1 | var x = " in body["html"]
    assert Config.objects.count() == 0


def test_deleting_a_config_in_use_is_refused(admin_client, deployment):
    response = admin_client.post(
        reverse("admin:configs_config_delete", args=[deployment.config_id]), {"post": "yes"}
    )
    # Django's admin lists the deployments that protect it instead of deleting.
    assert response.status_code == 200
    assert Config.objects.filter(pk=deployment.config_id).exists()


def test_the_editor_refuses_a_config_over_the_size_limit_and_stores_nothing(admin_client):
    limit = settings.MAX_CONFIG_BYTES
    response = admin_client.post(
        ADD_URL, {"name": "big", "content": "x" * (limit + 1), "_save": "Save"}
    )
    assert response.status_code == 200  # the form again, with the error
    message = f"config content is too large ({limit + 1} bytes; the limit is {limit} bytes)"
    assert message in response.content.decode()
    assert not Config.objects.exists()


def test_check_button_refuses_text_over_the_size_limit(admin_client):
    limit = settings.MAX_CONFIG_BYTES
    response = admin_client.post(
        reverse("admin:configs_config_check"), {"content": "x" * (limit + 1)}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": f"config content is too large ({limit + 1} bytes; the limit is {limit} bytes)"
    }
