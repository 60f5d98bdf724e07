"""Effective CodeAI configuration: the seed's CODEAI_* variables, YAML files and defaults.

Precedence (highest first): command-line flags (applied by the ``codeai`` command as
environment variables), environment, ``$HOME/.codeai.yaml``, ``/etc/codeai/config.yaml``,
then the defaults of the deployment guide. ``NAME_FILE`` variables read secrets from files
(Docker and Kubernetes secrets). Every value is parsed strictly; all problems are collected
so ``config validate`` can list them and start-up can stop with one clear line each.

This module imports nothing from Django so that the settings module, management commands
and the ``codeai`` command can all use it before Django is configured.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

HOME_CONFIG = Path("~/.codeai.yaml")
SYSTEM_CONFIG = Path("/etc/codeai/config.yaml")
MASK = "****"


class ConfigError(Exception):
    """One or more settings are malformed; ``problems`` holds one line per variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> float:
    """Parse a Go-style duration (``15s``, ``5m``, ``1h30m``, ``500ms``) or bare seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError
    return total


def _duration_in(low: float, high: float) -> Callable[[str], float]:
    """A duration from ``low`` (excluded when 0) to ``high`` seconds."""

    def parse(text: str) -> float:
        value = parse_duration(text)
        if value < low or value > high or (low == 0 and value == 0):
            raise ValueError
        return value

    return parse


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip())
        if value < low or (high is not None and value > high):
            raise ValueError
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError
        return value

    return parse


def _text(text: str) -> str:
    return text.strip()


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def cluster_nodes(addresses: list[str]) -> list[tuple[str, int]]:
    """CODEAI_REDIS_CLUSTER_ADDRS' host:port pairs; a malformed one stops start-up."""
    nodes = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError([f"CODEAI_REDIS_CLUSTER_ADDRS: {address!r} is not host:port"])
        nodes.append((host, int(port)))
    return nodes


def _path(text: str) -> str:
    if not text.startswith("/"):
        raise ValueError
    return text


def _networks(text: str) -> list[str]:
    """Comma-separated addresses or CIDR blocks, each normalised (``10.0.0.1/8`` is refused)."""
    return [str(ipaddress.ip_network(part, strict=True)) for part in _csv(text)]


_RATE = re.compile(r"[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)")


def _rate(text: str) -> str:
    """A request rate as DRF reads it: a count per second, minute, hour or day."""
    value = text.strip().lower()
    if not _RATE.fullmatch(value):
        raise ValueError
    return value


@dataclass(frozen=True)
class Option:
    """One setting: its variable, where it sits in the YAML file and how it is parsed."""

    env: str
    group: str
    parse: Callable[[str], Any]
    default: str | None
    accepted: str
    yaml_path: tuple[str, ...] = ()
    secret: bool = False


_PORT = _int_in(1, 65535)
_COUNT = _int_in(0)
_POSITIVE = _int_in(1)
_DURATION_WORDS = "a duration such as 15s, 5m or 1h"
# Configs of a megabyte must always fit, whatever an operator lowers the limit to.
MIN_CONFIG_BYTES = 1_000_000
_RATE_WORDS = "a count per s, min, hour or day such as 120/min"

