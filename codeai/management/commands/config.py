"""``manage.py config validate`` and ``manage.py config show [--output json]``."""

from __future__ import annotations

import json
from typing import Any

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
        grouped = loaded.masked()
        if options["output"] == "json":
            self.stdout.write(json.dumps(grouped, indent=2, default=str))
            return
        for group, values in grouped.items():
            self.stdout.write(f"[{group}]")
            for env, value in values.items():
                shown = "(none)" if value is None else value
                if isinstance(shown, list):
                    shown = ",".join(shown)
                self.stdout.write(f"  {env} = {shown}  ({loaded.sources[env]})")
