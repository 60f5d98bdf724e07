"""The CODEAI_WEBHOOK_* variables: their defaults and the edges of what they accept."""

from __future__ import annotations

import pytest

from codeai.kernel import conf


def test_defaults():
    loaded = conf.load({}, yaml_files=())
    assert loaded["CODEAI_WEBHOOK_TIMEOUT"] == 5.0
    assert loaded["CODEAI_WEBHOOK_MAX_ATTEMPTS"] == 3
    assert loaded["CODEAI_WEBHOOK_RETRY_BACKOFF"] == 1.0
    assert loaded["CODEAI_WEBHOOK_ALLOW_PRIVATE"] is True


@pytest.mark.parametrize(("value", "parsed"), [("1", 1), ("10", 10)])
def test_attempts_from_one_to_ten(value, parsed):
    loaded = conf.load({"CODEAI_WEBHOOK_MAX_ATTEMPTS": value}, yaml_files=())
    assert loaded["CODEAI_WEBHOOK_MAX_ATTEMPTS"] == parsed


@pytest.mark.parametrize("value", ["0", "11", "three"])
def test_attempts_outside_are_refused_naming_the_variable(value):
    with pytest.raises(conf.ConfigError) as error:
        conf.load({"CODEAI_WEBHOOK_MAX_ATTEMPTS": value}, yaml_files=())
    assert "CODEAI_WEBHOOK_MAX_ATTEMPTS" in str(error.value)
    assert "an integer from 1 to 10" in str(error.value)


def test_durations_and_the_switch_parse_strictly():
    loaded = conf.load(
        {
            "CODEAI_WEBHOOK_TIMEOUT": "1500ms",
            "CODEAI_WEBHOOK_RETRY_BACKOFF": "2s",
            "CODEAI_WEBHOOK_ALLOW_PRIVATE": "off",
        },
        yaml_files=(),
    )
    assert loaded["CODEAI_WEBHOOK_TIMEOUT"] == 1.5
    assert loaded["CODEAI_WEBHOOK_RETRY_BACKOFF"] == 2.0
    assert loaded["CODEAI_WEBHOOK_ALLOW_PRIVATE"] is False
    with pytest.raises(conf.ConfigError, match="CODEAI_WEBHOOK_ALLOW_PRIVATE"):
        conf.load({"CODEAI_WEBHOOK_ALLOW_PRIVATE": "maybe"}, yaml_files=())


@pytest.mark.parametrize(
    ("variable", "accepted", "refused"),
    [
        ("CODEAI_WEBHOOK_TIMEOUT", ["1ms", "60s"], ["0", "0s", "61s", "1m1s"]),
        ("CODEAI_WEBHOOK_RETRY_BACKOFF", ["1ms", "30s"], ["0", "31s"]),
    ],
)
def test_durations_have_bounds(variable, accepted, refused):
    for value in accepted:
        assert conf.load({variable: value}, yaml_files=())[variable] > 0
    for value in refused:
        with pytest.raises(conf.ConfigError, match=variable):
            conf.load({variable: value}, yaml_files=())
