from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def command_user(username: str | None):
    """Whose data a management command works on: the named user, or the first superuser."""
    users = get_user_model().objects
    found = users.filter(username=username).first() if username else users.filter(is_superuser=True).order_by("id").first()
    if found is None:
        raise CommandError(f"no user {username!r}" if username else "no user yet: run `manage.py up` once, or createsuperuser")
    return found
