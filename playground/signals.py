"""Websockets end with the login they were opened with."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from memory import broadcast


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
    # sent before the logout answers; a failure to send is logged there and the logout goes on (a socket
    # left open still dies with its session on reconnect)
    broadcast.send(user_group(user.pk), message, wait=True)
