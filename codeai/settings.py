"""Django settings for CodeAI, driven by the CODEAI_* variables of the deployment guide.

All parsing and validation lives in ``codeai.kernel.conf``; this module only maps the parsed
values onto Django, DRF, Celery and the libraries around them.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from csp import constants as csp_constants
from kombu import Queue

from codeai.kernel import conf
from codeai.kernel import logs as codeai_logging

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file in the working directory is honoured like real environment variables
# (real ones win), which is what operators of django-environ projects expect.
if (Path.cwd() / ".env").is_file():
    environ.Env.read_env(Path.cwd() / ".env", overwrite=False)

CODEAI = conf.load()

DATA_DIR = Path(CODEAI["CODEAI_DATA_DIR"]).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The configured key, else one generated once and kept (mode 600) in the data folder."""
    if CODEAI["CODEAI_SECRET_KEY"]:
        return CODEAI["CODEAI_SECRET_KEY"]
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = CODEAI["CODEAI_DEBUG"]
ALLOWED_HOSTS = list(CODEAI["CODEAI_ALLOWED_HOSTS"])
if CODEAI["CODEAI_HOST"] not in ("0.0.0.0", "::", *ALLOWED_HOSTS):
    ALLOWED_HOSTS.append(CODEAI["CODEAI_HOST"])

CODEAI_VERSION = conf.build_info()["version"]

INSTALLED_APPS = [
    "codeai.admin_config.CodeAIAdminConfig",  # Django's admin, entered by role members
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Its cache backends count gets, hits and misses (django_cache_*, below); HTTP and
    # database are measured once, by codeai.metrics (docs/ARCHITECTURE.md, "Metrics").
    "django_prometheus",
    "codeai",
    "configs",
    "deployments",
    "executions",
    "schedules",
    "duties",
    "webhooks",
]

