from django.contrib import admin

from deployments.models import Deployment


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "config", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "config__name"]
    list_select_related = ["config"]
    autocomplete_fields = ["config"]
    readonly_fields = ["id", "status", "created_at", "updated_at"]
