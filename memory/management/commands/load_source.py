"""Load files into a source from the command line, like the original `memgpt load`:

    python manage.py load_source --name manuals [--user USERNAME] [--attach AGENT_NAME] a.pdf b.md

Ingestion runs here, in this process, with a progress line per document as it goes.
"""

import time
from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from memory.ingestion import document_ingest
from memory.management.users import command_user
from memory.models import Document, Source
from memory.services import document_add, source_attach, source_create

PRINT_INTERVAL = 1.0  # seconds between progress lines of one document


class Command(BaseCommand):
    help = "Add PDF, text and Markdown files to a source (created if needed) and ingest them into archival memory."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--name", required=True, help="the source's name")
        parser.add_argument("--user", help="whose source (default: the first superuser)")
        parser.add_argument("--attach", metavar="AGENT_NAME", help="attach the source to this agent of the user")

    def handle(self, *args, files: list[str], name: str, user: str | None, attach: str | None, **options):
        owner = command_user(user)
        agent = self.find_agent(owner, attach) if attach else None
        missing = [f for f in files if not Path(f).is_file()]
        if missing:
            raise CommandError(f"no such file: {', '.join(missing)}")
        source = Source.objects.filter(owner=owner, name=name).first()
        if source is None:
            source = source_create(owner=owner, name=name)
            self.say(f"created source {name!r}")
        failed = 0
        for path in files:
            document = document_add(owner=owner, source=source, file=path, queue=False)
            if document.status == Document.Status.PENDING:
                document = document_ingest(document_id=document.pk, on_progress=self.progress_printer())
            if document is None or document.status != Document.Status.DONE:
                failed += 1
                self.say(f"{Path(path).name}: failed: {document.error if document else 'deleted meanwhile'}")
            else:
                self.say(f"{document.filename}: done: {document.pages_total} pages, {document.chunks_embedded} passages")
        if agent is not None:
            try:
                source_attach(source=source, agent=agent)
            except (ValueError, PermissionError) as error:
                raise CommandError(f"cannot attach {name!r} to {agent.name!r}: {error}") from None
            self.say(f"attached {name!r} to {agent.name!r}")
        if failed:
            raise CommandError(f"{failed} of {len(files)} files failed")

    def progress_printer(self):
        last = {"at": 0.0, "shown": None}

        def show(document: Document) -> None:
            shown = (document.pages_parsed, document.chunks_embedded)
            running = document.status in (Document.Status.PARSING, Document.Status.EMBEDDING)
            if not running or not document.pages_total or shown == last["shown"]:
                return
            if time.monotonic() - last["at"] < PRINT_INTERVAL and last["shown"] is not None:
                return
            last.update(at=time.monotonic(), shown=shown)
            self.say(f"{document.filename}: {document.pages_parsed}/{document.pages_total} pages parsed, "
                     f"{document.chunks_embedded}/{document.chunks_total} chunks embedded")

        return show

    def find_agent(self, owner, name: str):
        # by the app registry: memory never imports agents (imports go playground -> agents -> memory)
        agents = apps.get_model("agents", "Agent").objects.filter(owner=owner, name=name)
        found = agents.order_by("id").first()
        if found is None:
            raise CommandError(f"no agent named {name!r} for {owner.get_username()}")
        return found

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
