"""The agents page: each agent's recall and archival memory counted, in one query for all agents."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memory.models import Document, Message
from memory.services import source_attach, source_create
from tests.factories import make_agent, make_message, make_passage, make_user

pytestmark = pytest.mark.django_db


def rows(html: str) -> dict[str, tuple[int, int]]:
    """Agent name: (messages, passages), as the page's table shows them."""
    found = re.findall(r'class="agent-link">([^<]+)</a>(?:\s*<a [^>]*>[^<]*</a>)*\s*</td>\s*<td[^>]*>[^<]*</td>\s*'
                       r'<td>(\d+)</td>\s*<td>(\d+)</td>', html)  # after the name, its tags
    return {name: (int(messages), int(passages)) for name, messages, passages in found}


def test_the_agents_page_counts_each_agents_messages_and_passages_with_no_fan_out(client, django_assert_max_num_queries):
    user = make_user()
    sam, kit, quiet = (make_agent(owner=user, name=name) for name in ("Sam", "Kit", "Quiet"))
    sam.tags = ["chess", "demo"]  # shown beside its name; the tag filter costs no query of its own
    sam.save(update_fields=["tags"])
    for n in range(7):
        make_message(sam)
    make_message(sam, role=Message.Role.SYSTEM, kind=Message.Kind.SUMMARY, text="a summary")  # not recall memory
    for n in range(5):
        make_passage(sam)
    for n in range(3):
        make_message(kit)
    make_passage(kit)
    # a source attached to Sam: its finished document's chunks are Sam's archival memory too, not an unfinished one's
    source = source_create(owner=user, name="manuals")
    done = Document.objects.create(owner=user, source=source, filename="a.pdf", status=Document.Status.DONE)
    parsing = Document.objects.create(owner=user, source=source, filename="b.pdf", status=Document.Status.EMBEDDING)
    for n in range(4):
        make_passage(document=done)
    make_passage(document=parsing)
    source_attach(source=source, agent=sam)
    make_passage(make_agent(name="Not mine"))
    client.force_login(user)

    # the session, the user, the create form's templates (4), and one query for all the agents with their counts
    with django_assert_max_num_queries(7), CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    assert rows(response.content.decode()) == {"Sam": (7, 9), "Kit": (3, 1), "Quiet": (0, 0)}
    # counted in subqueries: the old join of messages and passages grouped messages x passages rows per agent
    [listing] = [q["sql"] for q in queries.captured_queries if 'FROM "agents_agent"' in q["sql"]]
    assert "GROUP BY" not in listing and "JOIN \"memory_message\"" not in listing
