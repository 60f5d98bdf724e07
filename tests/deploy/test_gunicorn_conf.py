"""gunicorn settings from the guide's variables: bind, worker count, timeouts, hooks."""

from __future__ import annotations

import os
import runpy

import pytest

from codeai import cli, gunicorn_hooks
from codeai.kernel.cpus import cpu_count

SERVER_VARIABLES = (
    "CODEAI_HOST",
    "CODEAI_PORT",
    "CODEAI_READ_TIMEOUT",
    "CODEAI_WRITE_TIMEOUT",
    "CODEAI_IDLE_TIMEOUT",
)


def load_config(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict:
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(cli.GUNICORN_CONFIG))


def test_defaults_follow_the_guide(monkeypatch):
    config = load_config(monkeypatch)
    assert config["bind"] == ["localhost:8080"]
    assert config["wsgi_app"] == "codeai.wsgi:application"
    assert config["workers"] == 2 * cpu_count() + 1
    # read 15s + write 15s; idle 60s
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (30, 30, 60)
    # keep-alive only works with a threaded worker
    assert config["worker_class"] == "gthread"
    # a dozen clients sending their headers slowly leave threads for the rest
    assert config["threads"] == 16
    # a 9-10 KB Authorization header fits (gunicorn's default is 8190)
    assert (config["limit_request_field_size"], config["limit_request_line"]) == (16384, 8190)


def test_variables_set_bind_and_timeouts(monkeypatch):
    config = load_config(
        monkeypatch,
        CODEAI_HOST="0.0.0.0",
        CODEAI_PORT="9000",
        CODEAI_READ_TIMEOUT="5s",
        CODEAI_WRITE_TIMEOUT="1m",
        CODEAI_IDLE_TIMEOUT="2500ms",
    )
    assert config["bind"] == ["0.0.0.0:9000"]
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (65, 65, 3)


def test_ipv6_host_is_bracketed(monkeypatch):
    assert load_config(monkeypatch, CODEAI_HOST="::")["bind"] == ["[::]:8080"]


def test_metrics_hooks_are_wired(monkeypatch):
    config = load_config(monkeypatch)
    assert config["child_exit"] is gunicorn_hooks.child_exit
    assert callable(config["on_starting"])


@pytest.mark.parametrize(
    ("v2", "v1", "limit"),
    [
        ("200000 100000\n", None, 2),  # systemd CPUQuota=200%
        ("50000 100000\n", None, 1),  # Kubernetes limit 500m: at least one CPU's worth
        ("150000 100000\n", None, 2),  # 1.5 CPUs rounds up
        ("max 100000\n", None, None),  # no quota
        (None, ("100000", "100000"), 1),  # cgroup v1
        (None, ("-1", "100000"), None),
        (None, None, None),  # no cgroup files at all
    ],
)
def test_cpu_count_honours_a_cgroup_quota(tmp_path, v2, v1, limit):
    cpu_max, quota, period = tmp_path / "cpu.max", tmp_path / "quota", tmp_path / "period"
    if v2:
        cpu_max.write_text(v2)
    if v1:
        quota.write_text(v1[0])
        period.write_text(v1[1])
    available = len(os.sched_getaffinity(0))
    expected = available if limit is None else min(available, limit)
    assert cpu_count(cpu_max, quota, period) == expected
