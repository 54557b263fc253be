"""`manage.py load_source`: files into a source from the command line, ingested in-process."""

import io

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from memory.models import Document, Passage, Source
from memory.search import PassageScope
from memory.selectors import passage_search
from tests.factories import make_agent, make_user
from tests.memory.documents import make_pdf, png_bytes, sentences

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(tmp_path):
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(make_pdf([" ".join(sentences("manual", n, 40)) for n in range(1, 21)]))  # > one batch
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe **backup** runs nightly at two.\n\n- check the logs\n")
    picture = tmp_path / "picture.pdf"
    picture.write_bytes(png_bytes())
    return manual, notes, picture


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_source", *args, stdout=out)
    return out.getvalue()


def test_load_files_into_a_new_source_and_attach_it(media, files, settings):
    settings.EMBEDDING_MODEL = "local/all-MiniLM-L6-v2"
    owner = make_user(username="root", is_superuser=True)
    agent = make_agent(owner=owner, name="Doc")
    manual, notes, _ = files
    out = load("--name", "manuals", "--attach", "Doc", str(manual), str(notes))

    source = Source.objects.get(owner=owner, name="manuals")
    manual_doc = source.documents.get(filename="manual.pdf")
    assert manual_doc.status == "done" and manual_doc.chunks_embedded > 64
    assert "created source 'manuals'" in out
    progress = [line for line in out.splitlines() if line.startswith("manual.pdf: ") and "pages parsed" in line]
    assert progress and all(" chunks embedded" in line for line in progress)
    assert f"manual.pdf: done: 20 pages, {manual_doc.chunks_embedded} passages" in out
    assert "notes.md: done: 1 pages, 1 passages" in out
    assert "attached 'manuals' to 'Doc'" in out
    passages, _ = passage_search(scope=PassageScope(agent_id=agent.pk), embedding_models=[agent.embedding_model],
                                 query="when does the backup run")
    assert passages[0].text.startswith("# Notes") and passages[0].document.filename == "notes.md"

    # loading into it again adds to the same source
    load("--name", "manuals", str(notes))
    assert Source.objects.filter(owner=owner, name="manuals").count() == 1
    assert source.documents.filter(filename="notes.md").count() == 2


@pytest.mark.django_db(transaction=True)  # run_from_argv closes the database connection, as manage.py does
def test_a_failed_file_is_reported_and_the_exit_code_is_not_zero(media, files, capsys):
    owner = make_user(username="ann")
    _, notes, picture = files
    command = load_command_class("memory", "load_source")
    with pytest.raises(SystemExit) as exit:
        command.run_from_argv(["manage.py", "load_source", "--name", "mixed", "--user", "ann", str(notes), str(picture)])
    assert exit.value.code == 1
    captured = capsys.readouterr()
    assert "notes.md: done" in captured.out
    assert "picture.pdf: failed: not a PDF although named .pdf (it looks like a PNG image)" in captured.out
    assert "1 of 2 files failed" in captured.err
    failed = Document.objects.get(source__owner=owner, filename="picture.pdf")
    assert failed.status == "error" and not Passage.objects.filter(document=failed).exists()


def test_unknown_user_agent_or_file_stop_before_anything_is_loaded(media, files):
    make_user(username="ann")
    _, notes, _ = files
    with pytest.raises(CommandError, match="no user 'bob'"):
        load("--name", "x", "--user", "bob", str(notes))
    with pytest.raises(CommandError, match="no agent named 'Nobody'"):
        load("--name", "x", "--user", "ann", "--attach", "Nobody", str(notes))
    with pytest.raises(CommandError, match="no such file: /nowhere.txt"):
        load("--name", "x", "--user", "ann", "/nowhere.txt")
    assert not Source.objects.exists()
