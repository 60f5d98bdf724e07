"""Parsing of the CODEAI_* variables, YAML files and _FILE secrets (codeai.kernel.conf)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeai.kernel import conf


def load(env: dict[str, str] | None = None, yaml_files: tuple[Path, ...] = ()) -> conf.Settings:
    return conf.load(env or {}, yaml_files=yaml_files)


def test_defaults_are_the_deployment_guides():
    loaded = load()
    assert loaded["CODEAI_HOST"] == "localhost"
    assert loaded["CODEAI_PORT"] == 8080
    assert loaded["CODEAI_READ_TIMEOUT"] == 15
    assert loaded["CODEAI_WRITE_TIMEOUT"] == 15
    assert loaded["CODEAI_IDLE_TIMEOUT"] == 60
    assert loaded["CODEAI_DB_PORT"] == 5432
    assert loaded["CODEAI_DB_NAME"] == "codeai"
    assert loaded["CODEAI_DB_USER"] == "postgres"
    assert loaded["CODEAI_DB_SSLMODE"] == "disable"
    assert loaded["CODEAI_DB_MAX_OPEN_CONNS"] == 25
    assert loaded["CODEAI_DB_MAX_IDLE_CONNS"] == 5
    assert loaded["CODEAI_DB_CONN_MAX_LIFETIME"] == 300
    assert loaded["CODEAI_CACHE_TYPE"] == "memory"
    assert loaded["CODEAI_REDIS_DB"] == 0
    assert loaded["CODEAI_REDIS_POOL_SIZE"] == 10
    assert loaded["CODEAI_REDIS_CLUSTER_MODE"] is False
    assert loaded["CODEAI_CACHE_PREFIX"] == "codeai"
    assert loaded["CODEAI_CACHE_DEFAULT_TTL"] == 300
    assert loaded["CODEAI_JWT_ROLES_CLAIM"] == "roles"
    assert loaded["CODEAI_JWT_LEEWAY"] == 30
    assert loaded["CODEAI_TRUSTED_PROXIES"] is None
    assert loaded["CODEAI_RATE_LIMIT_ANON"] == "120/min"
    assert loaded["CODEAI_RATE_LIMIT_USER"] == "1200/min"
    assert loaded["CODEAI_RATE_LIMIT_AUTH"] == "20/min"
    assert loaded["CODEAI_METRICS_ENABLED"] is True
    assert loaded["CODEAI_METRICS_NAMESPACE"] == "codeai"
    assert loaded["CODEAI_METRICS_PATH"] == "/metrics"
    assert loaded["CODEAI_LOG_LEVEL"] == "info"
    assert loaded["CODEAI_LOG_FORMAT"] == "json"
    assert loaded["CODEAI_DB_PASSWORD"] is None
    assert not loaded.explicitly_set("CODEAI_DB_")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("2.5s", 2.5), ("45", 45)],
)
def test_durations_use_go_syntax(text, seconds):
    assert conf.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("CODEAI_PORT", "abc", "an integer from 1 to 65535"),
        ("CODEAI_PORT", "70000", "an integer from 1 to 65535"),
        ("CODEAI_DB_SSLMODE", "maybe", "disable, require, verify-ca or verify-full"),
        ("CODEAI_LOG_LEVEL", "loud", "debug, info, warn (or warning) or error"),
        ("CODEAI_CACHE_TYPE", "disk", "memory or redis"),
        ("CODEAI_LOG_FORMAT", "xml", "json or text"),
        ("CODEAI_METRICS_ENABLED", "perhaps", "true or false"),
        ("CODEAI_READ_TIMEOUT", "15 seconds", "a duration such as 15s, 5m or 1h"),
        ("CODEAI_METRICS_PATH", "metrics", "a path starting with /"),
        ("CODEAI_JWT_LEEWAY", "-1", "a whole number of seconds"),
        ("CODEAI_RATE_LIMIT_AUTH", "20", "a count per s, min, hour or day such as 120/min"),
        ("CODEAI_RATE_LIMIT_ANON", "0/min", "a count per s, min, hour or day such as 120/min"),
        ("CODEAI_RATE_LIMIT_USER", "5/week", "a count per s, min, hour or day such as 120/min"),
        (
            "CODEAI_TRUSTED_PROXIES",
            "10.0.0.1/8",
            "comma-separated addresses or CIDR blocks such as 10.0.0.0/8",
        ),
        (
            "CODEAI_TRUSTED_PROXIES",
            "nginx",
            "comma-separated addresses or CIDR blocks such as 10.0.0.0/8",
        ),
    ],
)
def test_malformed_value_names_the_variable_and_accepted_values(variable, value, accepted):
    with pytest.raises(conf.ConfigError) as raised:
        load({variable: value})
    assert raised.value.problems == [
        f"{variable}={value!r} (env) is not valid: expected {accepted}"
    ]


def test_rates_and_trusted_proxies_are_normalised():
    loaded = load(
        {
            "CODEAI_RATE_LIMIT_AUTH": "5/Hour",
            "CODEAI_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,fd00::/8",
        }
    )
    assert loaded["CODEAI_RATE_LIMIT_AUTH"] == "5/hour"
    assert loaded["CODEAI_TRUSTED_PROXIES"] == ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]


def test_every_problem_is_reported_at_once():
    with pytest.raises(conf.ConfigError) as raised:
        load({"CODEAI_PORT": "abc", "CODEAI_CACHE_TYPE": "disk"})
    assert len(raised.value.problems) == 2


def test_malformed_secret_value_is_never_echoed(tmp_path):
    with pytest.raises(conf.ConfigError) as raised:
        load({"CODEAI_DB_PASSWORD_FILE": str(tmp_path / "missing")})
    assert "cannot read" in str(raised.value)


def test_yaml_keys_of_the_guides_example_are_read(tmp_path):
    home = tmp_path / "home.yaml"
    home.write_text(
        """
