from django.contrib import admin

from executions.models import Execution


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ["id", "deployment", "status", "exit_code", "started_at", "completed_at"]
    list_filter = ["status", "started_at"]
    search_fields = ["deployment__name", "triggered_by_name"]
    list_select_related = ["deployment"]
    readonly_fields = [field.name for field in Execution._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False
