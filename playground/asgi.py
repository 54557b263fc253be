import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from playground.middleware import BodyLimit, install_daphne_guard  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402

install_daphne_guard()  # under daphne, bodies over their limit are refused before Twisted stores them

application = ProtocolTypeRouter(
    {
        # our own few static files are served by the app itself: one process, no build step
        # a body over its limit is refused before it is read (playground.middleware)
        "http": BodyLimit(ASGIStaticFilesHandler(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
