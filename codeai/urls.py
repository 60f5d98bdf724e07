"""URL routes. Every path but the health probes and metrics needs a login or a token."""

from django.contrib import admin
from django.urls import include, path

from codeai.middleware import probe_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("codeai.api_urls")),
    # /health, /ready, /live and /metrics: answered by codeai.middleware, without login.
    *probe_urlpatterns(),
]

# JSON under /api/, Django's pages elsewhere.
handler400 = "codeai.kernel.api.errors.bad_request"
handler404 = "codeai.kernel.api.errors.not_found"
handler500 = "codeai.kernel.api.errors.server_error"
