"""Documents in the browser: upload into a source, watch ingestion progress live, attach to an agent."""

import re

from agents.services import agent_create
from memory.models import Document, Source
from memory.search import PassageScope
from memory.selectors import passage_search
from tests.factories import make_user
from tests.helpers import log_in, open_agent, screenshot
from tests.memory.documents import make_pdf

PAGES = [f"Page {n} of the field manual. " + ("The valve assembly must be inspected monthly. " * 8)
         + (f"Part number QX-{4400 + n} fits only the model {n} pump." if n == 3 else "") for n in range(1, 5)]


def test_upload_watch_progress_attach_and_search(page, tmp_path):
    user = make_user()
    agent = agent_create(owner=user, name="Analyst", persona="I analyse documents.", human="")
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(make_pdf(PAGES))
    (tmp_path / "notes.txt").write_bytes(b"\x89PNG\r\n\x1a\n not really text")
    log_in(page, user)
    page.goto("/sources/")
    page.fill("#new-source input[name=name]", "manuals")
    page.click("#new-source button[type=submit]")
    source = page.locator(".source:has(h2:text('manuals'))")
    source.wait_for()

    uploads = []
    page.on("request", lambda r: uploads.append(r.method) if r.url.endswith("/upload") else None)
    source.locator("input[type=file]").set_input_files([str(pdf), str(tmp_path / "notes.txt")])
    done = source.locator("tr.document:has-text('manual.pdf') .badge:text('done')")
    done.wait_for(timeout=120_000)  # the row is re-rendered by progress events over the websocket
    document = Document.objects.get(filename="manual.pdf")
    assert (document.status, document.pages_total, document.pages_parsed) == ("done", 4, 4)
    assert document.chunks_embedded == document.chunks_total > 0
    assert "4 pages" in source.locator("tr.document:has-text('manual.pdf')").inner_text()
    bad = source.locator("tr.document:has-text('notes.txt')")
    bad.locator(".badge:text('error')").wait_for(timeout=60_000)
    # one request per file, so the upload limit is per file whatever the number of files chosen
    assert uploads == ["POST", "POST"]
    assert re.search(r"not a PDF, text or Markdown|unsupported|PNG", bad.inner_text(), re.I)

    source.locator("select[name=agent]").select_option(label="Analyst")
    source.locator("button:has-text('Attach')").click()
    page.locator(".source .chip:has-text('Analyst')").wait_for()
    assert list(Source.objects.get(name="manuals").agents.all()) == [agent]
    passages, _ = passage_search(scope=PassageScope(agent_id=agent.pk), embedding_models=[agent.embedding_model],
                                 query="QX-4403")
    assert passages and passages[0].page_start == 3
    screenshot(page, "sources")

    open_agent(page, agent)
    page.click(".tabs .tab:has-text('Archival')")
    page.fill("#archival input[name=q]", "QX-4403")
    page.click("#archival form.search button")
    page.wait_for_selector("#archival input[name=q][value='QX-4403']")  # the results have replaced the list
    hit = page.locator("#archival .hit").first
    assert "manual.pdf, page 3" in hit.inner_text() and "QX-4403" in hit.inner_text()

    page.goto("/sources/")
    page.locator(".source .chip:has-text('Analyst') button").click()
    page.locator(".attached .muted:text('no agent')").wait_for()
    assert passage_search(scope=PassageScope(agent_id=agent.pk), embedding_models=[agent.embedding_model],
                          query="QX-4403")[0] == []
