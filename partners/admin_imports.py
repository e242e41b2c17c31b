"""The admin of partner CSV imports (upload, preview, import); see ``partners/imports.py``.

In the tenant's admin the add page is the upload; the change page shows the import's
status, progress, every error and a sample of the rows, with Import and Cancel buttons. The
rows themselves are read-only (only the import jobs write them). Operators read every
tenant's imports; uploading and importing happen in a tenant's own admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners import imports, partner_csv
from partners.admin_base import (
    ServiceRefused,
    TenantScopedAdmin,
    TenantScopedForm,
    admin_tenant,
    adopt,
    is_operator_mode,
    role_allows,
)
from partners.models import PartnerImport, PartnerImportStatus

#: Errors listed on the admin page (all of them are in the errors CSV of the console).
ADMIN_ERRORS_SHOWN = 500

READONLY_FIELDS = (
    "filename",
    "status",
    "created_by",
    "created_at",
    "total_rows",
    "processed_rows",
    "error_count",
    "created_count",
    "invited_count",
    "finished_at",
)


class PartnerImportUploadForm(TenantScopedForm):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8, one partner per row, in the format of the partner export. The rows are "
            "checked first; nothing is imported until you press Import on the next page."
        ),
    )

    class Meta:
        model = PartnerImport
        fields: list[str] = []

    def clean_file(self):
        upload = self.cleaned_data["file"]
        self.cleaned_data["text"] = imports.read_upload(upload)
        return upload


@admin.register(PartnerImport)
class PartnerImportAdmin(TenantScopedAdmin):
    form = PartnerImportUploadForm
    list_display = (
        "created_at",
        "filename",
        "status",
        "total_rows",
        "error_count",
        "created_count",
        "invited_count",
        "created_by",
    )
    list_display_links = ("created_at", "filename")
    list_filter = ("status",)
    list_select_related = ("created_by",)
    search_fields = ("filename",)
    ordering = ("-created_at", "-id")
    change_form_template = "admin/partners/partnerimport/change_form.html"

    @admin.display(description=gettext_lazy("errors"))
    def error_count(self, obj):
        return len(obj.errors or [])

    # -- permissions: uploading and importing in the tenant's admin; the rows are read-only
    def _tenant_mode(self, request) -> bool:
        return admin_tenant(request) is not None and not is_operator_mode(request)

    def has_add_permission(self, request):
        return self._tenant_mode(request) and role_allows(request, imports.IMPORT_PERM)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # -- the add page is the upload form; the change page is read-only
    def get_model_fields(self, request, obj=None) -> list[str]:
        return ["file"] if obj is None else list(READONLY_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return READONLY_FIELDS if obj is not None else ()

    def save_in_tenant(self, request, obj, form, change, *, actor) -> None:
        if actor is None:  # operators do not upload (has_add_permission), but never silently
            raise ServiceRefused([_("Upload the file in the tenant's own admin.")])
        saved = imports.partner_import_start(
            actor=actor, filename=form.cleaned_data["file"].name, text=form.cleaned_data["text"]
        )
        adopt(obj, saved)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, _("File uploaded: its rows are being checked."), messages.SUCCESS
        )
        return HttpResponseRedirect(self._change_url(obj.pk))

    def _change_url(self, pk) -> str:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return reverse(f"admin:{info}_change", args=[pk], current_app=self.admin_site.name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        tenant_mode = self._tenant_mode(request) and role_allows(request, imports.IMPORT_PERM)
        show_sample = obj.status in (PartnerImportStatus.PREVIEW, PartnerImportStatus.INVALID)
        can_cancel = obj.status in imports.CANCELLABLE_AT_ONCE or (
            obj.status == PartnerImportStatus.IMPORTING and not imports.cancel_requested(obj)
        )
        extra_context = {
            "import_job": obj,
            "progress": imports.partner_import_progress(obj),
            "in_progress": obj.status in imports.IN_PROGRESS,
            "import_errors": obj.errors[:ADMIN_ERRORS_SHOWN],
            "more_errors": max(len(obj.errors) - ADMIN_ERRORS_SHOWN, 0),
            "sample": imports.partner_import_sample(obj) if show_sample else [],
            "columns": partner_csv.COLUMNS,
            "can_commit": tenant_mode
            and obj.status == PartnerImportStatus.PREVIEW
            and not obj.errors,
            "can_cancel": tenant_mode and can_cancel,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # -- Import and Cancel (tenant mode only)
    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/commit/",
                self.admin_site.admin_view(self.commit_view),
                name=f"{info}_commit",
            ),
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name=f"{info}_cancel",
            ),
            *super().get_urls(),
        ]

    def _act(self, request, object_id, service, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self._tenant_mode(request):
            raise Http404  # imports run per tenant: from the tenant's own admin
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        if not role_allows(request, imports.IMPORT_PERM):
            raise PermissionDenied
        try:
            with self.acting_in(request, obj.tenant) as actor:
                service(actor=actor, job=obj)
        except ServiceRefused as refused:
            for message in refused.messages:
                self.message_user(request, message, messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(obj.pk))

    def commit_view(self, request, object_id):
        return self._act(
            request,
            object_id,
            imports.partner_import_commit_request,
            _("Importing: the partners appear when every row is in."),
        )

    def cancel_view(self, request, object_id):
        return self._act(
            request, object_id, imports.partner_import_cancel, _("The import is cancelled.")
        )
