from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from rest_framework.exceptions import AuthenticationFailed

from playground.api.authentication import BearerTokenAuthentication
from playground.health import service_states


def _staff(request: HttpRequest) -> bool:
    """A staff user, by the pages' session or an API token (`Authorization: Bearer <token>`)."""
    if request.user.is_authenticated:
        return request.user.is_staff
    try:
        found = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return False
    return bool(found and found[0].is_staff)


@require_GET
def healthz(request):
    """200 {"status": "ok"} or 503 {"status": "degraded"}; staff also see each service's state.
    Anyone may ask, so nobody else learns what is wrong inside (hosts, exception texts)."""
    states = service_states()
    healthy = all(state == "ok" for state in states.values())
    body = {"status": "ok" if healthy else "degraded", **(states if _staff(request) else {})}
    response = JsonResponse(body, status=200 if healthy else 503)
    response["Cache-Control"] = "no-store"
    return response
