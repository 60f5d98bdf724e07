"""The smaller promises of the guide's operations tables: log levels as it spells them (and
``error`` hiding warnings), one broker variable winning, ``config show`` naming the database
really used. Each in a fresh interpreter: settings load once per process."""

from __future__ import annotations

import json
import logging

import pytest

from codeai.kernel import conf
from codeai.kernel import logs as codeai_logging
from tests.codeai.test_settings import effective, run_python


@pytest.mark.parametrize(
    ("spelling", "python"),
    [("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARNING"), ("warning", "WARNING"),
     ("error", "ERROR"), ("ERROR", "ERROR"), ("Warn", "WARNING")],
)  # fmt: skip
def test_log_level_accepts_the_guides_spellings_and_warning(spelling, python):
    loaded = conf.load({"CODEAI_LOG_LEVEL": spelling}, yaml_files=())
    assert codeai_logging.python_level(loaded["CODEAI_LOG_LEVEL"]) == python


LOG_PROBE = """
import logging, django
django.setup()
logging.getLogger("some.library").setLevel(logging.DEBUG)  # a logger with a level of its own
for name in ("some.library", "django.db.backends", "codeai", "py.warnings"):
    logger = logging.getLogger(name)
    logger.debug("a debug line of %s", name)
    logger.info("an info line of %s", name)
    logger.warning("a warning of %s", name)
    logger.error("an error of %s", name)
import warnings
warnings.warn("a python warning")
"""


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_level_error_shows_errors_only_whatever_the_logger(tmp_path, log_format):
    result = run_python(
        tmp_path, "-c", LOG_PROBE, CODEAI_LOG_LEVEL="error", CODEAI_LOG_FORMAT=log_format
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, result.stderr
    assert all("an error of" in line for line in lines)
    assert "a warning of" not in result.stderr
    assert "a python warning" not in result.stderr


def test_log_level_warn_shows_warnings_and_hides_info(tmp_path):
    result = run_python(
        tmp_path, "-c", LOG_PROBE, CODEAI_LOG_LEVEL="warn", CODEAI_LOG_FORMAT="json"
    )
    records = [json.loads(line) for line in result.stderr.strip().splitlines()]
    assert {record["level"] for record in records} == {"warning", "error"}
    assert any("a python warning" in record["msg"] for record in records)
    assert not any("an info line" in record["msg"] for record in records)


def test_sql_statements_stay_out_of_the_log_even_at_debug():
    config = codeai_logging.logging_config("json", "DEBUG")
    assert config["loggers"]["django.db.backends"]["level"] == "INFO"
    assert codeai_logging.logging_config("json", "ERROR")["handlers"]["console"]["level"] == (
        "ERROR"
    )
    assert logging.getLevelName(config["handlers"]["console"]["level"]) == logging.DEBUG


# --- the broker ---------------------------------------------------------------------------------


def test_codeai_broker_variable_is_the_broker(tmp_path):
    seen = effective(tmp_path, CODEAI_CELERY_BROKER_URL="redis://broker.example:6379/3")
    assert seen["broker"] == "redis://broker.example:6379/3"


def test_a_generic_celery_broker_url_stands_in_when_codeais_is_unset(tmp_path):
    seen = effective(tmp_path, CELERY_BROKER_URL="redis://generic.example:6379/2")
    assert seen["broker"] == "redis://generic.example:6379/2"
    loaded = conf.load({"CELERY_BROKER_URL": "redis://generic.example:6379/2"}, yaml_files=())
    assert loaded.sources["CODEAI_CELERY_BROKER_URL"] == "env:CELERY_BROKER_URL"


def test_the_same_url_in_both_variables_is_accepted(tmp_path):
    url = "amqp://guest:guest@rabbit.example:5672//"
    seen = effective(tmp_path, CELERY_BROKER_URL=url, CODEAI_CELERY_BROKER_URL=url)
    assert seen["broker"] == url


def test_two_different_brokers_stop_start_up_naming_both_variables(tmp_path):
    result = run_python(
        tmp_path,
        "manage.py",
        "check",
        check=False,
        CELERY_BROKER_URL="redis://generic.example:6379/2",
        CODEAI_CELERY_BROKER_URL="redis://codeai.example:6379/1",
    )
    assert result.returncode == 1
    assert (
        "CELERY_BROKER_URL and CODEAI_CELERY_BROKER_URL (env) name different brokers"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    # The URLs are secrets (they may carry passwords): neither is printed.
    assert "generic.example" not in result.stderr
    assert "codeai.example" not in result.stderr


def test_config_validate_reports_the_broker_conflict(tmp_path):
    result = run_python(
        tmp_path,
        "-m",
        "codeai.cli",
        "config",
        "validate",
        check=False,
        CELERY_BROKER_URL="redis://a:6379/2",
        CODEAI_CELERY_BROKER_URL="redis://b:6379/1",
    )
    assert result.returncode == 1
    assert "name different brokers" in result.stderr


# --- config show ----------------------------------------------------------------------------


def test_config_show_names_the_embedded_sqlite_file_not_postgresql_defaults(tmp_path):
    result = run_python(tmp_path, "-m", "codeai.cli", "config", "show")
    database = result.stdout.split("[database]\n", 1)[1].split("\n[", 1)[0]
    first = database.splitlines()[0]
    assert first.startswith(f"  in use: SQLite {tmp_path / 'codeai.sqlite3'}")
    assert "are not used" in first
    shown = json.loads(
        run_python(tmp_path, "-m", "codeai.cli", "config", "show", "--output", "json").stdout
    )
    assert shown["database"]["in_use"] == {
        "engine": "sqlite",
        "path": str(tmp_path / "codeai.sqlite3"),
    }


def test_config_show_names_the_postgresql_in_use(tmp_path):
    result = run_python(
        tmp_path, "-m", "codeai.cli", "config", "show", "--output", "json",
        CODEAI_DB_HOST="db.example.com", CODEAI_DB_NAME="prod",
    )  # fmt: skip
    assert json.loads(result.stdout)["database"]["in_use"] == {
        "engine": "postgresql",
        "host": "db.example.com",
        "port": 5432,
        "name": "prod",
    }
    text = run_python(
        tmp_path, "-m", "codeai.cli", "config", "show", CODEAI_DB_HOST="db.example.com"
    ).stdout
    assert "  in use: PostgreSQL db.example.com:5432/codeai\n" in text