MIDDLEWARE = [
    # First: request id, request log and metrics for everything below, and the health and
    # metrics endpoints answered before host validation and authentication (probes use pod IPs).
    "codeai.middleware.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: refuses a locked-out admin login with its own page.
    "axes.middleware.AxesMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "codeai.urls"
WSGI_APPLICATION = "codeai.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# No CODEAI_DB_* given: the embedded default, SQLite in the data folder. Any of them given
# (environment or YAML): PostgreSQL through psycopg 3 and its connection pool.
USE_POSTGRES = CODEAI.explicitly_set("CODEAI_DB_")
if USE_POSTGRES:
    DATABASES = {
        "default": {
            # Django's PostgreSQL backend, its pool sized for this process's share of the
            # instance's budget (codeai/db/); queries are measured by codeai.metrics.
            "ENGINE": "codeai.db.postgresql",
            "HOST": CODEAI["CODEAI_DB_HOST"],
            "PORT": CODEAI["CODEAI_DB_PORT"],
            "NAME": CODEAI["CODEAI_DB_NAME"],
            "USER": CODEAI["CODEAI_DB_USER"],
            "PASSWORD": CODEAI["CODEAI_DB_PASSWORD"] or "",
            "CONN_MAX_AGE": 0,
            # Always safe behind PgBouncer in transaction mode (the guide's): consecutive
            # transactions may land on different server connections, so no cursor may outlive
            # its transaction (Django's .iterator() and form choices would DECLARE ... WITH
            # HOLD) and no statement may be prepared on one connection and run on another.
            # The app iterates nothing large, and Django binds client-side (nothing is
            # prepared today: the None pins it), so direct PostgreSQL loses nothing.
            "DISABLE_SERVER_SIDE_CURSORS": True,
            "OPTIONS": {
                "sslmode": CODEAI["CODEAI_DB_SSLMODE"],
                "connect_timeout": 3,
                "prepare_threshold": None,
                # "codeai server host:pid" for every connection of one instance.
                "application_name": conf.application_name(),
                # The instance's figures: each process opens its share (codeai.db.pool).
                "pool": {
                    "max_open_conns": CODEAI["CODEAI_DB_MAX_OPEN_CONNS"],
                    "max_idle_conns": CODEAI["CODEAI_DB_MAX_IDLE_CONNS"],
                    "max_lifetime": CODEAI["CODEAI_DB_CONN_MAX_LIFETIME"],
                    "max_idle": conf.CONN_MAX_IDLE_TIME,
                    # How long a query waits for a new connection before the request fails
                    # with 503 (PostgreSQL slow or away: answer soon) ...
                    "timeout": 3.0,
                    # ... and for one of its process's busy connections when the whole share
                    # is open and in use: the time the guide gives a response.
                    "busy_timeout": CODEAI["CODEAI_WRITE_TIMEOUT"],
                },
            },
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": CODEAI["CODEAI_SQLITE_PATH"] or DATA_DIR / "codeai.sqlite3",
            # Web and worker processes share the file: WAL lets readers run beside the one
            # writer, and IMMEDIATE transactions queue writers instead of failing them.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory, so a real worker process can open the test database too.
            "TEST": {"NAME": DATA_DIR / "test-codeai.sqlite3"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
CACHE_TIMEOUT = CODEAI["CODEAI_CACHE_DEFAULT_TTL"]
# CODEAI_REDIS_URL's own /N wins over CODEAI_REDIS_DB.
REDIS_CACHE_DB = conf.redis_database(CODEAI["CODEAI_REDIS_URL"] or "", CODEAI["CODEAI_REDIS_DB"])
if CODEAI["CODEAI_CACHE_TYPE"] == "redis":
    if CODEAI["CODEAI_REDIS_CLUSTER_MODE"]:
        if not CODEAI["CODEAI_REDIS_CLUSTER_ADDRS"]:
            raise conf.ConfigError(
                ["CODEAI_REDIS_CLUSTER_MODE=true needs CODEAI_REDIS_CLUSTER_ADDRS"]
            )
        if not CODEAI["CODEAI_CELERY_BROKER_URL"]:
            # Celery's Redis transport speaks to one server, not to a cluster.
            raise conf.ConfigError(
                [
                    "CODEAI_REDIS_CLUSTER_MODE=true needs CODEAI_CELERY_BROKER_URL"
                    " (one Redis or RabbitMQ)"
                ]
            )
    elif not CODEAI["CODEAI_REDIS_URL"]:
        raise conf.ConfigError(
            [
                "CODEAI_REDIS_URL is required when CODEAI_CACHE_TYPE=redis (e.g. redis://localhost:6379)"
            ]
        )
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            # django-redis takes the database from the URL only.
            "LOCATION": conf.redis_url(
                CODEAI["CODEAI_REDIS_URL"] or "redis://cluster", db=REDIS_CACHE_DB
            ),
            "KEY_PREFIX": CODEAI["CODEAI_CACHE_PREFIX"],
            "TIMEOUT": CACHE_TIMEOUT,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "PASSWORD": CODEAI["CODEAI_REDIS_PASSWORD"],
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                "CONNECTION_POOL_KWARGS": {"max_connections": CODEAI["CODEAI_REDIS_POOL_SIZE"]},
            },
        }
    }
    if CODEAI["CODEAI_REDIS_CLUSTER_MODE"]:
        # A cluster has database 0 only: CODEAI_REDIS_DB does not apply.
        CACHES["default"]["OPTIONS"] |= {
            "CLIENT_CLASS": "codeai.kernel.cache.RedisClusterClient",
            "CONNECTION_FACTORY": "codeai.kernel.cache.RedisClusterConnectionFactory",
            "CLUSTER_NODES": conf.cluster_nodes(CODEAI["CODEAI_REDIS_CLUSTER_ADDRS"]),
        }
else:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache",
            "LOCATION": "codeai",
            "KEY_PREFIX": CODEAI["CODEAI_CACHE_PREFIX"],
            "TIMEOUT": CACHE_TIMEOUT,
        }
    }
