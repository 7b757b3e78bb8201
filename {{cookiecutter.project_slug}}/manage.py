#!/usr/bin/env python
"""Django's command-line utility.

Settings: DJANGO_SETTINGS_MODULE, else the one `.env` names (a developer's machine),
else production (config/boot.py).
"""

import sys

from config.boot import use_default_settings


def main() -> None:
    use_default_settings()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
