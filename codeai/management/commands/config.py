"""``manage.py config validate`` and ``manage.py config show [--output json]``."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from codeai.kernel import conf


class Command(BaseCommand):
    help = "Validate or show the effective CodeAI configuration (secrets masked)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("validate", help="Check every CODEAI_* value; exit 1 listing problems.")
        show = sub.add_parser("show", help="Print the effective settings, secrets as ****.")
        show.add_argument("--output", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        # Settings already loaded (manage.py stops earlier on malformed values); loading again
        # here reports the same facts for the current environment and files.
        try:
            loaded = conf.load()
        except conf.ConfigError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError("configuration is invalid", returncode=1) from None
        if options["action"] == "validate":
            self.stdout.write("configuration is valid")
            return
        grouped: dict[str, dict[str, Any]] = loaded.masked()
        in_use = database_in_use()
        if options["output"] == "json":
            grouped["database"] = {"in_use": in_use, **grouped["database"]}
            self.stdout.write(json.dumps(grouped, indent=2, default=str))
            return
        for group, values in grouped.items():
            self.stdout.write(f"[{group}]")
            if group == "database":
                self.stdout.write(f"  in use: {describe(in_use)}")
            for env, value in values.items():
                shown = "(none)" if value is None else value
                if isinstance(shown, list):
                    shown = ",".join(shown)
                self.stdout.write(f"  {env} = {shown}  ({loaded.sources[env]})")


def database_in_use() -> dict[str, Any]:
    """The database this process really uses (the settings decided it), not the variables'
    defaults: SQLite on the embedded default, PostgreSQL once any CODEAI_DB_* is set."""
    db = settings.DATABASES["default"]
    if not settings.USE_POSTGRES:
        return {"engine": "sqlite", "path": str(db["NAME"])}
    return {"engine": "postgresql", "host": db["HOST"], "port": db["PORT"], "name": db["NAME"]}


def describe(in_use: dict[str, Any]) -> str:
    if in_use["engine"] == "sqlite":
        return (
            f"SQLite {in_use['path']} (the embedded default: no CODEAI_DB_* is set, so the "
            "CODEAI_DB_* values below are not used)"
        )
    return f"PostgreSQL {in_use['host']}:{in_use['port']}/{in_use['name']}"
