"""Replay pinned scenario files against the current code (agents/history/scenarios.py)."""

import json

from django.core.management.base import BaseCommand, CommandError

from agents.errors import ScenarioInvalid
from agents.history.scenarios import scenario_check, scenario_replay

FAILED, UNREADABLE = 1, 2  # exit statuses


class Command(BaseCommand):
    help = ("Run each scenario file's turn on a scratch agent against the scripted model server, which answers as "
            "the model did when the turn was pinned, and report PASS or FAIL with every difference. Exit status 1 "
            "when a scenario failed, 2 when a file could not be read as a scenario.")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="a scenario file (pin_scenario, or the "
                                                                       "timeline's scenario download)")

    def handle(self, *args, files, **options):
        failed, unreadable = [], []
        for path in files:
            try:
                report = scenario_replay(read(path))
            except ScenarioInvalid as error:
                unreadable.append(path)
                self.stderr.write(f"ERROR {path}: {error}")
                continue
            self.stdout.write(report.text(title=f"{path} ({report.name})"))
            if not report.ok:
                failed.append(path)
        if unreadable:
            raise CommandError(f"{len(unreadable)} of {len(files)} files could not be read as scenarios.",
                               returncode=UNREADABLE)
        if failed:
            raise CommandError(f"{len(failed)} of {len(files)} scenarios failed.", returncode=FAILED)


def read(path: str) -> dict:
    """The scenario in the file; ScenarioInvalid (saying why) for a file that is missing or not one."""
    try:
        with open(path, encoding="utf-8") as file:
            return scenario_check(json.load(file))
    except OSError as error:
        raise ScenarioInvalid(f"cannot read the file: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ScenarioInvalid(f"not JSON: {error}") from None
