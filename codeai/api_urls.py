"""Routes under /api/: tokens, the v1 resources, the OpenAPI schema and its browser.

Every path answers with and without the trailing slash.
"""

from __future__ import annotations

from django.urls import include, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from codeai.kernel.api import auth, schema  # noqa: F401 - schema registers the bearer scheme

urlpatterns = [
    re_path(r"^auth/token/?$", auth.TokenObtainView.as_view(), name="token-obtain"),
    re_path(r"^auth/token/refresh/?$", auth.TokenRefreshView.as_view(), name="token-refresh"),
    re_path(r"^auth/token/verify/?$", auth.TokenVerifyView.as_view(), name="token-verify"),
    re_path(r"^v1/", include("configs.urls")),
    # /deployments comes from executions: the deployment routes with execute and executions.
    re_path(r"^v1/", include("executions.urls")),
    re_path(r"^v1/", include("webhooks.urls")),
    re_path(r"^v1/", include("schedules.urls")),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]
