"""Django's admin app with the CodeAI site as its default (``admin.site``). Kept apart from
``codeai.admin_index``, which imports models and so cannot load while the apps do."""

from django.contrib.admin.apps import AdminConfig


class CodeAIAdminConfig(AdminConfig):
    default_site = "codeai.admin_index.CodeAIAdminSite"
