"""Deleting a document while its ingestion commits a batch of passages (a race a fresh-clone run showed:
the API's delete answered 409 when a batch landed between deleting the passages and the document)."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from memory.models import Document, Passage
from memory.services import document_delete, source_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_committed_during_the_delete_loses_to_it():
    owner = make_user()
    document = Document.objects.create(owner=owner, source=source_create(owner=owner, name="notes"), filename="a.txt")
    inserted, commit, done = threading.Event(), threading.Event(), threading.Event()
    batch_refused = []

    def batch() -> None:  # the ingestion's batch of passages, committed when the test says
        try:
            with transaction.atomic():
                Passage.objects.create(owner=owner, document=document, text="late batch", embedding_model="m")
                inserted.set()
                commit.wait(10)
        except IntegrityError:  # the document went first: memory.ingestion stops quietly on this
            batch_refused.append(True)
        finally:
            connection.close()
            done.set()

    def batch_commits_just_before_the_document_goes(execute, sql, params, many, context):
        if sql.startswith('DELETE FROM "memory_document"') and not commit.is_set():
            commit.set()
            done.wait(1)  # it commits now, or waits for the delete to end
        return execute(sql, params, many, context)

    threading.Thread(target=batch).start()
    assert inserted.wait(10)
    with connection.execute_wrapper(batch_commits_just_before_the_document_goes):
        document_delete(document=document)

    assert done.wait(10) and batch_refused == [True]
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Passage.objects.filter(document_id=document.pk).exists()
