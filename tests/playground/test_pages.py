import pytest
from django.urls import reverse

from agents.models import Agent, Run, Step
from memory.models import Block, BlockRevision, Document, MemoryTemplate, Message, Passage, Source
from tests.factories import make_agent


@pytest.mark.django_db
def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_a_user_sees_only_their_own_agents(client):
    mine = make_agent(name="Mine")
    make_agent(name="<b>Theirs</b>")
    client.force_login(mine.owner)
    page = client.get("/").content.decode()
    assert "Mine" in page and "Theirs" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Agent, Run, Step, Block, BlockRevision, Message, Passage, Source, Document, MemoryTemplate])
def test_every_model_has_a_working_admin_list_with_search(admin_client, model):
    make_agent(name="listed")
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "listed"}).status_code == 200
