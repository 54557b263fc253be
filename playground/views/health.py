from django.http import JsonResponse
from django.views.decorators.http import require_GET

from playground.health import service_states


@require_GET
def healthz(request):
    states = service_states()
    healthy = all(state == "ok" for state in states.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **states}, status=200 if healthy else 503)
