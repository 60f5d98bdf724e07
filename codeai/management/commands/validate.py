"""``manage.py validate FILE``: report every diagnostic (syntax errors too), exit 1 if any."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from codeai.dsl.commands import CommandFailed, validate_file


class Command(BaseCommand):
    help = "Validate a CodeAI DSL file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, file: str, **options) -> None:
        try:
            problems = validate_file(file)
        except CommandFailed as failure:
            raise CommandError(str(failure)) from failure
        if not problems:
            self.stdout.write(f"File is valid: {file}")
            return
        for problem in problems:
            self.stdout.write(problem)
        sys.exit(1)
