from django.http import Http404

from agents.models import Agent


def owned_agent(request, agent_id: int) -> Agent:
    """The agent if the user owns it; 404 for anyone else's (never a hint that it exists)."""
    try:
        return Agent.objects.get(pk=agent_id, owner=request.user)
    except Agent.DoesNotExist:
        raise Http404("No such agent") from None
