"""What one user may keep stored: UPLOAD_QUOTA_BYTES over all their documents (document_add), and
file names that are not text."""

import os
import threading

import pytest
from django.db import connection

from memory.errors import UploadQuotaExceeded
from memory.models import Document
from memory.services import document_add, document_delete, source_create
from tests.factories import make_user
from tests.memory.documents import uploaded


@pytest.fixture
def source(db, media):
    return source_create(owner=make_user(), name="docs")


def add(source, name: str, size: int) -> Document:
    return document_add(owner=source.owner, source=source, file=uploaded(name, b"x" * size), queue=False)


@pytest.mark.django_db
def test_a_file_over_the_quota_is_refused_with_the_numbers_and_not_stored(source, media, settings):
    settings.UPLOAD_QUOTA_BYTES = 3 * 1024
    add(source, "a.txt", 2048)
    with pytest.raises(UploadQuotaExceeded) as refused:
        add(source, "b.txt", 2048)
    assert str(refused.value) == ("This file (2.0 KB) does not fit in your storage quota: 2.0 KB of 3.0 KB are in use "
                                  "(UPLOAD_QUOTA_BYTES). Delete documents to make room.")
    assert list(Document.objects.values_list("filename", flat=True)) == ["a.txt"]
    assert [p.name for p in (media / "documents").rglob("*") if p.is_file()] == ["a.txt"]
    add(source, "c.txt", 1024)  # exactly full
    # the quota is the owner's: another user, and a file deleted, make room
    other = source_create(owner=make_user(), name="docs")
    add(other, "d.txt", 3 * 1024)
    document_delete(document=Document.objects.get(filename="a.txt"))
    add(source, "b.txt", 2048)


@pytest.mark.django_db
def test_a_file_over_the_size_limit_takes_no_quota(source, settings):
    settings.UPLOAD_MAX_BYTES, settings.UPLOAD_QUOTA_BYTES = 1024, 2048
    assert add(source, "big.txt", 1500).status == Document.Status.ERROR  # not stored, as before
    add(source, "small.txt", 1024)
    add(source, "small2.txt", 1024)


@pytest.mark.django_db(transaction=True)
def test_two_uploads_at_once_cannot_both_take_the_last_room(source, settings):
    settings.UPLOAD_QUOTA_BYTES = 3 * 1024
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def upload(name: str) -> None:
        start.wait()
        try:
            add(source, name, 2048)
            outcomes.append("stored")
        except UploadQuotaExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(name,)) for name in ("one.txt", "two.txt")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "stored"]
    assert Document.objects.count() == 1


@pytest.mark.django_db
def test_a_file_name_that_is_not_text_is_cleaned(source, tmp_path):
    # a Latin-1 name on a UTF-8 system: Python spells the byte it cannot decode as a lone surrogate
    path = tmp_path / os.fsdecode(b"caf\xe9.txt")
    path.write_bytes(b"Some words.")
    document = document_add(owner=source.owner, source=source, file=path, queue=False)
    assert document.filename == "caf.txt"
    document = document_add(owner=source.owner, source=source, file=uploaded("x.txt", b"Words."), filename="no\x00te.txt",
                            queue=False)
    assert document.filename == "note.txt"
