"""The ``codeai`` command: the deployment guide's verbs on top of Django, gunicorn and Celery.

``server start`` and ``worker start|beat`` validate the configuration, then *exec* gunicorn or
Celery so that the process systemd, Docker or Kubernetes signals is the server itself: SIGTERM
stops it gracefully, HUP makes gunicorn re-read its settings and restart its workers.
Flags (``--host``, ``--port``, ``--db-*``) are applied as CODEAI_* environment variables
before Django loads, so they take precedence over the environment and the YAML files.
Every other verb runs a Django management command in this process.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from codeai.kernel.cpus import cpu_count

GUNICORN_CONFIG = Path(__file__).with_name("gunicorn_conf.py")
WORKER_QUEUES = "executions,celery"
BEAT_SCHEDULE_FILE = "celerybeat-schedule"

# The guide's connection flags and the variables they override.
DB_FLAGS: tuple[tuple[str, str], ...] = (
    ("--db-host", "CODEAI_DB_HOST"),
    ("--db-port", "CODEAI_DB_PORT"),
    ("--db-name", "CODEAI_DB_NAME"),
    ("--db-user", "CODEAI_DB_USER"),
    ("--db-password", "CODEAI_DB_PASSWORD"),
    ("--db-sslmode", "CODEAI_DB_SSLMODE"),
)
SERVER_FLAGS: tuple[tuple[str, str], ...] = (
    ("--host", "CODEAI_HOST"),
    ("--port", "CODEAI_PORT"),
)

# Verbs whose arguments go unparsed to a Django management command (None: the first argument
# names the command, as in ``codeai manage createsuperuser``).
PASSTHROUGH: dict[str, str | None] = {"manage": None}
# Verbs that need only the DSL: they run without loading Django, so they start fast.
DSL_VERBS = ("parse", "validate")


def setup_django() -> None:
    """Load the settings; a malformed value ends the process with one line per problem."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")
    # prometheus_client keeps per-process files there; a fresh tmpfs does not have it yet.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    from codeai.kernel.conf import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        sys.exit(1)


def run_management_command(name: str, *arguments: str) -> None:
    """Run a Django management command as ``manage.py`` would, with its exit status."""
    setup_django()
    from django.core.management import execute_from_command_line

    # Django names its program after argv[0] in messages: "Type 'codeai manage help'".
    execute_from_command_line(["codeai manage", name, *arguments])


