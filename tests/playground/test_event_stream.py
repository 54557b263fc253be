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


def logged_in(user) -> tuple[Client, list[tuple[bytes, bytes]]]:
    """A browser's session: its client (to log out with) and the headers its websockets send."""
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return client, [(b"cookie", cookie.encode()), (b"origin", b"http://127.0.0.1")]


@pytest.mark.django_db(transaction=True)
def test_logging_out_closes_that_sessions_websockets_with_4401_and_keeps_the_other_sessions(redis_available):
    from memory.services import source_create

    agent = make_agent()
    source = source_create(owner=agent.owner, name="docs")
    browser, headers = logged_in(agent.owner)
    phone, phone_headers = logged_in(agent.owner)  # the same user, logged in elsewhere

    async def scenario():
        chat = WebsocketCommunicator(application, f"/ws/agents/{agent.pk}/?format=json", headers=headers)
        progress = WebsocketCommunicator(application, f"/ws/sources/{source.pk}/", headers=headers)
        elsewhere = WebsocketCommunicator(application, f"/ws/agents/{agent.pk}/?format=json", headers=phone_headers)
        for communicator in (chat, progress, elsewhere):
            assert (await communicator.connect())[0]
        response = await sync_to_async(browser.post)("/logout/")
        assert response.status_code == 302
        closed = [await chat.receive_output(timeout=5), await progress.receive_output(timeout=5)]
        await sync_to_async(publish)(agent.pk, events.error(run_id=7, message="after the logout"))
        still = await elsewhere.receive_json_from(timeout=5)
        assert await chat.receive_nothing(timeout=0.3)  # nothing streams to the closed socket
        for communicator in (chat, progress, elsewhere):
            await communicator.disconnect()
        return closed, still

    closed, still = async_to_sync(scenario)()
    assert closed == [{"type": "websocket.close", "code": 4401}] * 2
    assert still["message"] == "after the logout"


@pytest.mark.django_db(transaction=True)
def test_a_websocket_needs_a_live_login(redis_available):
    agent = make_agent()
    browser, headers = logged_in(agent.owner)
    browser.logout()

    async def connect(app, path, **scope):
        communicator = WebsocketCommunicator(app, path, headers=headers)
        communicator.scope.update(scope)
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    # the cookie of a session that logged out
    assert async_to_sync(connect)(application, f"/ws/agents/{agent.pk}/") == (False, 4401)
    # a logout between the login being read and the socket joining its user's group: the session is gone
    from django.contrib.sessions.backends.db import SessionStore

    from playground.consumers import AgentConsumer

    gone = SessionStore()
    gone.create()
    gone.delete()
    assert async_to_sync(connect)(AgentConsumer.as_asgi(), f"/ws/agents/{agent.pk}/", user=agent.owner,
                                  session=SessionStore(session_key=gone.session_key),
                                  url_route={"kwargs": {"agent_id": agent.pk}}) == (False, 4401)
