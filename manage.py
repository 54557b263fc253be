#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    from django.core.management import execute_from_command_line

    from playground import embedded

    # With no DATABASE_URL / REDIS_URL, every command works on the embedded servers: start
    # them if they are not running (`up` does this itself, so that it can stop them again).
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in ("up", "services", "help", "--help", "-h", ""):
        embedded.ensure_for_environment()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
