"""Which errors mean a server is away, and how a process answers while it knows the database is down
(the whole story, with real restarts, is tests/chaos/test_service_restarts.py)."""

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client

from playground import outages


def as_django(cause: psycopg.Error) -> OperationalError:
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


def test_a_failed_connection_is_an_outage_and_a_cancelled_query_is_not(db):
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("host=/nonexistent dbname=x connect_timeout=1")
    assert outages.database_unreachable(as_django(refused.value))

    with pytest.raises(OperationalError) as cancelled, connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")
    assert cancelled.value.__cause__.sqlstate == "57014"
    assert not outages.database_unreachable(cancelled.value)
    assert not outages.database_unreachable(ValueError("no"))


@pytest.fixture
def watch(monkeypatch):
    watch = outages.DatabaseWatch()
    monkeypatch.setattr(outages, "database", watch)
    monkeypatch.setattr(outages, "PROBE_SECONDS", 0.0)
    return watch


def test_while_the_database_is_down_every_request_is_answered_at_once_and_then_served_again(db, watch, monkeypatch):
    probes, connect = [], psycopg.connect

    def probe(**params):
        probes.append(params["connect_timeout"])
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(outages.psycopg, "connect", probe)
    watch.lost()
    client = Client()
    page = client.get("/login/")
    assert page.status_code == 503 and page["Retry-After"] == "5" and "PostgreSQL" in page.content.decode()
    api = client.get("/v1/agents/")
    assert api.status_code == 503 and api.json()["code"] == "database_unavailable"
    htmx = client.get("/login/", headers={"HX-Request": "true"})
    assert htmx["Content-Type"].startswith("text/plain") and htmx.content.decode() == outages.DATABASE_DOWN
    assert probes == [2, 2, 2]  # one probe per request (PROBE_SECONDS is 0 here), none of them waiting long

    monkeypatch.setattr(outages.psycopg, "connect", connect)  # the database answers the probe again
    assert client.get("/login/").status_code == 200
    assert watch.down_since is None
