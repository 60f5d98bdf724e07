"""``manage.py validate FILE``: report every diagnostic (syntax errors too), exit 1 if any."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from codeai.dsl import check


class Command(BaseCommand):
    help = "Validate a CodeAI DSL file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, file: str, **options) -> None:
        try:
            source = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error}") from error
        result = check(source, filename=file)
        if result.valid:
            self.stdout.write(f"File is valid: {file}")
            return
        for diagnostic in result.diagnostics:
            self.stdout.write(f"{file}:{diagnostic}")
        sys.exit(1)
