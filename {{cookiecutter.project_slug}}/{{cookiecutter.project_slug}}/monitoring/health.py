"""Health probes for load balancers, Kubernetes and uptime monitors."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    """The process answers: touches no database, cache or broker."""
    return JsonResponse({"status": "alive"})
