"""Revisions, pinning and relaunch in the admin: the config's history with author, time and
validity, a highlighted diff between any two revisions, "Restore this revision"; the
deployment's pinned revision with "Promote latest" and "Roll back to…" and its concurrency;
the execution's revision link and "Relaunch" with the variables prefilled, run on a real
worker."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from configs.services import config_create, config_update
from deployments.models import Concurrency, Deployment
from deployments.services import deployment_create
from executions.models import Execution, ExecutionStatus
from executions.services import deployment_execute
from tests.admin.conftest import messages_of
from tests.executions.conftest import celery_worker, wait_finished  # noqa: F401

pytestmark = pytest.mark.django_db

ONE = 'var who = "nobody"\nexec { echo "one $who" }\n'
TWO = 'var who = "nobody"\nexec { echo "two <b>$who</b>" }\n'


@pytest.fixture
def history(make_user):
    alice = make_user("editor", username="alice")
    config = config_create(name="web", content=ONE, user=alice)
    config_update(config=config, content=TWO, user=User.objects.create_user("bob"))
    config_update(config=config, content="print(nobody)\n")
    return config


@pytest.fixture
def pinned(history) -> Deployment:
    return deployment_create(name="web-prod", config=history, config_revision=1)


def test_the_config_page_lists_revisions_with_author_time_and_validity(client_for, history):
    page = client_for("viewer").get(reverse("admin:configs_config_change", args=[history.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("revision 3") < html.index("revision 2") < html.index("revision 1")
    assert "alice" in html
    assert "bob" in html
    assert "1 problem" in html  # revision 3's validity
    assert f"{reverse('admin:configs_config_diff', args=[history.pk])}?a=1&amp;b=2" in html


def test_the_diff_highlights_what_changed_between_any_two_revisions(client_for, history):
    url = reverse("admin:configs_config_diff", args=[history.pk])
    client = client_for("viewer")

    side = client.get(url, {"a": 1, "b": 2}).content.decode()
    unified = client.get(url, {"a": 3, "b": 1, "view": "unified"}).content.decode()
    unknown = client.get(url, {"a": 1, "b": 9})

    assert 'class="diff"' in side
    assert 'class="diff_chg"' in side or 'class="diff_add"' in side
    assert "&lt;b&gt;" in side
    assert "<b>$who</b>" not in side
    assert '<span class="diff_sub">-print(nobody)</span>' in unified
    assert '<span class="diff_add">+exec { echo &quot;one $who&quot; }</span>' in unified
    assert unknown.status_code == 404


def test_restore_makes_the_old_text_a_new_revision(client_for, history):
    url = reverse("admin:configs_config_restore", args=[history.pk, 1])

    response = client_for("editor").post(url, follow=True)

    history.refresh_from_db()
    assert history.content == ONE
    assert list(history.revisions.values_list("number", flat=True)) == [4, 3, 2, 1]
    assert history.revisions.get(number=4).created_by == "editor-user"
    assert "Restored revision 1: its text is now revision 4." in messages_of(response)


def test_viewers_see_a_revision_but_cannot_restore_it(client_for, history):
    viewer = client_for("viewer")
    page = viewer.get(reverse("admin:configs_config_revision", args=[history.pk, 1]))

    refused = viewer.post(reverse("admin:configs_config_restore", args=[history.pk, 1]))

    assert page.status_code == 200
    assert "Restore this revision" not in page.content.decode()
    assert "one $who" in page.content.decode()
    assert refused.status_code == 403
    assert history.revisions.count() == 3


def test_the_deployment_page_shows_the_pin_and_offers_promote_and_roll_back(client_for, pinned):
    page = client_for("admin").get(reverse("admin:deployments_deployment_change", args=[pinned.pk]))

    html = page.content.decode()
    assert "pinned to" in html
    assert "revision 1" in html
    assert "the latest is" in html
    assert "Promote latest" in html
    assert "Roll back to…" in html
    assert 'name="concurrency"' in html


def test_promote_pins_the_latest_and_roll_back_pins_the_chosen_one(client_for, pinned):
    admin = client_for("admin")

    admin.post(reverse("admin:deployments_deployment_promote", args=[pinned.pk]))
    pinned.refresh_from_db()
    assert pinned.config_revision == 3
    choices = admin.get(reverse("admin:deployments_deployment_rollback", args=[pinned.pk]))
    assert 'value="2"' in choices.content.decode()
    admin.post(reverse("admin:deployments_deployment_rollback", args=[pinned.pk]), {"number": 2})
    pinned.refresh_from_db()
    assert pinned.config_revision == 2


def test_editors_and_viewers_cannot_pin(client_for, pinned):
    for role in ("editor", "viewer"):
        client = client_for(role)
        promote = client.post(reverse("admin:deployments_deployment_promote", args=[pinned.pk]))
        rollback = client.post(
            reverse("admin:deployments_deployment_rollback", args=[pinned.pk]), {"number": 3}
        )
        assert (promote.status_code, rollback.status_code) == (403, 403)
        pinned.refresh_from_db()
        assert pinned.config_revision == 1
        page = client.get(reverse("admin:deployments_deployment_change", args=[pinned.pk]))
        assert "Promote latest" not in page.content.decode()


def test_the_change_form_refuses_an_unknown_revision_and_sets_concurrency(client_for, pinned):
    url = reverse("admin:deployments_deployment_change", args=[pinned.pk])
    form = {
        "name": pinned.name,
        "config": str(pinned.config_id),
        "timeout_seconds": "",
        # The management forms of the recent-executions and schedules inlines.
        "executions-TOTAL_FORMS": "0",
        "executions-INITIAL_FORMS": "0",
        "schedules-TOTAL_FORMS": "0",
        "schedules-INITIAL_FORMS": "0",
    }
    admin = client_for("admin")

    refused = admin.post(url, {**form, "config_revision": "9", "concurrency": "queue"})
    saved = admin.post(url, {**form, "config_revision": "", "concurrency": "queue"})

    assert refused.status_code == 200
    assert "config &#x27;web&#x27; has no revision 9" in refused.content.decode()
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    pinned.refresh_from_db()
    assert (pinned.config_revision, pinned.concurrency) == (None, Concurrency.QUEUE)


def test_the_execution_page_links_its_revision_and_relaunch_prefills_variables(
    client_for, pinned, make_user
):
    execution = deployment_execute(
        deployment=pinned, user=make_user("editor", username="e"), variables={"who": "ann"}
    )
    editor = client_for("editor")

    page = editor.get(reverse("admin:executions_execution_change", args=[execution.pk]))
    form = editor.get(reverse("admin:executions_execution_relaunch", args=[execution.pk]))
    viewer_form = client_for("viewer").get(
        reverse("admin:executions_execution_relaunch", args=[execution.pk])
    )

    html = page.content.decode()
    assert reverse("admin:configs_config_revision", args=[pinned.config_id, 1]) in html
    assert "Relaunch…" in html
    prefilled = form.context["form"]["variables"].value()
    assert json.loads(prefilled) == {"who": "ann"}
    assert viewer_form.status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker", "role_groups")
def test_relaunch_from_the_admin_runs_the_same_revision_with_edited_variables(
    client_for, pinned, make_user
):
    first = deployment_execute(
        deployment=pinned, user=make_user("editor", username="e"), variables={"who": "ann"}
    )
    wait_finished(first, 30)

    response = client_for("editor").post(
        reverse("admin:executions_execution_relaunch", args=[first.pk]),
        {"variables": '{"who": "zoe"}'},
    )

    again = Execution.objects.get(relaunch_of=first)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:executions_execution_change", args=[again.pk])
    wait_finished(again, 30)
    assert (first.output, again.output) == ("one ann\n", "one zoe\n")
    assert again.status == ExecutionStatus.SUCCEEDED
    assert again.config_revision == 1