server: {host: "0.0.0.0", port: 9090}
database: {host: "db.example.com", sslmode: "require"}
cache: {type: "redis", redis: {url: "redis://cache:6379", pool_size: 20}}
auth: {jwt: {issuer: "https://auth.example.com", audience: "codeai-api"}}
metrics: {enabled: false, namespace: "codeai"}
logging: {level: "warn", format: "text"}
"""
    )
    loaded = load(yaml_files=(home,))
    assert loaded["CODEAI_HOST"] == "0.0.0.0"
    assert loaded["CODEAI_PORT"] == 9090
    assert loaded["CODEAI_DB_HOST"] == "db.example.com"
    assert loaded["CODEAI_DB_SSLMODE"] == "require"
    assert loaded["CODEAI_CACHE_TYPE"] == "redis"
    assert loaded["CODEAI_REDIS_URL"] == "redis://cache:6379"
    assert loaded["CODEAI_REDIS_POOL_SIZE"] == 20
    assert loaded["CODEAI_JWT_ISSUER"] == "https://auth.example.com"
    assert loaded["CODEAI_JWT_AUDIENCE"] == "codeai-api"
    assert loaded["CODEAI_METRICS_ENABLED"] is False
    assert loaded["CODEAI_LOG_LEVEL"] == "warn"
    assert loaded.explicitly_set("CODEAI_DB_")


def test_environment_beats_home_file_beats_system_file(tmp_path):
    home = tmp_path / "home.yaml"
    system = tmp_path / "system.yaml"
    home.write_text("server: {port: 9001}\nlogging: {level: debug}\n")
    system.write_text("server: {port: 9002, host: sys.example}\nlogging: {level: error}\n")
    loaded = load({"CODEAI_PORT": "9000"}, yaml_files=(home, system))
    assert loaded["CODEAI_PORT"] == 9000
    assert loaded["CODEAI_LOG_LEVEL"] == "debug"
    assert loaded["CODEAI_HOST"] == "sys.example"
    assert loaded.sources["CODEAI_PORT"] == "env"
    assert loaded.sources["CODEAI_LOG_LEVEL"] == f"yaml:{home}"


def test_malformed_yaml_value_names_the_file(tmp_path):
    home = tmp_path / "home.yaml"
    home.write_text("server: {port: abc}\n")
    with pytest.raises(conf.ConfigError) as raised:
        load(yaml_files=(home,))
    assert f"(yaml:{home})" in raised.value.problems[0]


def test_yaml_that_is_not_a_mapping_is_a_clear_problem(tmp_path):
    home = tmp_path / "home.yaml"
    home.write_text("- just\n- a list\n")
    with pytest.raises(conf.ConfigError, match="must be a YAML mapping"):
        load(yaml_files=(home,))


@pytest.mark.parametrize(
    "variable",
    ["CODEAI_DB_PASSWORD", "CODEAI_JWT_SECRET", "CODEAI_REDIS_PASSWORD", "CODEAI_SECRET_KEY"],
)
def test_secret_file_variants_read_the_file(tmp_path, variable):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-from-file\n")
    assert load({f"{variable}_FILE": str(secret)})[variable] == "s3cr3t-from-file"


def test_plain_variable_beats_its_file_variant(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("from-file")
    loaded = load({"CODEAI_DB_PASSWORD": "from-env", "CODEAI_DB_PASSWORD_FILE": str(secret)})
    assert loaded["CODEAI_DB_PASSWORD"] == "from-env"


def test_masked_view_hides_every_secret_and_url_password():
    loaded = load(
        {
            "CODEAI_DB_PASSWORD": "hunter2",
            "CODEAI_JWT_SECRET": "jwt-secret-value",
            "CODEAI_REDIS_URL": "redis://user:redispass@cache:6379/0",
        }
    )
    shown = repr(loaded.masked())
    for secret in ("hunter2", "jwt-secret-value", "redispass"):
        assert secret not in shown
    assert loaded.masked()["database"]["CODEAI_DB_PASSWORD"] == conf.MASK
    assert loaded.masked()["cache"]["CODEAI_REDIS_URL"] == "redis://user:****@cache:6379/0"


def test_build_info_defaults_and_build_args():
    assert conf.build_info({}) == {"version": "dev", "buildDate": "unknown", "gitCommit": "unknown"}
    built = conf.build_info(
        {"CODEAI_VERSION": "1.2.3", "CODEAI_BUILD_DATE": "2026-11-27", "CODEAI_GIT_COMMIT": "abc"}
    )
    assert built == {"version": "1.2.3", "buildDate": "2026-11-27", "gitCommit": "abc"}
