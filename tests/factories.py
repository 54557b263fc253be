"""Rows for tests, with sensible defaults; keyword arguments override any field."""

import itertools

from django.contrib.auth import get_user_model

from agents.models import Agent

_numbers = itertools.count(1)


def make_user(**fields):
    number = next(_numbers)
    fields.setdefault("username", f"user{number}")
    password = fields.pop("password", "pass-word-123")
    user = get_user_model().objects.create_user(**fields)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def make_agent(owner=None, **fields):
    fields.setdefault("name", f"agent {next(_numbers)}")
    fields.setdefault("system", "You are a test agent.")
    fields.setdefault("embedding_model", "local/all-MiniLM-L6-v2")
    return Agent.objects.create(owner=owner or make_user(), **fields)
