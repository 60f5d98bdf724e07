"""Config revisions: numbered per config, made by every save that changes the text only,
immutable; restoring one; the migrations that turn today's configs into revision 1 and link
executions whose snapshot is that text."""

from __future__ import annotations

import time
from importlib import import_module
from threading import Thread

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import IntegrityError, close_old_connections, transaction

from codeai.kernel.exceptions import NotFound
from configs import selectors
from configs.models import Config, ConfigRevision
from configs.services import config_create, config_revision_restore, config_update
from deployments.models import Deployment
from executions.models import Execution
from tests.conftest import uses_postgres

ONE = "exec { echo one }\n"
TWO = "exec { echo two }\n"
BROKEN = "print(nobody)\n"


def numbers(config: Config) -> list[int]:
    return list(config.revisions.order_by("number").values_list("number", flat=True))


@pytest.mark.django_db
def test_create_makes_revision_1_by_its_author():
    alice = User.objects.create_user("alice")

    config = config_create(name="web", content=ONE, user=alice)

    revision = config.revisions.get()
    assert (revision.number, revision.content, revision.created_by) == (1, ONE, "alice")
    assert revision.is_valid


@pytest.mark.django_db
def test_each_save_of_a_new_text_adds_the_next_number_and_keeps_the_old_ones():
    config = config_create(name="web", content=ONE)

    config_update(config=config, content=TWO)
    config_update(config=config, content=BROKEN)

    assert numbers(config) == [1, 2, 3]
    assert [r.content for r in config.revisions.order_by("number")] == [ONE, TWO, BROKEN]
    third = config.revisions.get(number=3)
    assert not third.is_valid
    assert third.validation_errors[0]["message"] == "undefined variable 'nobody'"


@pytest.mark.django_db
def test_a_rename_or_a_save_of_the_same_text_makes_no_revision():
    config = config_create(name="web", content=ONE)

    config_update(config=config, name="renamed")
    config_update(config=config, name="renamed", content=ONE)

    assert numbers(config) == [1]


@pytest.mark.django_db
def test_numbers_count_per_config():
    first = config_create(name="a", content=ONE)
    second = config_create(name="b", content=ONE)
    config_update(config=first, content=TWO)

    assert numbers(first) == [1, 2]
    assert numbers(second) == [1]


