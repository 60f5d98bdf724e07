"""``manage.py parse FILE [--output json]``: print the syntax tree of a .cai file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from codeai.dsl.commands import OUTPUTS, CommandFailed, parse_file


class Command(BaseCommand):
    help = "Parse a CodeAI DSL file and print its syntax tree."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--output", choices=OUTPUTS, default="text")

    def handle(self, *args, file: str, output: str, **options) -> None:
        try:
            self.stdout.write(parse_file(file, output))
        except CommandFailed as failure:
            raise CommandError(str(failure)) from failure
