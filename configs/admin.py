"""Configs in the admin: a monospace editor with line numbers, problems pointed out by line
and column with the offending line, the syntax tree read-only, the history of revisions with
a highlighted diff between any two and "Restore this revision". Saving, checking, restoring
and deleting go through ``configs.services`` like the API."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from codeai import dsl
from codeai.kernel.admin_site import LeanChangeList, ServiceModelAdmin, status_badge
from codeai.kernel.exceptions import CodeAIError
from configs import selectors
from configs.models import Config, ConfigRevision
from configs.services import (
    config_check,
    config_create,
    config_delete,
    config_revision_restore,
    config_size_problem,
    config_update,
)


class CodeEditorWidget(forms.Textarea):
    """A textarea in a monospace editor frame with a line-number gutter (drawn by
    editor.js, which also marks the lines that have problems and colours the DSL syntax
    with the keywords listed here)."""

    class Media:
        js = ["codeai/admin/editor.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"spellcheck": "false", "autocomplete": "off", "wrap": "off", "rows": 22}
        super().__init__({**defaults, **(attrs or {})})

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        textarea = super().render(name, value, attrs, renderer)
        return format_html(
            '<div class="codeai-editor-wrap"><div class="codeai-editor" data-check-url="{}" '
            'data-keywords="{}"><div class="codeai-editor-gutter" aria-hidden="true"></div>{}'
            "</div></div>",
            reverse("admin:configs_config_check"),
            " ".join(dsl.keywords()),
            textarea,
        )


def problems_html(content: str, problems: list[dict[str, Any]]) -> str:
    """Each problem as ``line:column kind: message`` above the offending line and a caret
    under its column."""
    lines = content.splitlines()

    def excerpt(problem: dict[str, Any]) -> str:
        line, column = problem.get("line") or 0, problem.get("column") or 0
        if not 1 <= line <= len(lines):
            return ""
        gutter = f"{line} | "
        return f"{gutter}{lines[line - 1]}\n{' ' * (len(gutter) + max(column - 1, 0))}^"

    return format_html(
        '<ul class="codeai-problems">{}</ul>',
        format_html_join(
            "",
            '<li class="codeai-problem" data-line="{}"><span class="codeai-pos">line {}, column {}'
            "</span> {}: {}<pre>{}</pre></li>",
            (
                (
                    p.get("line") or "",
                    p.get("line"),
                    p.get("column"),
                    p.get("kind", "Error"),
                    p.get("message", ""),
                    excerpt(p),
                )
                for p in problems
            ),
        ),
    )


def problems_summary(problems: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"line {p.get('line')}, column {p.get('column')}: {p.get('message')}" for p in problems
    )


def revision_validity(revision: ConfigRevision) -> str:
    if revision.is_valid:
        return status_badge("valid", "valid")
    count = len(revision.validation_errors)
    return status_badge("invalid", f"{count} problem{'s' if count != 1 else ''}")


def unified_diff_html(lines: list[str]) -> str:
    """A unified diff's lines, each marked by what it is (added, removed, hunk, header)."""

    def kind(line: str) -> str:
        if line.startswith(("+++", "---")):
            return "diff-header"
        if line.startswith("@@"):
            return "diff-hunk"
        return {"+": "diff_add", "-": "diff_sub"}.get(line[:1], "diff-same")

    return format_html(
        '<pre class="codeai-unified-diff">{}</pre>',
        format_html_join("", '<span class="{}">{}</span>', ((kind(x), x) for x in lines)),
    )


# The classes of each side's cell per kind of row (styled by codeai.css).
SIDE_CLASSES = {
    "equal": ("", ""),
    "replace": ("diff_chg", "diff_chg"),
    "delete": ("diff_sub", ""),
    "insert": ("", "diff_add"),
}


def side_by_side_html(rows: list[selectors.DiffRow]) -> str:
    """A side-by-side diff as a table: line numbers and text of each side, changed cells
    marked (diff_sub removed, diff_add added, diff_chg changed)."""

    def cells(row: selectors.DiffRow) -> str:
        if row.kind == "gap":
            return format_html('<tr class="diff-gap"><td colspan="4">⋯</td></tr>')
        old_class, new_class = SIDE_CLASSES[row.kind]
        return format_html(
            '<tr><td class="diff_header">{}</td><td class="{}">{}</td>'
            '<td class="diff_header">{}</td><td class="{}">{}</td></tr>',
            row.old_number or "",
            old_class,
            row.old_line if row.old_line is not None else "",
            row.new_number or "",
            new_class,
            row.new_line if row.new_line is not None else "",
        )

    return format_html(
        '<table class="diff"><tbody>{}</tbody></table>',
        mark_safe("".join(cells(row) for row in rows)),  # each row escaped by format_html
    )


class ValidityFilter(admin.SimpleListFilter):
    title = "validity"
    parameter_name = "valid"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Valid"), ("no", "With problems")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(validation_errors=[])
        if self.value() == "no":
            return queryset.exclude(validation_errors=[])
        return queryset