@pytest.mark.django_db
def test_a_number_is_never_used_twice_in_one_config():
    config = config_create(name="web", content=ONE)

    with pytest.raises(IntegrityError), transaction.atomic():
        ConfigRevision.objects.create(config=config, number=1, content=TWO)


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_config_get_distinct_numbers():
    if not uses_postgres():
        pytest.skip("SQLite runs one writer at a time; the row lock matters on PostgreSQL")
    config = config_create(name="web", content=ONE)
    errors: list[BaseException] = []

    def save(index: int) -> None:
        try:
            config_update(config=Config.objects.get(pk=config.pk), content=f"var x = {index}\n")
        except BaseException as error:
            errors.append(error)
        finally:
            close_old_connections()

    threads = [Thread(target=save, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert numbers(config) == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.django_db
def test_restore_makes_a_new_revision_with_the_old_text():
    config = config_create(name="web", content=ONE)
    config_update(config=config, content=TWO)

    config_revision_restore(config=config, number=1, user=User.objects.create_user("bob"))

    config.refresh_from_db()
    assert config.content == ONE
    assert numbers(config) == [1, 2, 3]
    restored = config.revisions.get(number=3)
    assert (restored.content, restored.created_by) == (ONE, "bob")


@pytest.mark.django_db
def test_restoring_the_latest_text_changes_nothing_and_an_unknown_number_is_not_found():
    config = config_create(name="web", content=ONE)

    config_revision_restore(config=config, number=1)
    with pytest.raises(NotFound):
        config_revision_restore(config=config, number=7)

    assert numbers(config) == [1]


@pytest.mark.django_db
def test_selectors_list_newest_first_without_the_text_and_read_one_by_number():
    config = config_create(name="web", content=ONE)
    config_update(config=config, content=TWO)

    listed = list(selectors.config_revisions(config_id=config.pk))

    assert [r.number for r in listed] == [2, 1]
    assert "content" in listed[0].get_deferred_fields()
    assert selectors.config_revision(config_id=config.pk, number="1").content == ONE
    assert selectors.config_revision(config_id=config.pk, number="x") is None
    assert selectors.config_revision(config_id=config.pk, number=0) is None
    assert selectors.config_latest_revision(config_id=config.pk).number == 2


@pytest.mark.django_db
def test_diffs_mark_what_changed():
    config = config_create(name="web", content="var a = 1\nexec { echo one }\n")
    config_update(config=config, content="var a = 1\nexec { echo <two> }\nvar b = 2\n")
    old, new = config.revisions.get(number=1), config.revisions.get(number=2)

    unified = selectors.revision_unified_diff(old, new)
    rows = selectors.revision_side_by_side_diff(old, new)

    assert unified[:2] == ["--- revision 1", "+++ revision 2"]
    assert "-exec { echo one }" in unified
    assert "+exec { echo <two> }" in unified
    assert rows == [
        selectors.DiffRow("equal", 1, "var a = 1", 1, "var a = 1"),
        selectors.DiffRow("replace", 2, "exec { echo one }", 2, "exec { echo <two> }"),
        selectors.DiffRow("insert", None, None, 3, "var b = 2"),
    ]


@pytest.mark.django_db
def test_the_side_by_side_diff_keeps_three_lines_around_each_change():
    lines = [f"var x{index} = {index}" for index in range(20)]
    config = config_create(name="web", content="\n".join(lines))
    changed = list(lines)
    changed[10] = "var x10 = 100"
    config_update(config=config, content="\n".join(changed))

    rows = selectors.revision_side_by_side_diff(
        config.revisions.get(number=1), config.revisions.get(number=2)
    )

    assert [row.kind for row in rows] == ["gap", *["equal"] * 3, "replace", *["equal"] * 3]
    assert (rows[1].old_number, rows[-1].new_number) == (8, 14)


@pytest.mark.django_db
def test_a_diff_of_thousands_of_changed_lines_takes_well_under_a_second_of_work():
    """difflib.HtmlDiff took 16 s for 500 changed lines here (it compares characters of
    every pair); the line diff does not."""
    config = config_create(name="web", content="".join(f"var x{i} = {i}\n" for i in range(3000)))
    config_update(config=config, content="".join(f'var y{i} = "{i}"\n' for i in range(3000)))
    started = time.process_time()

    rows = selectors.revision_side_by_side_diff(
        config.revisions.get(number=1), config.revisions.get(number=2)
    )

    assert len(rows) == 3000
    assert time.process_time() - started < 5  # generous: a loaded machine


def _migration(app: str, name: str):
    return import_module(f"{app}.migrations.{name}")


@pytest.mark.django_db
def test_the_migrations_make_todays_text_revision_1_and_link_executions_that_ran_it():
    config = Config.objects.create(name="old", content=ONE)  # as before revisions existed
    Config.objects.filter(pk=config.pk).update(content=TWO)
    config.refresh_from_db()
    deployment = Deployment.objects.create(name="old-deployment", config=config)
    ran_today = Execution.objects.create(deployment=deployment, config_snapshot=TWO)
    ran_before = Execution.objects.create(deployment=deployment, config_snapshot=ONE)

    _migration("configs", "0002_revisions").first_revisions(apps, None)
    _migration("executions", "0003_revisions").link_first_revisions(apps, None)

    revision = config.revisions.get()
    assert (revision.number, revision.content, revision.created_by) == (1, TWO, "")
    assert revision.created_at == config.updated_at
    ran_today.refresh_from_db()
    ran_before.refresh_from_db()
    assert ran_today.config_revision == 1
    assert ran_before.config_revision is None
