#!/usr/bin/env python
"""Django's command-line utility for CodeAI."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")
    from codeai.kernel.conf import ConfigError

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - loads the settings so bad values stop us here
    except ConfigError as exc:
        # One line per problem, naming the variable and what it accepts; no traceback.
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        sys.exit(1)

    from django.core.management import execute_from_command_line

    if sys.argv[1:2] == ["version"]:
        # Django answers "version" itself with its own version; ours reports CodeAI's build.
        sys.argv[1] = "codeai_version"
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
