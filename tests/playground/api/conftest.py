"""The API against the live stack (daphne + a Celery worker as subprocesses on the test database,
the scripted LLM server, `live_llm`): the official letta-client SDK, and plain HTTP where the SDK has no method.

The SDK validates every response strictly against its own pydantic types, so a field it requires
that we leave out, or a wrong type, fails the test."""

import httpx
import pytest
from letta_client import Letta
from rest_framework.authtoken.models import Token

from tests.factories import make_user


class Api:
    """One user's view of the live server."""

    def __init__(self, url: str, user):
        self.user = user
        self.token = Token.objects.create(user=user).key
        self.sdk = Letta(base_url=url, api_key=self.token, max_retries=0, timeout=60, _strict_response_validation=True)
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)

    def close(self) -> None:
        self.sdk.close()
        self.http.close()


@pytest.fixture
def api(live):
    client = Api(live.url, make_user(username="ada"))
    yield client
    client.close()


@pytest.fixture
def other(live):
    """Someone else, with their own token."""
    client = Api(live.url, make_user(username="mallory"))
    yield client
    client.close()
