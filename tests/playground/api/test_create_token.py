import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_create_token_prints_the_users_token_and_can_reset_it(capsys):
    user = make_user(username="ada")
    call_command("create_token", "ada")
    key = capsys.readouterr().out.strip()
    assert Token.objects.get(user=user).key == key and len(key) == 40
    call_command("create_token", "ada")
    assert capsys.readouterr().out.strip() == key  # the same token again
    call_command("create_token", "ada", "--reset")
    assert capsys.readouterr().out.strip() == Token.objects.get(user=user).key != key
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("create_token", "nobody")
