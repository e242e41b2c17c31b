"""Staff console pages of the partner CSV import: upload, check (with progress), preview, import,
cancel; the template file and an export in the same format. Tenant admins only (the
``partners.import_partner`` permission). Thin: the work is in ``partners.imports``."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from partners import imports, partner_csv, selectors
from partners.models import Membership, PartnerImport, PartnerImportStatus, Tenant
from partners.tenancy import tenant_context
from partners.views import _apply_errors, tenant_view

ERRORS_PER_PAGE = 100
RECENT_IMPORTS = 20


class PartnerImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8, one partner per row, in the format of the template."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        self.cleaned_data["text"] = imports.read_upload(upload)
        return upload


def _import_or_404(pk: int) -> PartnerImport:
    """An import of this tenant by id (the scoped manager): another tenant's is a 404."""
    return get_object_or_404(imports.partner_import_list(), pk=pk)


def _limits() -> dict:
    return {
        "max_megabytes": f"{imports.MAX_BYTES / (1024 * 1024):g}",
        "max_rows": imports.MAX_ROWS,
        "columns": partner_csv.COLUMNS,
        "required_columns": partner_csv.REQUIRED,
        "list_columns": partner_csv.LIST_COLUMNS,
        "list_separator": partner_csv.LIST_SEPARATOR,
    }


@tenant_view(imports.IMPORT_PERM)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    form = PartnerImportForm(request.POST, request.FILES) if request.method == "POST" else None
    if form is not None and form.is_valid():
        try:
            job = imports.partner_import_start(
                actor=request.membership,
                filename=form.cleaned_data["file"].name,
                text=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("File uploaded: its rows are being checked."))
            return redirect("partner_imports:detail", pk=job.pk)
    context = {
        "form": form or PartnerImportForm(),
        "recent_imports": imports.partner_import_list()[:RECENT_IMPORTS],
        **_limits(),
    }
    return render(
        request, "partners/imports/upload.html", context, status=400 if form is not None else 200
    )


def _detail_response(request: HttpRequest, job: PartnerImport, *, status: int = 200):
    errors = Paginator(job.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    show_sample = job.status in (PartnerImportStatus.PREVIEW, PartnerImportStatus.INVALID)
    context = {
        "job": job,
        "progress": imports.partner_import_progress(job),
        "in_progress": job.status in imports.IN_PROGRESS,
        "errors_page": errors,
        "sample": imports.partner_import_sample(job) if show_sample else [],
        "can_commit": job.status == PartnerImportStatus.PREVIEW and not job.errors,
        "can_cancel": job.status in imports.CANCELLABLE_AT_ONCE
        or job.status == PartnerImportStatus.IMPORTING,
        "cancel_requested": job.status == PartnerImportStatus.IMPORTING
        and imports.cancel_requested(job),
        **_limits(),
    }
    return render(request, "partners/imports/detail.html", context, status=status)


@tenant_view(imports.IMPORT_PERM)
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_response(request, _import_or_404(pk))


@tenant_view(imports.IMPORT_PERM)
@require_GET
@never_cache
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the detail page polls (htmx, every second while in progress).
    Once the status has moved on from the one the page shows, the page reloads itself."""
    job = _import_or_404(pk)
    seen = request.GET.get("seen", "")
    response = render(
        request,
        "partners/imports/_progress.html",
        {
            "job": job,
            "progress": imports.partner_import_progress(job),
            "in_progress": job.status in imports.IN_PROGRESS,
        },
    )
    if seen and seen != job.status:
        response["HX-Refresh"] = "true"
    return response


def _act(request: HttpRequest, pk: int, service, done: str) -> HttpResponse:
    job = _import_or_404(pk)
    try:
        job = service(actor=request.membership, job=job)
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return _detail_response(request, job, status=400)
    messages.success(request, done)
    return redirect("partner_imports:detail", pk=job.pk)


@tenant_view(imports.IMPORT_PERM)
@require_POST
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        imports.partner_import_commit_request,
        _("Importing: the partners appear when every row is in."),
    )


@tenant_view(imports.IMPORT_PERM)
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, imports.partner_import_cancel, _("The import is cancelled."))


def _csv_download(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@tenant_view(imports.IMPORT_PERM)
@require_GET
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    job = _import_or_404(pk)
    return _csv_download(imports.errors_csv(job), f"partner-import-{job.pk}-errors.csv")


@tenant_view(imports.IMPORT_PERM)
@require_GET
def import_template(request: HttpRequest) -> HttpResponse:
    return _csv_download(imports.template_csv(), "partners-template.csv")


class _Echo:
    """A file-like object whose write returns what it was given (csv.writer -> str)."""

    def write(self, value: str) -> str:
        return value


def _export_lines(tenant: Tenant, membership: Membership) -> Iterator[str]:
    # The response streams after the view has returned, outside the request's tenant
    # context: the generator opens its own for the rows it reads.
    writer = csv.writer(_Echo())
    with tenant_context(tenant, membership):
        partners = selectors.partner_list(actor=membership).iterator(chunk_size=1000)
        for row in partner_csv.export_rows(partners):
            yield writer.writerow(row)


@tenant_view(imports.IMPORT_PERM)
@require_GET
def import_export(request: HttpRequest) -> HttpResponse:
    """Every partner in the import format: export, edit, import into another program."""
    response = StreamingHttpResponse(
        _export_lines(request.tenant, request.membership), content_type="text/csv; charset=utf-8"
    )
    filename = f"partners-{request.tenant.slug}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
