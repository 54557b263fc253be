"""Documents end to end: uploaded, ingested by the real Celery worker into PostgreSQL, progress on the
real channel layer, and an agent that pages through archival search and quotes the right page."""

import json
import re
import time

import pytest
from asgiref.sync import async_to_sync

from agents.services import agent_create, turn_enqueue
from memory import milvus
from memory.broadcast import Listener
from memory.embeddings import get_embedder
from memory.ingestion import source_group
from memory.models import Document, Message, Passage
from memory.services import document_add, source_attach, source_create
from tests.factories import make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs
from tests.memory.documents import encrypted_pdf, make_pdf, sentences, uploaded

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_document(document: Document, timeout: float = 120) -> Document:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status in ("done", "error", "cancelled"):
            return document
        time.sleep(0.1)
    raise AssertionError(f"{document.filename} is still {document.status}")


class Watcher:
    """Listens on a source's group of the real channel layer, as the browser's consumer will."""

    def __init__(self, source_id: int) -> None:
        self.listener = async_to_sync(Listener.open)(source_group(source_id))

    def events(self, timeout: float = 10) -> list[dict]:
        """What arrived, up to the run's last event. Read after the run: the layer keeps them."""
        async def collect() -> list[dict]:
            events: list[dict] = []
            while not events or events[-1]["status"] not in ("done", "error", "cancelled"):
                event = await self.listener.receive(timeout)
                assert event is not None, f"no progress within {timeout} s after {events}"
                events.append(event)
            await self.listener.close()
            return events

        return async_to_sync(collect)()


def test_a_pdf_is_ingested_by_the_worker_with_live_progress(media, celery_worker):
    source = source_create(owner=make_user(), name="inventory")
    pages = [" ".join(sentences("inventory", n, 30)) for n in range(1, 5)]
    watcher = Watcher(source.pk)
    document = document_add(owner=source.owner, source=source, file=uploaded("inventory.pdf", make_pdf(pages)))
    document = wait_for_document(document)
    events = watcher.events()

    assert (document.status, document.pages_total, document.pages_parsed) == ("done", 4, 4)
    passages = list(Passage.objects.filter(document=document))
    assert len(passages) == document.chunks_embedded == document.chunks_total
    embedder = get_embedder("local/all-MiniLM-L6-v2")
    assert max(embedder.count_tokens(p.text) for p in passages) + 2 <= embedder.max_tokens  # nothing truncated
    for number in range(1, 5):
        on_page = " ".join(p.text for p in passages if p.page_start == p.page_end == number)
        assert all(sentence in on_page for sentence in sentences("inventory", number, 30)), number

    assert all(e["type"] == "document_progress" and e["document_id"] == document.pk for e in events)
    assert [e["status"] for e in events][-1] == "done" and "embedding" in [e["status"] for e in events]
    embedded = [e["chunks_embedded"] for e in events]
    assert embedded == sorted(embedded) and embedded[-1] == len(passages)
    assert events[-1] == {"type": "document_progress", "document_id": document.pk, "status": "done", "pages_total": 4,
                          "pages_parsed": 4, "chunks_total": len(passages), "chunks_embedded": len(passages), "error": ""}


def test_an_encrypted_pdf_ends_in_error_through_the_worker(media, celery_worker):
    source = source_create(owner=make_user(), name="secrets")
    watcher = Watcher(source.pk)
    document = document_add(owner=source.owner, source=source,
                            file=uploaded("plans.pdf", encrypted_pdf(["Top secret."], user_password="hunter2")))
    document = wait_for_document(document)
    events = watcher.events()
    assert (document.status, document.error) == ("error", "encrypted PDF: remove the password first")
    assert events[-1]["error"] == document.error
    assert not Passage.objects.filter(document=document).exists()


# --- an agent reads the handbook -----------------------------------------------------------------