# Throttle counts, admin login failures and the JWKS keys must be one store for every process
# of the server, never process memory: the Redis of the cache when configured; else with
# PostgreSQL a table of it (created by a migration), which every host reaches; else (SQLite:
# one host) files in the data folder, which every embedded process shares, so requests add
# no writes queued behind SQLite's single writer.
SHARED_CACHE = "shared"
SHARED_CACHE_TABLE = "codeai_shared_cache"
if CODEAI["CODEAI_CACHE_TYPE"] == "redis":
    CACHES[SHARED_CACHE] = CACHES["default"]
elif USE_POSTGRES:
    CACHES[SHARED_CACHE] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": SHARED_CACHE_TABLE,
        "KEY_PREFIX": CODEAI["CODEAI_CACHE_PREFIX"],
        "TIMEOUT": CACHE_TIMEOUT,
        "OPTIONS": {"MAX_ENTRIES": 10000},
    }
else:
    CACHES[SHARED_CACHE] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": DATA_DIR / "shared-cache",
        "KEY_PREFIX": CODEAI["CODEAI_CACHE_PREFIX"],
        "TIMEOUT": CACHE_TIMEOUT,
        "OPTIONS": {"MAX_ENTRIES": 10000},
    }
    # django-axes warns that a file cache's add/incr are not atomic across processes: two
    # failures of one username in the same instant may count once. The database cache's
    # incr is no more atomic (a read, then a write), and counting stays per server.
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]

# --- Passwords, i18n, static files ----------------------------------------------------
# Axes first: it refuses a locked-out username or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = (
    [BASE_DIR / "codeai" / "static"] if (BASE_DIR / "codeai" / "static").is_dir() else []
)
# Hashed, compressed files once collectstatic ran (images, run script); else straight from the
# finders, so tests and a bare checkout render pages without a collect step.
# collectstatic itself (manage.py collectstatic, codeai manage collectstatic) must use the
# manifest storage too, or it never writes the manifest that switches it on.
STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists() or "collectstatic" in sys.argv[1:3]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_COLLECTED and not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
WHITENOISE_MANIFEST_STRICT = False

