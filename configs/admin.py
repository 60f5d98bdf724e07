from django.contrib import admin

from configs.models import Config


@admin.register(Config)
class ConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "is_valid", "updated_at", "created_at"]
    search_fields = ["name", "content"]
    readonly_fields = ["id", "ast", "validation_errors", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    @admin.display(boolean=True, description="valid")
    def is_valid(self, obj: Config) -> bool:
        return obj.is_valid