WARRANTY = "The warranty on the XR-200 pump lasts seven years from the date of purchase."
HANDBOOK = [
    "The XR-200 pump moves up to forty litres a minute. Mount the XR-200 pump on a level concrete base. "
    "Keep the XR-200 pump out of direct frost.",
    "Bleed the XR-200 pump before the first start. Open the valve slowly and check the XR-200 pump for leaks. "
    "A noisy XR-200 pump usually has air in the line.",
    "Service and support. " + WARRANTY + " Keep your receipt in a safe place.",
    "Clean the XR-200 pump filter every month. Replace the XR-200 pump seals every second year. "
    "Store the XR-200 pump dry over the winter.",
    "Electrical: the XR-200 pump needs a 230 volt supply with an earth leakage breaker. "
    "Never run the XR-200 pump dry.",
    "Troubleshooting: if the XR-200 pump hums but does not turn, the capacitor has failed. "
    "If the XR-200 pump trips the breaker, call a technician.",
    "Spare parts for the XR-200 pump: impeller, seal kit, filter basket and capacitor.",
]


def results(request: dict) -> list[dict]:
    """The archival_memory_search results a request carries, oldest first."""
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def hits(result: dict) -> list[dict]:
    header, _, listing = result["message"].partition("\n")
    return json.loads(listing) if listing else []


def agent_reads_the_handbook(request: dict):
    """The model's side of the conversation: search, look at page 2 of the results, quote."""
    seen = results(request)
    if len(seen) < 2:
        return tool_call("archival_memory_search", {"query": "XR-200 pump warranty", "page": len(seen) + 1,
                                                     "request_heartbeat": True},
                         content="Let me look that up in the handbook." if not seen else "Let me see the next page.")
    hit = next(h for result in seen for h in hits(result) if "warranty" in h["content"])
    quote = next(s for s in re.split(r"(?<=\.)\s+", hit["content"]) if "warranty" in s)
    return tool_call("send_message", {"message": f'"{quote}" ({hit["document"]}, page {hit["pages"]})'})


def test_the_agent_pages_through_archival_search_and_quotes_the_right_page(media, llm, celery_worker, archival_store):
    owner = make_user()
    source = source_create(owner=owner, name="handbooks")
    document = wait_for_document(document_add(owner=owner, source=source, file=uploaded("handbook.pdf", make_pdf(HANDBOOK))))
    assert document.status == "done" and document.chunks_embedded == 7
    if archival_store == "milvus":  # each chunk copied as the worker stored it
        assert set(milvus.milvus_ids()) == set(Passage.objects.filter(document=document).values_list("pk", flat=True))
    agent = agent_create(owner=owner, name="Helper", persona="I answer from the handbooks.", human="")
    source_attach(source=source, agent=agent)
    llm.responder = agent_reads_the_handbook

    turn_enqueue(agent=agent, text="How long is the pump's warranty? Quote the handbook.")
    [run] = wait_for_runs(agent)

    assert run.status == "completed"
    first, second, third = llm.chat_requests()
    [page_one] = results(second)
    page_one_again, page_two = results(third)
    assert page_one == page_one_again
    assert page_one["status"] == page_two["status"] == "OK"
    assert re.match(r"Showing 5 of \d+ results \(page 1 of 2\):", page_one["message"])
    assert re.match(r"Showing \d of \d+ results \(page 2 of 2\):", page_two["message"])
    every_hit = hits(page_one) + hits(page_two)
    assert all(h["document"] == "handbook.pdf" and h["content"] == HANDBOOK[h["pages"] - 1] for h in every_hit)
    assert len({h["pages"] for h in every_hit}) == len(every_hit)  # paging shows each passage once
    [warranty_hit] = [h for h in every_hit if WARRANTY in h["content"]]
    assert warranty_hit["pages"] == 3

    answer = Message.objects.get(agent=agent, kind="assistant", tool_calls__0__function__name="send_message")
    said = json.loads(answer.tool_calls[0]["function"]["arguments"])["message"]
    assert said == f'"{WARRANTY}" (handbook.pdf, page 3)'
    assert Passage.objects.get(document=document, text__contains=WARRANTY).page_start == 3
