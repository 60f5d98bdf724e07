"""Revisions in a real browser (the harness of test_browser.py: Debian's Chromium, a live
server, a real Celery worker): an admin reads the diff between two revisions of a config,
rolls its deployment back to the first one, runs it and sees the first text run, then
relaunches that run with an edited variable. Screenshots under test-artifacts/."""

from __future__ import annotations

import pytest

from configs.services import config_create, config_update
from deployments.models import Deployment
from deployments.services import deployment_create
from executions.models import Execution, ExecutionStatus
from tests.admin import test_browser as harness
from tests.executions.conftest import celery_worker, wait_finished  # noqa: F401

# The harness's fixtures, used here by name.
browser = harness.browser
plain_static_files = harness.plain_static_files
shoot = harness.shoot
log_in, role_user = harness.log_in, harness.role_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # Live server and worker see the same rows: real commits, the role groups made again.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("role_groups", "celery_worker", "plain_static_files"),
]

FIRST = 'var who = "world"\nexec { echo "first text, hello $who" }\n'
SECOND = 'var who = "world"\nvar extra = 1\nexec { echo "second text, hello $who" }\n'


def test_diff_roll_back_and_relaunch(browser, live_server, shoot):
    admin_user = role_user("ada", "admin")
    config = config_create(name="greeter", content=FIRST, user=admin_user)
    config_update(config=config, content=SECOND, user=admin_user)
    deployment = deployment_create(name="greeter-prod", config=config)
    admin = live_server.url + "/admin"
    violations: list[str] = []
    page = log_in(browser, live_server, "ada", violations)

    # The config's history: two revisions; the diff of 1 -> 2 marks the changed lines.
    page.goto(f"{admin}/configs/config/{config.pk}/change/")
    history = page.locator(".codeai-history")
    assert "revision 2" in history.inner_text()
    assert "ada" in history.inner_text()
    page.click("text=diff with 1")
    page.wait_for_selector("#codeai-diff table.diff")
    changed = page.locator("#codeai-diff .diff_add, #codeai-diff .diff_chg")
    assert "var extra = 1" in " ".join(changed.all_inner_texts())
    for marked in (".diff_add", ".diff_chg"):
        colour = page.eval_on_selector(
            f"#codeai-diff {marked}", "(e) => getComputedStyle(e).backgroundColor"
        )
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent")  # highlighted by the CSS
    shoot(page, "revisions-01-diff")
    # Unified, chosen in the form.
    page.select_option("#codeai-diff-view", "unified")
    page.click("#codeai-diff-form input[type=submit]")
    page.wait_for_selector(".codeai-unified-diff")
    assert "+var extra = 1" in page.locator(".codeai-unified-diff .diff_add").first.inner_text()

    # Roll the deployment back to revision 1.
    page.goto(f"{admin}/deployments/deployment/{deployment.pk}/change/")
    assert "the latest revision" in page.locator("#codeai-runs").inner_text()
    page.click("#codeai-rollback")
    page.check("#codeai-revision-1")
    shoot(page, "revisions-02-roll-back")
    page.click("#codeai-rollback-submit")
    page.wait_for_selector("#codeai-runs")
    assert "pinned to revision 1" in page.locator("#codeai-runs").inner_text()
    assert Deployment.objects.get(pk=deployment.pk).config_revision == 1

    # Execute: the first text runs.
    page.click("a.codeai-execute-link")
    page.fill("#id_variables", "who=browser")
    page.click("input[type=submit][value=Execute]")
    page.wait_for_url("**/executions/execution/*/change/")
    page.wait_for_function(
        "() => document.getElementById('codeai-output').dataset.complete === 'true'"
    )
    assert "first text, hello browser" in page.locator("#codeai-output").inner_text()
    assert page.locator("#codeai-revision-link").inner_text() == "revision 1"
    first = Execution.objects.get(deployment=deployment)
    shoot(page, "revisions-03-ran-revision-1")

    # Relaunch it: the variables come prefilled; one is changed.
    page.click("#codeai-relaunch")
    prefilled = page.input_value("#id_variables")
    assert '"who": "browser"' in prefilled
    page.fill("#id_variables", '{"who": "again"}')
    shoot(page, "revisions-04-relaunch")
    page.click("#codeai-relaunch-submit")
    page.wait_for_url("**/executions/execution/*/change/")
    page.wait_for_function(
        "() => document.getElementById('codeai-output').dataset.complete === 'true'"
    )
    assert "first text, hello again" in page.locator("#codeai-output").inner_text()
    again = wait_finished(Execution.objects.get(relaunch_of=first))
    assert (again.status, again.config_revision) == (ExecutionStatus.SUCCEEDED, 1)
    shoot(page, "revisions-05-relaunched")
    assert violations == []