# --- Security: production-grade unless debugging ---------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
# TLS usually ends at a proxy or ingress: trust its X-Forwarded-Proto, and keep the probes
# and scrapes, which come over plain HTTP from inside the cluster, out of the redirect.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = CODEAI["CODEAI_SECURE_SSL_REDIRECT"]
# Secure cookies where the site is served over HTTPS (redirected there, or said so): over
# plain HTTP a browser keeps no Secure cookie, and the admin login fails CSRF verification.
SECURE_COOKIES = (
    SECURE_SSL_REDIRECT
    if CODEAI["CODEAI_SECURE_COOKIES"] is None
    else CODEAI["CODEAI_SECURE_COOKIES"]
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_REDIRECT_EXEMPT = [r"^health", r"^ready", r"^live", r"^" + CODEAI["CODEAI_METRICS_PATH"][1:]]
SECURE_HSTS_SECONDS = CODEAI["CODEAI_SECURE_HSTS_SECONDS"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# The allowed hosts, as origins: each scheme, with and without the port served (a
# ".example.com" host allows its subdomains too).
CSRF_TRUSTED_ORIGINS = [
    f"{scheme}://{name}{port}"
    for host in ALLOWED_HOSTS
    if host != "*"
    for name in ((host[1:], f"*{host}") if host.startswith(".") else (host,))
    for scheme in ("http", "https")
    for port in ("", f":{CODEAI['CODEAI_PORT']}")
]
# Bodies over CODEAI_MAX_REQUEST_BYTES are refused (413) by codeai.middleware before anything
# reads them; Django's own bound for form bodies (the admin) is the same number.
MAX_REQUEST_BYTES = CODEAI["CODEAI_MAX_REQUEST_BYTES"]
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# Config text over this many bytes (UTF-8) is refused (413) by configs.services.
MAX_CONFIG_BYTES = CODEAI["CODEAI_MAX_CONFIG_BYTES"]

# --- Client address, admin login limit, Content-Security-Policy ------------------------
# The socket peer, or behind these proxies the right-most X-Forwarded-For hop that is not one
# of them (codeai.kernel.client_address): for every throttle and for the admin login limit.
TRUSTED_PROXIES = CODEAI["CODEAI_TRUSTED_PROXIES"] or []

# django-axes: 5 failed admin logins for one username, or from one address, lock that username
# or address out for 15 minutes (each further failure restarts the 15 minutes); counted in the
# shared cache beside the throttles. `manage.py axes_reset_username NAME` (or `axes_reset_ip`)
# unlocks at once. Wrong passwords on the token endpoint count too; that endpoint itself is
# limited by its throttle (CODEAI_RATE_LIMIT_AUTH).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = SHARED_CACHE
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "codeai.kernel.client_address.client_address"
AXES_ONLY_ADMIN_SITE = True
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# The cache handler keeps no rows: axes' own admin pages would always be empty.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# django-csp 4 (the DIRECTIVES dict; 3.x's CSP_* settings are gone): scripts only from this
# origin, so no injected markup can run code. Inline styles stay allowed: the admin's bars
# and Swagger UI set style attributes, and styles cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF, csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}

# --- CORS (django-cors-headers) ---------------------------------------------------------
CORS_ALLOWED_ORIGINS = [o for o in CODEAI["CODEAI_CORS_ALLOWED_ORIGINS"] or [] if o != "*"]
CORS_ALLOW_ALL_ORIGINS = "*" in (CODEAI["CODEAI_CORS_ALLOWED_ORIGINS"] or [])
CORS_ALLOW_METHODS = [m.upper() for m in CODEAI["CODEAI_CORS_ALLOWED_METHODS"]]
CORS_ALLOW_HEADERS = [h.lower() for h in CODEAI["CODEAI_CORS_ALLOWED_HEADERS"]]
CORS_PREFLIGHT_MAX_AGE = CODEAI["CODEAI_CORS_MAX_AGE"]
CORS_URLS_REGEX = r"^/api/.*$"

# --- REST framework and JWT ------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "codeai.kernel.api.authentication.BearerAuthentication",
        # The browsable API, for a browser logged in through the admin.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["codeai.kernel.api.permissions.IsViewer"],
    "DEFAULT_RENDERER_CLASSES": [
        "codeai.kernel.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["codeai.kernel.api.parsers.JSONBodyParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "codeai.kernel.api.negotiation.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "codeai.kernel.api.pagination.ListPagination",
    "EXCEPTION_HANDLER": "codeai.kernel.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "codeai.kernel.api.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # Counted in the cache, so every web process shares the same budget.
    "DEFAULT_THROTTLE_CLASSES": [
        "codeai.kernel.api.throttles.AnonThrottle",
        "codeai.kernel.api.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": CODEAI["CODEAI_RATE_LIMIT_ANON"],
        "user": CODEAI["CODEAI_RATE_LIMIT_USER"],
        "auth": CODEAI["CODEAI_RATE_LIMIT_AUTH"],
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Local tokens: RS256 when a key pair is configured, else HS256 with CODEAI_JWT_SECRET or,
# when that is unset, the (long) SECRET_KEY. Outside identity providers' tokens are checked
# with CODEAI_JWT_PUBLIC_KEY or CODEAI_JWT_JWKS_URL (codeai.kernel.api.authentication).
JWT_HMAC_KEY = CODEAI["CODEAI_JWT_SECRET"] or SECRET_KEY
JWT_PUBLIC_KEY = CODEAI["CODEAI_JWT_PUBLIC_KEY"]
JWT_JWKS_URL = CODEAI["CODEAI_JWT_JWKS_URL"]
JWT_ROLES_CLAIM = CODEAI["CODEAI_JWT_ROLES_CLAIM"]
_JWT_PROBLEMS = conf.start_problems(CODEAI)
if CODEAI["CODEAI_JWT_PRIVATE_KEY"] and not JWT_PUBLIC_KEY:
    _JWT_PROBLEMS.append(
        "CODEAI_JWT_PRIVATE_KEY needs CODEAI_JWT_PUBLIC_KEY (the matching public key)"
    )
if _JWT_PROBLEMS:
    raise conf.ConfigError(_JWT_PROBLEMS)
_JWT_SIGNING = (
    {"ALGORITHM": "RS256", "SIGNING_KEY": CODEAI["CODEAI_JWT_PRIVATE_KEY"]}
    if CODEAI["CODEAI_JWT_PRIVATE_KEY"]
    else {"ALGORITHM": "HS256", "SIGNING_KEY": JWT_HMAC_KEY}
)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=CODEAI["CODEAI_JWT_ACCESS_TTL"]),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=CODEAI["CODEAI_JWT_REFRESH_TTL"]),
    **_JWT_SIGNING,
    "VERIFYING_KEY": JWT_PUBLIC_KEY if CODEAI["CODEAI_JWT_PRIVATE_KEY"] else None,
    "ISSUER": CODEAI["CODEAI_JWT_ISSUER"],
    "AUDIENCE": CODEAI["CODEAI_JWT_AUDIENCE"],
    "LEEWAY": CODEAI["CODEAI_JWT_LEEWAY"],
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    # Each refresh hands out a new refresh token and blacklists the one used.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CodeAI API",
    "DESCRIPTION": (
        "Store CodeAI DSL configs, deploy them and run executions. Authenticate with "
        "`Authorization: Bearer <access token>` from `POST /api/auth/token/`."
    ),
    "VERSION": CODEAI_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/(v1/)?",
    "ENUM_NAME_OVERRIDES": {
        "DeploymentStatus": "deployments.models.DeploymentStatus",
        "ExecutionStatus": "executions.models.ExecutionStatus",
        "ExecutionTrigger": "executions.models.ExecutionTrigger",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
}

# --- Celery and executions ------------------------------------------------------------
EXEC_ENABLED = CODEAI["CODEAI_EXEC_ENABLED"]
EXEC_TIMEOUT = CODEAI["CODEAI_EXEC_TIMEOUT"]
EXEC_IDLE_TIMEOUT = CODEAI["CODEAI_EXEC_IDLE_TIMEOUT"]
EXEC_MAX_OUTPUT_BYTES = CODEAI["CODEAI_EXEC_MAX_OUTPUT_BYTES"]
EXEC_HEARTBEAT_GRACE = CODEAI["CODEAI_EXEC_HEARTBEAT_GRACE"]
# How long a queued execution waits for a worker, once none ahead of it is active, before
# its task counts as lost: published again, then failed after as long again.
EXEC_QUEUE_GRACE = CODEAI["CODEAI_EXEC_QUEUE_GRACE"]
# How often the sweep looks for executions whose worker stopped heartbeating.
EXEC_SWEEP_INTERVAL = min(max(EXEC_HEARTBEAT_GRACE / 4, 1.0), 15.0)
EXEC_SANDBOX = CODEAI["CODEAI_EXEC_SANDBOX"]
EXEC_NETWORK = CODEAI["CODEAI_EXEC_NETWORK"]
# What holds the server's secrets, hidden inside the sandbox: the data folder (database,
# generated key), the database file, every *_FILE secret, the YAML files, the .env of
# `make run`, the folder of the systemd unit's environment file and the worker's HOME.
EXEC_HIDDEN_PATHS = tuple(
    dict.fromkeys(
        str(path)
        for path in (
            DATA_DIR,
            CODEAI["CODEAI_SQLITE_PATH"],
            *(os.environ.get(name) for name in conf.SECRET_FILE_VARIABLES),
            conf.HOME_CONFIG.expanduser(),
            conf.SYSTEM_CONFIG.parent,
            Path.cwd() / ".env",
            BASE_DIR / ".env",
            os.path.expanduser("~"),
        )
        if path
    )
)

# A broker URL, else the Redis of the cache, else kombu's filesystem transport under the
# data folder: a real worker process with no broker server, for the embedded default.
BROKER_FOLDER = DATA_DIR / "broker"
if CODEAI["CODEAI_CELERY_BROKER_URL"]:
    CELERY_BROKER_URL = CODEAI["CODEAI_CELERY_BROKER_URL"]
elif CODEAI["CODEAI_REDIS_URL"]:
    # The next database after the cache's: clearing the cache must never drop queued tasks.
    CELERY_BROKER_URL = conf.redis_url(
        CODEAI["CODEAI_REDIS_URL"], db=REDIS_CACHE_DB + 1, password=CODEAI["CODEAI_REDIS_PASSWORD"]
    )
else:
    CELERY_BROKER_URL = "filesystem://"
    for _folder in ("out", "processed", "control"):
        (BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_FOLDER / "out"),
        "data_folder_out": str(BROKER_FOLDER / "out"),
        "processed_folder": str(BROKER_FOLDER / "processed"),
        "control_folder": str(BROKER_FOLDER / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis hands an unacknowledged task to another worker after this long: it must
        # outlast the longest run (the claim makes a second delivery harmless anyway).
        "visibility_timeout": max(3600, int(EXEC_TIMEOUT) * 2 + 600),
        "socket_connect_timeout": 2,
    }
# Acknowledge after the run, one task at a time per process, no result backend: the
# Execution row is the result. Executions have their own queue; a worker started without
# -Q consumes every queue listed here.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (
    Queue("executions", routing_key="executions"),
    Queue("celery", routing_key="celery"),
)
CELERY_TASK_ROUTES = {"executions.run": {"queue": "executions"}}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens inside the request: give up fast, so a broker that is down turns into
# a quick 503 instead of a hanging request.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Periodic duties run inside every worker (duties.runner), claimed through the database;
# a beat, if one runs, only adds a caller of the same claims.
CELERY_BEAT_SCHEDULE = {
    "periodic-duties": {"task": "duties.run_due", "schedule": EXEC_SWEEP_INTERVAL},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- Webhooks -------------------------------------------------------------------------
# Each attempt's connect and read timeout; attempts per delivery (connection errors,
# timeouts and 5xx are retried after RETRY_BACKOFF, doubling each time); whether targets
# may resolve to private and loopback addresses.
WEBHOOK_TIMEOUT = CODEAI["CODEAI_WEBHOOK_TIMEOUT"]
WEBHOOK_MAX_ATTEMPTS = CODEAI["CODEAI_WEBHOOK_MAX_ATTEMPTS"]
WEBHOOK_RETRY_BACKOFF = CODEAI["CODEAI_WEBHOOK_RETRY_BACKOFF"]
WEBHOOK_ALLOW_PRIVATE = CODEAI["CODEAI_WEBHOOK_ALLOW_PRIVATE"]

# --- Metrics --------------------------------------------------------------------------
METRICS_ENABLED = CODEAI["CODEAI_METRICS_ENABLED"]
METRICS_NAMESPACE = CODEAI["CODEAI_METRICS_NAMESPACE"]
METRICS_PATH = CODEAI["CODEAI_METRICS_PATH"]
METRICS_PROCESS = CODEAI["CODEAI_METRICS_PROCESS"]
METRICS_RUNTIME = CODEAI["CODEAI_METRICS_RUNTIME"]

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = codeai_logging.python_level(CODEAI["CODEAI_LOG_LEVEL"])
LOGGING = codeai_logging.logging_config(CODEAI["CODEAI_LOG_FORMAT"], LOG_LEVEL)
# Python warnings (a library's UserWarning) go through the same handler, so in JSON mode
# every line on stderr is still one JSON object.
logging.captureWarnings(True)