def unix_newlines(text: str) -> str:
    """Browsers send a textarea's line ends as CRLF: a config keeps plain newlines."""
    return text.replace("\r\n", "\n")


class ConfigForm(forms.ModelForm):
    # Not stripped: the text is stored as typed, final newline included.
    content = forms.CharField(strip=False, widget=CodeEditorWidget())

    class Meta:
        model = Config
        fields = ["name", "content"]

    def clean_content(self) -> str:
        content = unix_newlines(self.cleaned_data["content"])
        problem = config_size_problem(content)
        if problem:
            raise forms.ValidationError(problem)
        return content


@admin.register(Config)
class ConfigAdmin(ServiceModelAdmin):
    form = ConfigForm
    list_display = ["name", "validity", "updated_at", "created_at"]
    list_filter = [ValidityFilter, "updated_at"]
    search_fields = ["name", "content"]
    list_defer = ["content", "ast"]
    actions = ["validate"]
    readonly_fields = ["problems", "history", "syntax_tree", "id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "content"]}),
        ("Problems", {"fields": ["problems"]}),
        ("History", {"fields": ["history"]}),
        ("Syntax tree", {"fields": ["syntax_tree"]}),
        ("Record", {"fields": ["id", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type:
        return LeanChangeList

    def get_fieldsets(self, request: HttpRequest, obj: Config | None = None) -> list:
        # A new config has no verdict or tree yet: show just the editor.
        return self.fieldsets if obj else self.fieldsets[:1]

    def get_urls(self) -> list:
        check = path(
            "check/",
            self.admin_site.admin_view(self.check_view),
            name="configs_config_check",
        )
        extra = self.object_urls(
            [
                ("diff/", self.diff_view, "diff"),
                ("revisions/<int:number>/", self.revision_view, "revision"),
                ("revisions/<int:number>/restore/", self.restore_view, "restore"),
            ]
        )
        return [check, *extra, *super().get_urls()]

    # --- columns and read-only fields ------------------------------------------------

    @admin.display(description="validity", ordering="validation_errors")
    def validity(self, obj: Config) -> str:
        if obj.is_valid:
            return status_badge("valid", "valid")
        count = len(obj.validation_errors)
        return status_badge("invalid", f"{count} problem{'s' if count != 1 else ''}")

    @admin.display(description="problems")
    def problems(self, obj: Config) -> str:
        if obj.is_valid:
            return status_badge("valid", "no problems")
        return problems_html(obj.content, obj.validation_errors)

    @admin.display(description="revisions")
    def history(self, obj: Config) -> str:
        """Every revision, newest first: who saved it when, its validity, a link to it, and
        its diff with the one before; a form compares any two."""
        revisions = list(selectors.config_revisions(config_id=obj.pk))
        if not revisions:
            return "— (no revision yet: the next save of a changed text makes one)"
        diff_url = reverse("admin:configs_config_diff", args=[obj.pk])

        def row(revision: ConfigRevision) -> tuple:
            url = reverse("admin:configs_config_revision", args=[obj.pk, revision.number])
            previous = (
                format_html(
                    '<a href="{}?a={}&amp;b={}">diff with {}</a>',
                    diff_url,
                    revision.number - 1,
                    revision.number,
                    revision.number - 1,
                )
                if revision.number > 1
                else ""
            )
            return (
                url,
                revision.number,
                revision.created_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
                revision.created_by or "—",
                revision_validity(revision),
                previous,
            )

        rows = format_html_join(
            "",
            '<tr><td><a href="{}">revision {}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td></tr>",
            (row(revision) for revision in revisions),
        )
        newest = revisions[0].number
        compare = format_html(
            '<p><a class="button" id="codeai-compare" href="{}?a={}&amp;b={}">Compare any two'
            " revisions…</a></p>",
            diff_url,
            max(newest - 1, 1),
            newest,
        )
        return format_html(
            '<table class="codeai-history"><thead><tr><th>revision</th><th>saved</th><th>by</th>'
            "<th>validity</th><th></th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            compare,
        )

    @admin.display(description="syntax tree")
    def syntax_tree(self, obj: Config) -> str:
        if obj.ast is None:
            return "— (the text does not parse)"
        return format_html(
            '<details class="codeai-ast"><summary>Show the syntax tree (read-only JSON)</summary>'
            "<pre>{}</pre></details>",
            json.dumps(obj.ast, indent=2),
        )

    # --- saving and deleting through the services -------------------------------------

    def save_model(self, request: HttpRequest, obj: Config, form: forms.Form, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("name", "content")}
        if change:
            saved = config_update(config=obj, user=request.user, **fields)
        else:
            saved = config_create(user=request.user, **fields)
            # The admin goes on with the instance it built (log entry, redirect): make it
            # the saved row.
            obj.__dict__.update(saved.__dict__)
        if not saved.is_valid:
            messages.warning(
                request,
                f"Saved with {len(saved.validation_errors)} problem(s): "
                f"{problems_summary(saved.validation_errors)}",
            )

    def _stay_when_invalid(self, request: HttpRequest, obj: Config) -> None:
        """A config saved with problems reopens in the editor instead of the list."""
        if not obj.is_valid and "_save" in request.POST:
            request.POST = request.POST.copy()
            request.POST["_continue"] = "1"

    def response_add(self, request: HttpRequest, obj: Config, *args: Any) -> HttpResponse:
        self._stay_when_invalid(request, obj)
        return super().response_add(request, obj, *args)

    def response_change(self, request: HttpRequest, obj: Config) -> HttpResponse:
        self._stay_when_invalid(request, obj)
        return super().response_change(request, obj)

    def delete_object(self, obj: Config) -> None:
        config_delete(config=obj)

    # --- revisions: one, a diff between two, restoring one ------------------------------

    def _revision_or_404(self, config: Config, number: Any) -> ConfigRevision:
        revision = selectors.config_revision(config_id=config.pk, number=number)
        if revision is None:
            raise Http404(f"{config.name} has no revision {number}")
        return revision

    def _page(self, request: HttpRequest, config: Config, template: str, **context: Any) -> Any:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": config,
            "history_url": reverse("admin:configs_config_change", args=[config.pk]),
            **context,
        }
        return TemplateResponse(request, f"admin/configs/config/{template}", context)

    def revision_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        config = self.object_or_404(request, object_id, allowed=self.has_view_permission(request))
        revision = self._revision_or_404(config, number)
        latest = selectors.config_latest_revision(config_id=config.pk)
        return self._page(
            request,
            config,
            "revision.html",
            title=f"{config.name}: revision {revision.number}",
            revision=revision,
            validity=revision_validity(revision),
            problems=problems_html(revision.content, revision.validation_errors)
            if not revision.is_valid
            else "",
            is_latest=latest is not None and latest.number == revision.number,
            can_restore=self.has_change_permission(request, config),
            diff_url=reverse("admin:configs_config_diff", args=[config.pk]),
            latest=latest,
        )

    def diff_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Revision ``?a=`` against revision ``?b=``: side by side, or ``&view=unified``."""
        config = self.object_or_404(request, object_id, allowed=self.has_view_permission(request))
        old = self._revision_or_404(config, request.GET.get("a", ""))
        new = self._revision_or_404(config, request.GET.get("b", ""))
        unified = request.GET.get("view") == "unified"
        if unified:
            diff = unified_diff_html(selectors.revision_unified_diff(old, new))
        else:
            diff = side_by_side_html(selectors.revision_side_by_side_diff(old, new))
        return self._page(
            request,
            config,
            "diff.html",
            title=f"{config.name}: revision {old.number} → revision {new.number}",
            old=old,
            new=new,
            diff=diff,
            unified=unified,
            same=old.content == new.content,
            revisions=list(selectors.config_revisions(config_id=config.pk)),
            diff_url=reverse("admin:configs_config_diff", args=[config.pk]),
        )

    def restore_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        """ "Restore this revision": its text becomes the config's, as a new revision."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        config = self.object_or_404(request, object_id, allowed=self.has_change_permission(request))
        before = selectors.config_latest_revision(config_id=config.pk)
        try:
            config_revision_restore(config=config, number=number, user=request.user)
        except (CodeAIError, ValidationError) as error:
            messages.error(request, f"Revision {number} was not restored: {error}")
        else:
            latest = selectors.config_latest_revision(config_id=config.pk)
            if latest is None or (before is not None and latest.number == before.number):
                messages.info(request, f"Revision {number} is the current text: nothing changed.")
            else:
                messages.success(
                    request,
                    f"Restored revision {number}: its text is now revision {latest.number}.",
                )
        return HttpResponseRedirect(reverse("admin:configs_config_change", args=[config.pk]))

    # --- checking ---------------------------------------------------------------------

    @admin.action(description="Validate selected configs", permissions=["view"])
    def validate(self, request: HttpRequest, queryset: QuerySet) -> None:
        for config in queryset.only("name", "content"):
            problem = config_size_problem(config.content)
            if problem:  # stored before CODEAI_MAX_CONFIG_BYTES was lowered
                messages.error(request, f"{config.name}: {problem}")
                continue
            _tree, found = config_check(content=config.content)
            if found:
                messages.warning(
                    request, f"{config.name}: {len(found)} problem(s): {problems_summary(found)}"
                )
            else:
                messages.success(request, f"{config.name}: valid")

    def check_view(self, request: HttpRequest) -> JsonResponse:
        """The editor's "Check" button: problems of the text being edited, nothing saved."""
        if not self.has_view_permission(request):
            return JsonResponse({"error": "insufficient permissions"}, status=403)
        if request.method != "POST":
            return JsonResponse({"error": "POST the content to check"}, status=405)
        content = unix_newlines(request.POST.get("content", ""))
        problem = config_size_problem(content)
        if problem:
            return JsonResponse({"error": problem}, status=413)
        _tree, found = config_check(content=content)
        html = problems_html(content, found) if found else status_badge("valid", "no problems")
        return JsonResponse({"valid": not found, "errors": found, "html": html})
