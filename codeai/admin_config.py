"""Django's admin app with the CodeAI site as its default (``admin.site``). Kept apart from
``codeai.admin_site``, which imports models and so cannot load while the apps do."""

from django.contrib.admin.apps import AdminConfig


class CodeAIAdminConfig(AdminConfig):
    default_site = "codeai.admin_site.CodeAIAdminSite"
