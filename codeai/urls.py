"""URL routes. Every path but the health probes and metrics needs a login or a token."""

from django.contrib import admin
from django.urls import include, path

from codeai.middleware import probe_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("codeai.api.urls")),
    # /health, /ready, /live and /metrics: answered by codeai.middleware, without login.
    *probe_urlpatterns(),
]

# JSON under /api/, Django's pages elsewhere.
handler400 = "codeai.api.errors.bad_request"
handler404 = "codeai.api.errors.not_found"
handler500 = "codeai.api.errors.server_error"
