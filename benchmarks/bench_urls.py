"""The project's URLconf plus the bare view bench_api.py compares the API with."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from codeai.urls import handler400, handler404, handler500
from codeai.urls import urlpatterns as project_urlpatterns
from deployments.models import Deployment

BARE_PATH = "bench/bare-deployments/"
FIELDS = ("id", "name", "config_id", "status", "created_at", "updated_at")


def bare_deployments(request: HttpRequest) -> JsonResponse:
    """The list's 50 rows through the same ORM and database: no DRF, auth or throttle."""
    rows = list(Deployment.objects.order_by("-created_at").values(*FIELDS)[:50])
    return JsonResponse({"data": rows})


urlpatterns = [path(BARE_PATH, bare_deployments), *project_urlpatterns]
__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