OPTIONS: tuple[Option, ...] = (
    # Server
    Option(
        "CODEAI_HOST", "server", _text, "localhost", "a host name or address", ("server", "host")
    ),
    Option(
        "CODEAI_PORT", "server", _PORT, "8080", "an integer from 1 to 65535", ("server", "port")
    ),
    Option(
        "CODEAI_READ_TIMEOUT",
        "server",
        parse_duration,
        "15s",
        _DURATION_WORDS,
        ("server", "read_timeout"),
    ),
    Option(
        "CODEAI_WRITE_TIMEOUT",
        "server",
        parse_duration,
        "15s",
        _DURATION_WORDS,
        ("server", "write_timeout"),
    ),
    Option(
        "CODEAI_IDLE_TIMEOUT",
        "server",
        parse_duration,
        "60s",
        _DURATION_WORDS,
        ("server", "idle_timeout"),
    ),
    Option("CODEAI_DEBUG", "server", _parse_bool, "false", "true or false", ("server", "debug")),
    Option(
        "CODEAI_SECRET_KEY",
        "server",
        _text,
        None,
        "any long random string",
        ("server", "secret_key"),
        secret=True,
    ),
    Option(
        "CODEAI_ALLOWED_HOSTS",
        "server",
        _csv,
        "localhost,127.0.0.1,[::1]",
        "comma-separated host names",
        ("server", "allowed_hosts"),
    ),
    Option("CODEAI_DATA_DIR", "server", _text, "./var", "a folder path", ("server", "data_dir")),
    Option("CODEAI_SQLITE_PATH", "server", _text, None, "a file path", ("server", "sqlite_path")),
    Option(
        "CODEAI_SECURE_SSL_REDIRECT",
        "server",
        _parse_bool,
        "false",
        "true or false",
        ("server", "secure_ssl_redirect"),
    ),
    Option(
        "CODEAI_SECURE_COOKIES",
        "server",
        _parse_bool,
        None,  # unset: follows CODEAI_SECURE_SSL_REDIRECT
        "true or false",
        ("server", "secure_cookies"),
    ),
    Option(
        "CODEAI_SECURE_HSTS_SECONDS",
        "server",
        _COUNT,
        "0",
        "a whole number of seconds",
        ("server", "secure_hsts_seconds"),
    ),
    Option(
        "CODEAI_MAX_REQUEST_BYTES",
        "server",
        _POSITIVE,
        "2097152",
        "a positive number of bytes",
        ("server", "max_request_bytes"),
    ),
    Option(
        "CODEAI_MAX_CONFIG_BYTES",
        "server",
        _int_in(MIN_CONFIG_BYTES),
        "1048576",
        f"a number of bytes, at least {MIN_CONFIG_BYTES}",
        ("server", "max_config_bytes"),
    ),
    # Database
    Option("CODEAI_DB_HOST", "database", _text, "localhost", "a host name", ("database", "host")),
    Option(
        "CODEAI_DB_PORT",
        "database",
        _PORT,
        "5432",
        "an integer from 1 to 65535",
        ("database", "port"),
    ),
    Option("CODEAI_DB_NAME", "database", _text, "codeai", "a database name", ("database", "name")),
    Option("CODEAI_DB_USER", "database", _text, "postgres", "a user name", ("database", "user")),
    Option(
        "CODEAI_DB_PASSWORD",
        "database",
        str,
        None,
        "any string",
        ("database", "password"),
        secret=True,
    ),
    Option(
        "CODEAI_DB_SSLMODE",
        "database",
        _choice("disable", "require", "verify-ca", "verify-full"),
        "disable",
        "disable, require, verify-ca or verify-full",
        ("database", "sslmode"),
    ),
    Option(
        "CODEAI_DB_MAX_OPEN_CONNS",
        "database",
        _POSITIVE,
        "25",
        "a positive integer",
        ("database", "max_open_conns"),
    ),
    Option(
        "CODEAI_DB_MAX_IDLE_CONNS",
        "database",
        _COUNT,
        "5",
        "a whole number",
        ("database", "max_idle_conns"),
    ),
    Option(
        "CODEAI_DB_CONN_MAX_LIFETIME",
        "database",
        parse_duration,
        "5m",
        _DURATION_WORDS,
        ("database", "conn_max_lifetime"),
    ),
    # Cache
    Option(
        "CODEAI_CACHE_TYPE",
        "cache",
        _choice("memory", "redis"),
        "memory",
        "memory or redis",
        ("cache", "type"),
    ),
    Option(
        "CODEAI_REDIS_URL",
        "cache",
        _text,
        None,
        "a URL such as redis://localhost:6379",
        ("cache", "redis", "url"),
    ),
    Option(
        "CODEAI_REDIS_PASSWORD",
        "cache",
        str,
        None,
        "any string",
        ("cache", "redis", "password"),
        secret=True,
    ),
    Option("CODEAI_REDIS_DB", "cache", _COUNT, "0", "a whole number", ("cache", "redis", "db")),
    Option(
        "CODEAI_REDIS_POOL_SIZE",
        "cache",
        _POSITIVE,
        "10",
        "a positive integer",
        ("cache", "redis", "pool_size"),
    ),
    Option(
        "CODEAI_REDIS_CLUSTER_ADDRS",
        "cache",
        _csv,
        None,
        "comma-separated host:port pairs",
        ("cache", "redis", "cluster_addrs"),
    ),
    Option(
        "CODEAI_REDIS_CLUSTER_MODE",
        "cache",
        _parse_bool,
        "false",
        "true or false",
        ("cache", "redis", "cluster_mode"),
    ),
    Option("CODEAI_CACHE_PREFIX", "cache", _text, "codeai", "a key prefix", ("cache", "prefix")),
    Option(
        "CODEAI_CACHE_DEFAULT_TTL",
        "cache",
        parse_duration,
        "5m",
        _DURATION_WORDS,
        ("cache", "default_ttl"),
    ),
    # Authentication
    Option(
        "CODEAI_JWT_SECRET",
        "auth",
        str,
        None,
        "a secret of at least 32 bytes",
        ("auth", "jwt", "secret"),
        secret=True,
    ),
    Option(
        "CODEAI_JWT_PUBLIC_KEY",
        "auth",
        str,
        None,
        "a PEM-encoded public key",
        ("auth", "jwt", "public_key"),
    ),
    Option(
        "CODEAI_JWT_PRIVATE_KEY",
        "auth",
        str,
        None,
        "a PEM-encoded private key",
        ("auth", "jwt", "private_key"),
        secret=True,
    ),
    Option(
        "CODEAI_JWT_JWKS_URL", "auth", _text, None, "an http(s) URL", ("auth", "jwt", "jwks_url")
    ),
    Option(
        "CODEAI_JWT_ISSUER", "auth", _text, None, "the expected issuer", ("auth", "jwt", "issuer")
    ),
    Option(
        "CODEAI_JWT_AUDIENCE",
        "auth",
        _text,
        None,
        "the expected audience",
        ("auth", "jwt", "audience"),
    ),
    Option(
        "CODEAI_JWT_ROLES_CLAIM",
        "auth",
        _text,
        "roles",
        "a claim name",
        ("auth", "jwt", "roles_claim"),
    ),
    Option(
        "CODEAI_JWT_ACCESS_TTL",
        "auth",
        parse_duration,
        "15m",
        _DURATION_WORDS,
        ("auth", "jwt", "access_ttl"),
    ),
    Option(
        "CODEAI_JWT_REFRESH_TTL",
        "auth",
        parse_duration,
        "24h",
        _DURATION_WORDS,
        ("auth", "jwt", "refresh_ttl"),
    ),
    Option(
        "CODEAI_JWT_LEEWAY",
        "auth",
        _COUNT,
        "30",
        "a whole number of seconds",
        ("auth", "jwt", "leeway"),
    ),
    Option(
        "CODEAI_TRUSTED_PROXIES",
        "auth",
        _networks,
        None,
        "comma-separated addresses or CIDR blocks such as 10.0.0.0/8",
        ("auth", "trusted_proxies"),
    ),
    Option(
        "CODEAI_RATE_LIMIT_ANON",
        "auth",
        _rate,
        "120/min",
        _RATE_WORDS,
        ("auth", "rate_limit", "anon"),
    ),
    Option(
        "CODEAI_RATE_LIMIT_USER",
        "auth",
        _rate,
        "1200/min",
        _RATE_WORDS,
        ("auth", "rate_limit", "user"),
    ),
    Option(
        "CODEAI_RATE_LIMIT_AUTH",
        "auth",
        _rate,
        "20/min",
        _RATE_WORDS,
        ("auth", "rate_limit", "auth"),
    ),
    # Metrics
    Option(
        "CODEAI_METRICS_ENABLED",
        "metrics",
        _parse_bool,
        "true",
        "true or false",
        ("metrics", "enabled"),
    ),
    Option(
        "CODEAI_METRICS_NAMESPACE",
        "metrics",
        _text,
        "codeai",
        "a metric name prefix",
        ("metrics", "namespace"),
    ),
    Option(
        "CODEAI_METRICS_PATH",
        "metrics",
        _path,
        "/metrics",
        "a path starting with /",
        ("metrics", "path"),
    ),
    Option(
        "CODEAI_METRICS_PROCESS",
        "metrics",
        _parse_bool,
        "true",
        "true or false",
        ("metrics", "process"),
    ),
    Option(
        "CODEAI_METRICS_RUNTIME",
        "metrics",
        _parse_bool,
        "true",
        "true or false",
        ("metrics", "runtime"),
    ),
    # Where `codeai worker start` serves its pool's metrics (0: not served).
    Option(
        "CODEAI_WORKER_METRICS_PORT",
        "metrics",
        _int_in(0, 65535),
        "9808",
        "an integer from 0 (off) to 65535",
        ("metrics", "worker_port"),
    ),
    # Logging
    Option(
        "CODEAI_LOG_LEVEL",
        "logging",
        _choice("debug", "info", "warn", "warning", "error"),
        "info",
        "debug, info, warn (or warning) or error",
        ("logging", "level"),
    ),
    Option(
        "CODEAI_LOG_FORMAT",
        "logging",
        _choice("json", "text"),
        "json",
        "json or text",
        ("logging", "format"),
    ),
    # CORS
    Option(
        "CODEAI_CORS_ALLOWED_ORIGINS",
        "cors",
        _csv,
        None,
        "comma-separated origins",
        ("cors", "allowed_origins"),
    ),
    Option(
        "CODEAI_CORS_ALLOWED_METHODS",
        "cors",
        _csv,
        "GET,POST,PUT,PATCH,DELETE,OPTIONS",
        "comma-separated HTTP methods",
        ("cors", "allowed_methods"),
    ),
    Option(
        "CODEAI_CORS_ALLOWED_HEADERS",
        "cors",
        _csv,
        "Authorization,Content-Type",
        "comma-separated header names",
        ("cors", "allowed_headers"),
    ),
    Option(
        "CODEAI_CORS_MAX_AGE",
        "cors",
        _COUNT,
        "86400",
        "a whole number of seconds",
        ("cors", "max_age"),
    ),
    # Executions
    Option(
        "CODEAI_CELERY_BROKER_URL",
        "executions",
        _text,
        None,
        "a broker URL such as redis://… or amqp://…",
        ("executions", "broker_url"),
        secret=True,
    ),
    Option(
        "CODEAI_EXEC_ENABLED",
        "executions",
        _parse_bool,
        "true",
        "true or false",
        ("executions", "enabled"),
    ),
    Option(
        "CODEAI_EXEC_TIMEOUT",
        "executions",
        parse_duration,
        "300s",
        _DURATION_WORDS,
        ("executions", "timeout"),
    ),
    Option(
        "CODEAI_EXEC_IDLE_TIMEOUT",
        "executions",
        parse_duration,
        "120s",
        _DURATION_WORDS,
        ("executions", "idle_timeout"),
    ),
    Option(
        "CODEAI_EXEC_MAX_OUTPUT_BYTES",
        "executions",
        _POSITIVE,
        "1048576",
        "a positive number of bytes",
        ("executions", "max_output_bytes"),
    ),
    Option(
        "CODEAI_EXEC_HEARTBEAT_GRACE",
        "executions",
        parse_duration,
        "60s",
        _DURATION_WORDS,
        ("executions", "heartbeat_grace"),
    ),
    Option(
        "CODEAI_EXEC_QUEUE_GRACE",
        "executions",
        parse_duration,
        "120s",
        _DURATION_WORDS,
        ("executions", "queue_grace"),
    ),
    # bwrap: every exec step runs in a bubblewrap sandbox; off: unconfined (warned about).
    Option(
        "CODEAI_EXEC_SANDBOX",
        "executions",
        _choice("bwrap", "off"),
        "bwrap",
        "bwrap or off",
        ("executions", "sandbox"),
    ),
    # off: sandboxed steps get a network namespace with loopback only.
    Option(
        "CODEAI_EXEC_NETWORK",
        "executions",
        _parse_bool,
        "on",
        "on or off",
        ("executions", "network"),
    ),
    # Webhooks: outbound deliveries of execution events (the webhooks app).
    Option(
        "CODEAI_WEBHOOK_TIMEOUT",
        "webhooks",
        _duration_in(0, 60),
        "5s",
        "a duration above 0 and at most 60s, such as 5s",
        ("webhooks", "timeout"),
    ),
    Option(
        "CODEAI_WEBHOOK_MAX_ATTEMPTS",
        "webhooks",
        _int_in(1, 10),
        "3",
        "an integer from 1 to 10",
        ("webhooks", "max_attempts"),
    ),
    Option(
        "CODEAI_WEBHOOK_RETRY_BACKOFF",
        "webhooks",
        _duration_in(0, 30),
        "1s",
        "a duration above 0 and at most 30s, such as 1s",
        ("webhooks", "retry_backoff"),
    ),
    # off: targets that resolve to private, loopback or other non-public addresses are refused.
    Option(
        "CODEAI_WEBHOOK_ALLOW_PRIVATE",
        "webhooks",
        _parse_bool,
        "on",
        "on or off",
        ("webhooks", "allow_private"),
    ),
)