def exec_program(argv: list[str]) -> None:
    """Replace this process with ``argv`` so signals reach the server directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def data_dir() -> Path:
    from django.conf import settings

    return settings.DATA_DIR


def celery_log_level() -> str:
    from django.conf import settings

    return settings.LOG_LEVEL


def name_instance(kind: str) -> None:
    """Name the instance this process becomes (the exec keeps the pid): PostgreSQL shows
    ``codeai server host:pid`` as the application_name of each of its connections."""
    from codeai.kernel import conf

    os.environ.setdefault(conf.INSTANCE_VARIABLE, f"{kind} {socket.gethostname()}:{os.getpid()}")


def refuse(problem: str) -> None:
    print(f"configuration error: {problem}", file=sys.stderr)
    sys.exit(1)


# --- handlers --------------------------------------------------------------------------------


def generated_secret_key_warning() -> str | None:
    """On PostgreSQL (usually several instances, often in containers) a SECRET_KEY generated
    into the data folder differs per instance and dies with it: sessions and tokens break."""
    from django.conf import settings

    if settings.CODEAI["CODEAI_SECRET_KEY"] or not settings.USE_POSTGRES:
        return None
    return (
        f"CODEAI_SECRET_KEY is not set; using the key generated in {settings.DATA_DIR}."
        " Set CODEAI_SECRET_KEY or CODEAI_SECRET_KEY_FILE so every instance shares one key."
    )


def server_start(args: argparse.Namespace) -> None:
    name_instance("server")
    setup_django()
    warning = generated_secret_key_warning()
    if warning:
        # Through the configured logging: JSON in JSON mode, hidden at CODEAI_LOG_LEVEL=error.
        logging.getLogger("codeai.cli").warning("%s", warning)
    exec_program([sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG)])


def server_migrate(args: argparse.Namespace) -> None:
    if not args.dry_run:
        run_management_command("migrate", "--noinput")
        return
    setup_django()
    from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
    from django.db.migrations.executor import MigrationExecutor

    # Reading the graph and the applied-migrations table writes nothing.
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        print(f"cannot read the database: {exc}".strip(), file=sys.stderr)
        sys.exit(1)
    if not plan:
        print("No pending migrations.")
        return
    print(f"{len(plan)} pending migration(s):")
    for migration, _backwards in plan:
        print(f"  {migration.app_label}.{migration.name}")


def worker_concurrency(requested: int | None) -> int:
    """Pool processes: as asked, else one per CPU (Celery's own default, os.cpu_count(),
    ignores a container's CPU limit), leaving one of CODEAI_DB_MAX_OPEN_CONNS to the main
    process; more processes than connections stop the start."""
    from django.conf import settings

    from codeai.kernel import conf

    max_open = settings.CODEAI["CODEAI_DB_MAX_OPEN_CONNS"]
    concurrency = requested or max(1, min(cpu_count(), max_open - 1))
    problem = conf.instance_processes_problem(
        settings.CODEAI, concurrency + 1, f"{concurrency} pool processes and the main one"
    )
    if problem:
        refuse(problem)
    return concurrency


def worker_start(args: argparse.Namespace) -> None:
    name_instance("worker")
    from codeai import worker_metrics

    # The pool's processes keep their metrics in files of this worker's own folder (made
    # before Django loads prometheus_client, which picks its folder at import).
    worker_metrics.make_folder()
    setup_django()
    argv = [sys.executable, "-m", "celery", "--app", "codeai", "worker"]
    argv += ["--queues", WORKER_QUEUES, "--loglevel", celery_log_level()]
    argv += ["--concurrency", str(worker_concurrency(args.concurrency))]
    if args.beat:
        argv += ["--beat", "--schedule-filename", str(data_dir() / BEAT_SCHEDULE_FILE)]
    exec_program(argv)


def worker_beat(args: argparse.Namespace) -> None:
    name_instance("beat")
    setup_django()
    argv = [sys.executable, "-m", "celery", "--app", "codeai", "beat"]
    argv += ["--schedule", str(data_dir() / BEAT_SCHEDULE_FILE), "--loglevel", celery_log_level()]
    exec_program(argv)


def config_command(args: argparse.Namespace) -> None:
    extra = ["--output", args.output] if args.action == "show" else []
    run_management_command("config", args.action, *extra)


def version_command(args: argparse.Namespace) -> None:
    # manage.py's "version" is Django's own; CodeAI's build facts live in codeai_version.
    run_management_command("codeai_version", "--output", args.output)


# --- parser ----------------------------------------------------------------------------------


def _flag_parent(flags: Sequence[tuple[str, str]], title: str) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(title)
    for flag, env in flags:
        group.add_argument(flag, dest=env, metavar=flag[2:].split("-")[-1].upper(), help=env)
    return parent


def _add(
    actions: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], None],
    help_text: str,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text, description=help_text, parents=parents)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; tests parse the deploy files' commands with it too."""
    database = _flag_parent(DB_FLAGS, "database (overrides CODEAI_DB_*)")
    server_flags = _flag_parent(SERVER_FLAGS, "listen address (overrides CODEAI_HOST/PORT)")

    parser = argparse.ArgumentParser(
        prog="codeai", description="Run and manage CodeAI (see the README's Deployment section)."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    server = verbs.add_parser("server", help="the web server and the database schema")
    server_actions = server.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(
        server_actions,
        "start",
        server_start,
        "Serve HTTP with gunicorn (workers from the CPU count; SIGTERM stops, HUP reloads).",
        [server_flags, database],
    )
    migrate = _add(
        server_actions, "migrate", server_migrate, "Apply pending migrations.", [database]
    )
    migrate.add_argument(
        "--dry-run", action="store_true", help="list pending migrations without applying them"
    )

    worker = verbs.add_parser("worker", help="the Celery worker that runs executions")
    worker_actions = worker.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = _add(
        worker_actions,
        "start",
        worker_start,
        f"Consume the {WORKER_QUEUES} queues (SIGTERM: finish running tasks, then stop).",
        [database],
    )
    start.add_argument(
        "--beat", action="store_true", help="also run beat (optional: duties run in every worker)"
    )
    start.add_argument(
        "--concurrency", type=int, help="worker processes (default: CPUs, capped by a cgroup quota)"
    )
    _add(
        worker_actions,
        "beat",
        worker_beat,
        "Run only Celery beat (optional: the periodic duties run in every worker).",
        [database],
    )

    config = verbs.add_parser("config", help="check or print the effective configuration")
    config_actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(
        config_actions,
        "validate",
        config_command,
        "Exit 1 listing each malformed value.",
        [database],
    )
    show = _add(
        config_actions,
        "show",
        config_command,
        "Print the settings, secrets as ****.",
        [database],
    )
    show.add_argument("--output", choices=["text", "json"], default="text")

    version = _add(verbs, "version", version_command, "Print the version, build date and commit.")
    version.add_argument("--output", choices=["text", "json"], default="text")

    for name, help_text in (
        ("parse", "Parse a DSL file and print its syntax tree."),
        ("validate", "Validate a DSL file and list its problems."),
        ("manage", "Run any Django management command (e.g. createsuperuser)."),
    ):
        passthrough = verbs.add_parser(name, help=help_text, description=help_text)
        passthrough.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DSL_VERBS:
        from codeai.dsl import commands

        sys.exit(commands.main(argv[0], argv[1:]))
    if argv and argv[0] in PASSTHROUGH:
        # Options belong to the management command, so argparse must not see them.
        command = PASSTHROUGH[argv[0]]
        rest = argv[1:]
        if command is None:
            command, rest = (rest[0], rest[1:]) if rest else ("help", [])
        run_management_command(command, *rest)
        return
    args = build_parser().parse_args(argv)
    for _flag, env in (*SERVER_FLAGS, *DB_FLAGS):
        value = getattr(args, env, None)
        if value is not None:
            os.environ[env] = value
    args.handler(args)


if __name__ == "__main__":
    main()
