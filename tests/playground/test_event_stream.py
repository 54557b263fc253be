import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from agents.engine import events
from agents.events import publish
from playground.asgi import application
from tests.factories import make_agent, make_user


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://127.0.0.1")]


@pytest.mark.django_db(transaction=True)
def test_an_event_published_by_a_turn_reaches_the_owners_websocket_through_redis(redis_available):
    agent = make_agent()
    headers = session_headers(agent.owner)

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/agents/{agent.pk}/?format=json", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        await sync_to_async(publish)(agent.pk, events.error(run_id=7, message="hello <b>there</b>"))
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)() == {"type": "error", "run_id": 7, "message": "hello <b>there</b>"}


def test_publish_takes_only_events_made_by_their_constructors():
    with pytest.raises(TypeError, match="takes an agents.engine.events.Event"):
        publish(1, {"type": "assistant_message", "text": "hand-made"})


@pytest.mark.django_db(transaction=True)
def test_another_users_agent_refuses_the_websocket(redis_available):
    agent = make_agent()
    headers = session_headers(make_user())

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/agents/{agent.pk}/", headers=headers)
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4403)
