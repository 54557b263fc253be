"""Pin a finished run as a scenario file (agents/history/scenarios.py), for replay_scenario."""

from django.core.management.base import BaseCommand, CommandError

from agents.errors import HistoryMissing, ScenarioUnavailable
from agents.history.scenarios import dumps, scenario_export
from agents.models import Run


class Command(BaseCommand):
    help = ("Write a finished run as a scenario: the agent just before it, its input, the model's answers and what "
            "the turn did. `replay_scenario FILE` then runs it against the current code.")

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int, metavar="RUN_ID")
        parser.add_argument("-o", "--output", metavar="FILE", help="write it here (default: standard output)")

    def handle(self, *args, run_id, output=None, **options):
        try:
            text = dumps(scenario_export(run=Run.objects.select_related("agent").get(pk=run_id)))
        except Run.DoesNotExist:
            raise CommandError(f"No run with id {run_id}.") from None
        except (ScenarioUnavailable, HistoryMissing) as error:
            raise CommandError(str(error)) from None
        if output is None:
            self.stdout.write(text, ending="")
            return
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
        self.stderr.write(f"Run {run_id} pinned as {output}.")
