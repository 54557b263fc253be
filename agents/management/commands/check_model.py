"""Check a model against what a MemGPT agent needs of it (agents/llm/check.py), as a table."""

import sys
import textwrap

from django.core.management.base import BaseCommand, CommandError

from agents.llm import LLMNotConfigured, llm_configured
from agents.llm.check import FAIL, Report, check_agent, check_handle
from agents.models import Agent

MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "----"}


def report_table(report: Report) -> str:
    rows = [f"Model check: {report.model} (tool protocol {report.protocol}, heartbeat_fallback "
            f"{'on' if report.heartbeat_fallback else 'off'})", ""]
    width = max(len(p.title) for p in report.points)
    rows.append(f"{'':4}  {'point':{width + 1}}  {'time':>6}  what it showed")
    for point in report.points:
        title = point.title + ("*" if point.required else "")
        detail = textwrap.shorten(point.detail, 110, placeholder="…")
        rows.append(f"{MARKS[point.status]}  {title:{width + 1}}  {point.seconds:5.1f}s  {detail}")
        if point.fix and point.status != "pass":
            rows.append(f"{'':4}  {'':{width + 1}}  {'':6}  fix: {point.fix}")
    rows += ["", "* required. " + ("Every required point passed." if report.ok else "A required point failed.")]
    return "\n".join(rows)


class Command(BaseCommand):
    help = ("Run a fixed scripted conversation against a model and report whether it calls tools, sends valid "
            "arguments, keeps heartbeats, streams and reports usage. Exit status 1 when a required point fails.")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--agent", type=int, help="an agent's id: its model, server and fallbacks")
        which.add_argument("--model", help="a model of the configured server (default: LLM_MODEL)")
        parser.add_argument("--json-protocol", action="store_true", help="with --model: tool_protocol json")
        parser.add_argument("--heartbeat-fallback", action="store_true", help="with --model: heartbeat_fallback on")

    def handle(self, *args, agent=None, model=None, json_protocol=False, heartbeat_fallback=False, **options):
        try:
            if agent is not None:
                try:
                    report = check_agent(Agent.objects.get(pk=agent))
                except Agent.DoesNotExist:
                    raise CommandError(f"No agent with id {agent}.") from None
            else:
                if not llm_configured(model or ""):
                    raise CommandError("No model: give --model or --agent, or set LLM_MODEL.")
                report = check_handle(model or "", protocol="json" if json_protocol else "native",
                                      heartbeat_fallback=heartbeat_fallback)
        except LLMNotConfigured as error:
            raise CommandError(str(error)) from None
        self.stdout.write(report_table(report))
        if any(p.required and p.status == FAIL for p in report.points):
            sys.exit(1)
