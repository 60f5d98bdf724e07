"""The admin in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium)
against a live server, with a real Celery worker process on the same test database.

One operator's session, step by step, a screenshot per step under test-artifacts/: log in,
create a config with an error and see it pointed out, fix it, create a deployment, execute
it with a variable and watch the output arrive while it runs, cancel a long run; then a
viewer finds no way to execute. Chromium missing: skipped locally, a failure in CI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from configs.models import Config
from executions.models import Execution, ExecutionStatus
from tests.conftest import missing

# The executions suite's real worker fixture (``celery -A codeai worker`` on the test
# database and this pass's broker), reused rather than duplicated.
from tests.executions.conftest import celery_worker  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-pw-123456"
BROKEN_CONFIG = 'var who = "world"\nvar pause = "0.5"\nprint(missing)\n'
FIXED_CONFIG = (
    "// greets a few times\n"
    'var who = "world"\n'
    'var pause = "0.5"\n'
    "var rounds = 10\n"
    'print("starting")\n'
    'exec { for i in $(seq 1 "$rounds"); do echo "hello $who $i"; sleep "$pause"; done }\n'
)
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # Live server and worker see the same rows: real commits, and the role groups of the
    # data migration put back afterwards for the tests that follow (and made again before,
    # when a test with real commits ran first and emptied them).
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("role_groups", "celery_worker", "plain_static_files"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop running in this thread for as long as the
    # browser is open; the test's own ORM calls (and the database flush after it) are
    # still plain synchronous calls.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def plain_static_files(settings) -> None:
    """The live server serves static files from the apps' folders by their plain names; a
    checkout where ``make run`` collected them would otherwise link hashed names."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def shoot() -> Iterator:
    ARTIFACTS.mkdir(exist_ok=True)

    def shoot(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return shoot


def role_user(username: str, role: str) -> User:
    """A user with only a role (not staff): the admin admits role members."""
    user = User.objects.create_user(username, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    return user


# What Chromium reports on the console when the Content-Security-Policy blocks something.
CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|load|apply|connect)")


def new_page(browser, violations: list[str]):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)

    def on_console(message) -> None:
        print("console:", message.type, message.text)
        if CSP_VIOLATION.search(message.text):
            violations.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: print("page error:", error))
    return page


def log_in(browser, live_server, username: str, violations: list[str]):
    page = new_page(browser, violations)
    response = page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    return page