OPTIONS_BY_ENV = {option.env: option for option in OPTIONS}
SECRET_FILE_VARIABLES = tuple(f"{option.env}_FILE" for option in OPTIONS if option.secret)
GROUPS = tuple(dict.fromkeys(option.group for option in OPTIONS))


@dataclass
class Settings:
    """Parsed values keyed by variable name, plus where each came from."""

    values: dict[str, Any]
    sources: dict[str, str]

    def __getitem__(self, env: str) -> Any:
        return self.values[env]

    def explicitly_set(self, prefix: str) -> bool:
        """True when any variable with this prefix was given rather than defaulted."""
        return any(
            source != "default" and env.startswith(prefix) for env, source in self.sources.items()
        )

    def masked(self) -> dict[str, dict[str, Any]]:
        """Values grouped like the guide's tables, every secret that is set shown as ****."""
        grouped: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
        for option in OPTIONS:
            value = self.values[option.env]
            if option.secret and value:
                value = MASK
            elif isinstance(value, str) and "://" in value:
                value = mask_url_password(value)
            grouped[option.group][option.env] = value
        return grouped


def mask_url_password(url: str) -> str:
    """Hide the password of ``scheme://user:password@host`` URLs."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", rf"\1{MASK}@", url)


def _yaml_lookup(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = document
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _read_yaml(path: Path, problems: list[str]) -> Mapping[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: cannot be read as YAML ({exc.__class__.__name__})")
        return {}
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        problems.append(f"{path}: must be a YAML mapping like the guide's example")
        return {}
    return document


def load(
    environ: Mapping[str, str] | None = None,
    *,
    yaml_files: Iterable[Path] | None = None,
) -> Settings:
    """Read every option; raise ConfigError listing every malformed value."""
    environ = os.environ if environ is None else environ
    if yaml_files is None:
        yaml_files = (HOME_CONFIG.expanduser(), SYSTEM_CONFIG)
    problems: list[str] = []
    documents = [(path, _read_yaml(path, problems)) for path in yaml_files]

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        raw, source = _raw_value(option, environ, documents, problems)
        if raw is None:
            values[option.env], sources[option.env] = None, "default"
            continue
        try:
            values[option.env] = option.parse(raw)
        except ValueError:
            shown = MASK if option.secret else raw
            problems.append(
                f"{option.env}={shown!r} ({source}) is not valid: expected {option.accepted}"
            )
            values[option.env] = None
        sources[option.env] = source
    _generic_broker_url(environ, values, sources, problems)
    if problems:
        raise ConfigError(problems)
    return Settings(values, sources)


# Celery reads this variable itself, before any setting (celery.app.utils.Settings.broker_url).
GENERIC_BROKER_VARIABLE = "CELERY_BROKER_URL"


def _generic_broker_url(
    environ: Mapping[str, str],
    values: dict[str, Any],
    sources: dict[str, str],
    problems: list[str],
) -> None:
    """CODEAI_CELERY_BROKER_URL wins; a generic CELERY_BROKER_URL stands in when it is unset
    and stops start-up when it names another broker (Celery would silently use it)."""
    generic = environ.get(GENERIC_BROKER_VARIABLE, "").strip()
    if not generic:
        return
    own = values.get("CODEAI_CELERY_BROKER_URL")
    if own is None and sources.get("CODEAI_CELERY_BROKER_URL") == "default":
        values["CODEAI_CELERY_BROKER_URL"] = generic
        sources["CODEAI_CELERY_BROKER_URL"] = f"env:{GENERIC_BROKER_VARIABLE}"
    elif own is not None and own != generic:
        problems.append(
            f"{GENERIC_BROKER_VARIABLE} and CODEAI_CELERY_BROKER_URL "
            f"({sources['CODEAI_CELERY_BROKER_URL']}) name different brokers: set only "
            f"CODEAI_CELERY_BROKER_URL, or both to the same URL"
        )


MIN_JWT_SECRET_BYTES = 32


def start_problems(loaded: Settings) -> list[str]:
    """Rules for starting the server, beyond each value's own syntax: a production start
    (CODEAI_DEBUG off) needs an HS256 token secret of at least 32 bytes; a config at
    CODEAI_MAX_CONFIG_BYTES must fit in a request and within the DSL parser's bound."""
    problems = []
    secret = loaded["CODEAI_JWT_SECRET"]
    if secret and not loaded["CODEAI_DEBUG"] and len(secret.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
        problems.append(
            f"CODEAI_JWT_SECRET={MASK!r} is not valid: expected a secret of at least "
            f"{MIN_JWT_SECRET_BYTES} bytes (HS256) when CODEAI_DEBUG is off"
        )
    # Imported here: the parser pulls in lark, which the command line rarely needs.
    from codeai.dsl.parser import MAX_SOURCE_CHARS

    config_bytes = loaded["CODEAI_MAX_CONFIG_BYTES"]
    # A character is at least one byte: text within the byte limit is within the parser's.
    if config_bytes > MAX_SOURCE_CHARS:
        problems.append(
            f"CODEAI_MAX_CONFIG_BYTES={config_bytes!r} is not valid: expected at most "
            f"{MAX_SOURCE_CHARS} (the DSL parser's bound)"
        )
    if loaded["CODEAI_MAX_REQUEST_BYTES"] < config_bytes:
        problems.append(
            f"CODEAI_MAX_REQUEST_BYTES={loaded['CODEAI_MAX_REQUEST_BYTES']!r} is not valid: "
            f"expected at least CODEAI_MAX_CONFIG_BYTES ({config_bytes}), so a config at its "
            "limit fits in a request"
        )
    return problems


def _raw_value(
    option: Option,
    environ: Mapping[str, str],
    documents: list[tuple[Path, Mapping[str, Any]]],
    problems: list[str],
) -> tuple[str | None, str]:
    if option.env in environ:
        return environ[option.env], "env"
    file_variable = f"{option.env}_FILE"
    if option.secret and environ.get(file_variable):
        try:
            return Path(environ[file_variable]).read_text(encoding="utf-8").strip(), "file"
        except OSError as exc:
            problems.append(
                f"{file_variable}: cannot read {environ[file_variable]!r} ({exc.strerror})"
            )
            return None, "file"
    for path, document in documents:
        found = _yaml_lookup(document, option.yaml_path)
        if found is not None:
            return _yaml_text(found), f"yaml:{path}"
    return option.default, "default"


# --- Connection pools per instance ----------------------------------------------------------
# One instance is one ``codeai server start`` (gunicorn's master and all its worker processes)
# or one ``codeai worker start`` (Celery's main process and its whole pool). Its processes
# share CODEAI_DB_MAX_OPEN_CONNS and CODEAI_DB_MAX_IDLE_CONNS: each process is told its slot
# ("i/n": process i of n) in this variable by gunicorn's pre_fork hook or Celery's worker
# signals (codeai/gunicorn_conf.py, codeai/celery.py) and opens at most its share.
POOL_SLOT_VARIABLE = "CODEAI_POOL_SLOT"
# "server host:pid" or "worker host:pid" (the pid of gunicorn's master, Celery's main process),
# set by ``codeai server start`` / ``worker start``; PostgreSQL's application_name of every
# connection of the instance, so pg_stat_activity shows each instance's connections.
INSTANCE_VARIABLE = "CODEAI_INSTANCE"
# The guide's db.SetConnMaxIdleTime(1 * time.Minute): an idle connection is closed after this.
CONN_MAX_IDLE_TIME = 60.0
# PostgreSQL keeps the first 63 bytes of an application_name.
MAX_APPLICATION_NAME = 63


def process_share(total: int, slot: int, processes: int) -> int:
    """Process ``slot``'s part of an instance-wide ``total`` split over ``processes``: the
    parts differ by at most one and add up to ``total`` exactly."""
    base, extra = divmod(total, processes)
    return base + (1 if slot < extra else 0)


def pool_slot(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """This process's ``(slot, processes)`` within its instance; ``(0, 1)`` when no hook set
    one (a management command, a test, a bare ``celery`` or ``gunicorn``: an instance alone)."""
    environ = os.environ if environ is None else environ
    text = environ.get(POOL_SLOT_VARIABLE, "").strip()
    if not text:
        return 0, 1
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not int(match.group(1)) < int(match.group(2)):
        raise ConfigError([f"{POOL_SLOT_VARIABLE}={text!r} is not valid: expected i/n with i < n"])
    return int(match.group(1)), int(match.group(2))


def instance_processes_problem(loaded: Settings, processes: int, what: str) -> str | None:
    """Each process of an instance needs one connection at least: more processes than
    CODEAI_DB_MAX_OPEN_CONNS cannot all share it."""
    max_open = loaded["CODEAI_DB_MAX_OPEN_CONNS"]
    if processes <= max_open:
        return None
    return (
        f"CODEAI_DB_MAX_OPEN_CONNS={max_open} is too low for {processes} processes ({what}): "
        "every process of an instance needs at least one of its connections; raise it or "
        "run fewer processes"
    )


def application_name(environ: Mapping[str, str] | None = None) -> str:
    """PostgreSQL's application_name for this process's connections: ``codeai`` plus the
    instance (``codeai server web-1:4242``) when the ``codeai`` command started one."""
    environ = os.environ if environ is None else environ
    instance = environ.get(INSTANCE_VARIABLE, "").strip()
    name = f"codeai {instance}" if instance else "codeai"
    return name.encode("utf-8")[:MAX_APPLICATION_NAME].decode("utf-8", "ignore")


def build_info(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Version facts baked in at image build time (Dockerfile build args), else dev/unknown."""
    environ = os.environ if environ is None else environ
    return {
        "version": environ.get("CODEAI_VERSION") or "dev",
        "buildDate": environ.get("CODEAI_BUILD_DATE") or "unknown",
        "gitCommit": environ.get("CODEAI_GIT_COMMIT") or "unknown",
    }


def redis_database(url: str, default: int) -> int:
    """The database a ``redis://host:port/N`` URL names, else ``default`` (CODEAI_REDIS_DB)."""
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else default


def redis_url(url: str, *, db: int, password: str | None = None) -> str:
    """``url`` pointed at database ``db``, with ``password`` unless the URL carries one."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if password and "@" not in netloc:
        netloc = f":{quote(password, safe='')}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{db}"))
