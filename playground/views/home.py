from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET


@login_required
@require_GET
def home(request):
    agents = request.user.agents.order_by("-created_at")
    return render(request, "home.html", {"agents": agents})