def test_operator_session_from_config_to_cancelled_run(browser, live_server, shoot):
    role_user("olivia", "editor")
    role_user("victor", "viewer")
    admin = live_server.url + "/admin"

    # Log in: an editor, without is_staff. Every page under the Content-Security-Policy.
    csp_violations: list[str] = []
    page = log_in(browser, live_server, "olivia", csp_violations)
    assert page.locator("#dash-executions").is_visible()
    shoot(page, "01-logged-in")

    # A config with an error: saved as a draft, the problem pointed out by line and column.
    page.goto(f"{admin}/configs/config/add/")
    page.fill("#id_name", "greeter")
    page.fill("#id_content", BROKEN_CONFIG)
    # "Check" reports what saving stores.
    page.click(".codeai-editor-toolbar button")
    page.wait_for_selector("text=✗ 1 problem(s)")
    checked = page.locator(".codeai-problem").first.inner_text()
    page.click("input[name=_save]")
    problem = page.locator(".field-problems .codeai-problem").first
    problem.wait_for()
    assert problem.inner_text() == checked
    assert "line 3, column 7" in problem.inner_text()
    assert "undefined variable 'missing'" in problem.inner_text()
    assert "3 | print(missing)" in problem.locator("pre").inner_text()
    # The editor's gutter marks line 3.
    assert page.locator(".codeai-editor-gutter .codeai-error-line").inner_text() == "3"
    shoot(page, "02-config-error")

    # The "Check" button says so before saving; then fix and save.
    page.fill("#id_content", FIXED_CONFIG)
    # The DSL is coloured under the (transparent) text, character for character.
    colours = page.locator(".codeai-editor-highlight")
    assert colours.inner_text() == FIXED_CONFIG + "\n"
    assert colours.locator(".codeai-tok-comment").all_inner_texts() == ["// greets a few times"]
    assert colours.locator(".codeai-tok-keyword").all_inner_texts() == ["var"] * 3 + ["exec"]
    assert colours.locator(".codeai-tok-string").all_inner_texts() == [
        '"world"',
        '"0.5"',
        '"starting"',
    ]
    assert colours.locator(".codeai-tok-exec").all_inner_texts() == [
        FIXED_CONFIG.split("{", 1)[1][:-2]
    ]
    offsets = page.evaluate(
        """() => {
        const text = document.querySelector("#id_content");
        const under = document.querySelector(".codeai-editor-highlight");
        const a = text.getBoundingClientRect(), b = under.getBoundingClientRect();
        const s = getComputedStyle(text), t = getComputedStyle(under);
        return [a.x - b.x, a.y - b.y, a.width - b.width, a.height - b.height,
                ...["fontFamily", "fontSize", "lineHeight", "paddingLeft", "paddingTop",
                    "tabSize"].filter((key) => s[key] !== t[key])];
        }"""
    )
    assert offsets == [0, 0, 0, 0]
    shoot(page, "03a-config-colours")
    page.click(".codeai-editor-toolbar button")
    page.wait_for_selector("text=✓ no problems")
    # ... and its verdict replaces the stored one's panel, which no longer applies.
    assert page.locator(".field-problems .readonly").inner_text() == "no problems"
    assert page.locator(".codeai-problem").count() == 0
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tr", has_text="greeter")
    assert row.locator(".codeai-status-valid").inner_text() == "valid"
    assert Config.objects.get(name="greeter").content == FIXED_CONFIG  # "\n", not "\r\n"
    shoot(page, "03-config-fixed")

    # A deployment of it (the config picked in the autocomplete box).
    page.goto(f"{admin}/deployments/deployment/add/")
    page.fill("#id_name", "greeter-prod")
    page.click(".field-config .select2-selection")
    page.fill(".select2-search__field", "greeter")
    page.click(".select2-results__option:has-text('greeter')")
    page.click("input[name=_continue]")
    page.wait_for_selector("a.codeai-execute-link")
    shoot(page, "04-deployment")

    # Execute with a variable and watch the output arrive while it runs.
    page.click("a.codeai-execute-link")
    page.fill("#id_variables", "who=browser")
    shoot(page, "05-execute-confirmation")
    page.click("input[type=submit][value=Execute]")
    page.wait_for_url("**/executions/execution/*/change/")
    terminal = page.locator("#codeai-output")
    page.wait_for_function(
        "() => document.getElementById('codeai-output').textContent.includes('hello browser 2')"
    )
    # Still running: the panel tails a run that has not finished.
    assert terminal.get_attribute("data-complete") == "false"
    assert page.locator(".codeai-terminal-bar .codeai-badge").inner_text() == "Running"
    # The status and duration fields above follow the live run as well.
    assert page.locator(".field-status_badge .codeai-badge").inner_text() == "Running"
    duration = page.locator(".field-duration .readonly").inner_text()
    page.wait_for_function(
        "(shown) => {"
        " const now = document.querySelector('.field-duration .readonly').textContent;"
        " return now !== shown && now.endsWith('so far'); }",
        arg=duration,
    )
    assert "hello browser 10" not in terminal.inner_text()
    shoot(page, "06-output-live")
    page.wait_for_function(
        "() => document.getElementById('codeai-output').dataset.complete === 'true'"
    )
    # The page reloads once at the end: the fields above show the final state too.
    page.wait_for_selector(".field-status_badge >> text=Succeeded")
    assert "hello browser 10" in terminal.inner_text()
    assert page.locator(".codeai-terminal-bar .codeai-badge").inner_text() == "Succeeded"
    shoot(page, "07-output-complete")

    # A long run, cancelled from its page.
    page.goto(f"{admin}/deployments/deployment/")
    page.click("text=greeter-prod")
    page.click("a.codeai-execute-link")
    page.fill("#id_variables", '{"who": "long run", "rounds": 120}')
    page.click("input[type=submit][value=Execute]")
    page.wait_for_url("**/executions/execution/*/change/")
    page.wait_for_function(
        "() => document.getElementById('codeai-output').textContent.includes('hello long run 1')"
    )
    page.click("#codeai-cancel button")
    page.wait_for_selector("text=Cancel requested for 1 execution")
    page.wait_for_function(
        "() => document.getElementById('codeai-output').dataset.complete === 'true'",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_selector(".field-explanation >> text=cancelled by olivia")
    assert page.locator(".codeai-terminal-bar .codeai-badge").inner_text() == "Cancelled"
    assert page.locator("#codeai-cancel").count() == 0
    shoot(page, "08-cancelled")

    page.goto(f"{admin}/executions/execution/")
    assert page.locator("#result_list tbody tr").count() == 2
    shoot(page, "09-executions")
    page.goto(f"{admin}/")
    for status in ("Succeeded", "Cancelled"):
        count = page.locator("#dash-executions li", has_text=status).locator("strong")
        assert count.inner_text() == "1"
    shoot(page, "10-dashboard")
    page.context.close()

    # A viewer sees the deployment but has no way to execute it.
    viewer = log_in(browser, live_server, "victor", csp_violations)
    viewer.goto(f"{admin}/deployments/deployment/")
    viewer.click("text=greeter-prod")
    assert viewer.locator("a.codeai-execute-link").count() == 0
    assert viewer.locator("select[name=action] option[value=execute]").count() == 0
    denied = viewer.goto(re.sub(r"/change/$", "/execute/", viewer.url))
    assert denied.status == 403
    shoot(viewer, "11-viewer-cannot-execute")
    viewer.context.close()

    runs = list(Execution.objects.order_by("created_at"))
    assert [run.status for run in runs] == [ExecutionStatus.SUCCEEDED, ExecutionStatus.CANCELLED]
    assert runs[0].variables == {"who": "browser"}
    assert runs[1].explanation == "cancelled by olivia"
    # The editor's Check, the terminal's polling and the Execute dialog all ran under the policy.
    assert csp_violations == []


def test_api_docs_render_under_the_content_security_policy(browser, live_server, shoot):
    csp_violations: list[str] = []
    page = new_page(browser, csp_violations)

    response = page.goto(f"{live_server.url}/api/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title >> text=CodeAI API")
    page.wait_for_selector(".opblock-tag >> text=configs")
    shoot(page, "12-api-docs")
    assert csp_violations == []
    page.context.close()
