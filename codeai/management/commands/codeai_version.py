"""``manage.py version [--output json]`` (manage.py routes "version" here): the build facts."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from codeai.kernel.conf import build_info


class Command(BaseCommand):
    help = "Print the CodeAI version, build date and git commit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        info = build_info()
        if options["output"] == "json":
            self.stdout.write(json.dumps(info))
        else:
            self.stdout.write(
                f"codeai {info['version']} (built {info['buildDate']}, commit {info['gitCommit']})"
            )
