#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# These run without settings (Django lists its own commands and notes the settings' error).
RUN_WITHOUT_SETTINGS = {"help", "--help", "-h", "version", "--version"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line
    from django.core.management.base import CommandParser, handle_default_options

    from ironclad.startup import one_line_errors

    # A configuration mistake (a missing SECRET_KEY with DEBUG off, a bad rate, ...) or a database
    # that cannot be opened is one line naming what to change; --traceback shows the traceback.
    with one_line_errors(show_traceback="--traceback" in sys.argv):
        if len(sys.argv) > 1 and sys.argv[1] not in RUN_WITHOUT_SETTINGS:
            # Read the settings now, so that a mistake in them stops every command alike (`shell`
            # would start without them); first, as Django would, take --settings and --pythonpath.
            parser = CommandParser(add_help=False, allow_abbrev=False)
            parser.add_argument("--settings")
            parser.add_argument("--pythonpath")
            handle_default_options(parser.parse_known_args(sys.argv[2:])[0])
            settings.INSTALLED_APPS  # noqa: B018
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
