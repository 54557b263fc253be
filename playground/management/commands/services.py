from django.conf import settings
from django.core.management.base import BaseCommand

from playground import embedded


class Command(BaseCommand):
    help = "Start, stop or show the embedded Postgres, Redis and Milvus Lite of the data directory."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])

    def handle(self, *args, action, **options):
        box = settings.EMBEDDED
        if action == "start":
            started = embedded.ensure_running(box, **embedded.needed())
            self.stdout.write(f"started: {', '.join(started) or 'nothing (already running)'}")
        elif action == "stop":
            stopped = embedded.stop(box)
            self.stdout.write(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        else:
            self.stdout.write(f"data directory: {box.data_dir}")
            self.stdout.write(f"postgres: {'running' if embedded.postgres_running(box) else 'stopped'}")
            self.stdout.write(f"redis: {'running' if embedded.redis_running(box) else 'stopped'}")
            self.stdout.write(f"milvus: {'running' if embedded.milvus_running(box) else 'stopped'}")
