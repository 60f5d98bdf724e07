"""URL routes. Every path but the health probes and metrics needs a login or a token."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
