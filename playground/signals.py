"""Websockets end with the login they were opened with."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The channel-layer group every websocket of the user's joins."""
    return f"user-{user_id}"


@receiver(user_logged_out)
def websockets_close(sender, request, user, **kwargs) -> None:
    """Close the websockets of the session that logged out (the consumers' `session_ended`); the
    user's other sessions are still logged in and keep theirs."""
    if user is None:
        return
    session = getattr(request, "session", None)
    message = {"type": "session.ended", "session_key": session.session_key if session is not None else None}
    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user.pk), message)
    except Exception:  # the logout itself must not fail; a socket left open still dies with its session on reconnect
        logger.exception("could not close the websockets of user %s", user.pk)
