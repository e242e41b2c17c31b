"""Staff console pages of partner organizations: the directory (search, filters, sort, pages,
CSV export), adding a partner, the partner page, editing, assigning managers and changing the
status. Thin: parse a form, call partners.selectors / partners.services, render.

Who sees what is the selectors' rule: staff with ``partners.view_all_partners`` see every
partner of the tenant, channel managers the partners assigned to them; any other partner is a
404. Changing a partner needs ``selectors.can_manage_partner`` (403 otherwise).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from partners import metrics as metric_registry
from partners import panels, partner_csv, selectors, services, tier_engine, urls_imports
from partners.forms_directory import ManagersForm, PartnerFilterForm, PartnerForm, StatusForm
from partners.forms_tier_pin import TierPinForm, TierUnpinForm
from partners.models import (
    STATUS_TRANSITIONS,
    STATUSES_NEEDING_REASON,
    Membership,
    Partner,
    PartnerStatus,
    Tenant,
    User,
)
from partners.permissions import membership_permissions
from partners.tenancy import tenant_context
from partners.tier_display import format_metric_value
from partners.views import _apply_errors, _form_data, tenant_view

PAGE_SIZE = 25
#: Partners read per query while a CSV export streams.
EXPORT_CHUNK = 1000


def _partner_or_404(request: HttpRequest, pk: int) -> Partner:
    """The partner by (tenant, id) through the actor's visibility; a miss is a 404."""
    return get_object_or_404(selectors.partner_list(actor=request.membership), pk=pk)


def _require_manage(request: HttpRequest, partner: Partner) -> None:
    if not selectors.can_manage_partner(actor=request.membership, partner=partner):
        raise PermissionDenied


# ---------------------------------------------------------------- directory


@dataclass
class DirectoryRow:
    partner: Partner
    managers: list[User]


@dataclass
class Column:
    """A sortable column heading: the ``sort`` its link asks for and its current order."""

    label: str
    next_sort: str
    aria_sort: str


def _columns(current: str) -> dict[str, Column]:
    labels = {
        "name": _("Name"),
        "type": _("Type"),
        "status": _("Status"),
        "tier": _("Tier"),
        "activated": _("Activated"),
    }
    columns = {}
    for key, label in labels.items():
        if current == key:
            columns[key] = Column(label, f"-{key}", "ascending")
        elif current == f"-{key}":
            columns[key] = Column(label, key, "descending")
        else:
            columns[key] = Column(label, key, "")
    return columns


def _import_url() -> str:
    """The bulk import's start page, if the import pages are mounted (their own module)."""
    for pattern in urls_imports.urlpatterns:
        if str(pattern.pattern) == "" and getattr(pattern, "name", None):
            return reverse(f"partner_imports:{pattern.name}")
    return ""


def _filter_form(request: HttpRequest) -> PartnerFilterForm:
    return PartnerFilterForm(request.GET or None)


def _filtered_partners(request: HttpRequest, form: PartnerFilterForm):
    filters = form.filters() if form.is_bound else selectors.PartnerFilters()
    return selectors.partner_directory(actor=request.membership, filters=filters)


def _directory_response(request: HttpRequest, form: PartnerFilterForm) -> HttpResponse:
    valid = not form.is_bound or form.is_valid()
    partners = _filtered_partners(request, form) if valid else Partner.objects.none()
    page = Paginator(partners, PAGE_SIZE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    # One query for the managers of the whole page, not one per row.
    managers = selectors.partner_managers(partner_ids=[p.pk for p in listed])
    sort = (form.cleaned_data.get("sort") if valid and form.is_bound else "") or "name"
    context = {
        "form": form,
        "page": page,
        "rows": [DirectoryRow(partner=p, managers=managers.get(p.pk, [])) for p in listed],
        "columns": _columns(sort),
        "sees_all": selectors.sees_all_partners(request.membership),
        "can_add": request.user.has_perm("partners.add_partner"),
        "import_url": _import_url() if request.user.has_perm("partners.import_partner") else "",
    }
    # htmx swaps only the results when a filter changes; a full page otherwise.
    partial = bool(request.htmx) and request.htmx.target == "partner-results"
    template = (
        "partners/console/_directory_results.html" if partial else "partners/console/directory.html"
    )
    return render(request, template, context, status=200 if valid else 400)


@tenant_view("partners.view_partner")
@require_GET
def partner_directory(request: HttpRequest) -> HttpResponse:
    return _directory_response(request, _filter_form(request))


class _Echo:
    """A file-like object whose ``write`` returns what it was given (csv.writer -> str)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(partners, *, tenant: Tenant, actor: Membership) -> Iterator[str]:
    # The response streams after the view has returned, outside the request's tenant
    # context, so the rows are read in a context of their own.
    writer = csv.writer(_Echo())
    with tenant_context(tenant, actor):
        for row in partner_csv.export_rows(
            partners.iterator(chunk_size=EXPORT_CHUNK), chunk=EXPORT_CHUNK
        ):
            yield writer.writerow(row)


@tenant_view("partners.view_partner")
@require_GET
def partner_export(request: HttpRequest) -> HttpResponse:
    """The filtered directory as CSV, in the bulk import's format (partners.partner_csv)."""
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return _directory_response(request, form)
    partners = _filtered_partners(request, form)
    response = StreamingHttpResponse(
        _csv_lines(partners, tenant=request.tenant, actor=request.membership),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"partners-{request.tenant.slug}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------- create and edit


@tenant_view("partners.add_partner")
def partner_create(request: HttpRequest) -> HttpResponse:
    can_assign = request.user.has_perm("partners.assign_partner_manager")
    form = PartnerForm(_form_data(request), creating=True, can_assign=can_assign)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            partner = services.partner_create(
                actor=request.membership,
                status=data["status"],
                status_reason=data["status_reason"],
                managers=list(data.get("managers") or []),
                **form.profile(),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s added.") % {"name": partner.name})
            return redirect("partners_console:detail", pk=partner.pk)
    return render(
        request,
        "partners/console/form.html",
        {"form": form, "partner": None},
        status=400 if form.errors else 200,
    )


@tenant_view("partners.change_partner")
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    _require_manage(request, partner)
    form = PartnerForm(_form_data(request), creating=False, can_assign=False, partner=partner)
    if request.method == "POST" and form.is_valid():
        changes = form.changed_profile()
        try:
            if changes:
                services.partner_update(actor=request.membership, partner=partner, **changes)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("partners_console:detail", pk=partner.pk)
    return render(
        request,
        "partners/console/form.html",
        {"form": form, "partner": partner},
        status=400 if form.errors else 200,
    )


@tenant_view("partners.assign_partner_manager")
def partner_managers(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    current = selectors.partner_managers(partner_ids=[partner.pk])[partner.pk]
    form = ManagersForm(_form_data(request), current_user_ids=[u.pk for u in current])
    if request.method == "POST" and form.is_valid():
        try:
            services.partner_assign_managers(
                actor=request.membership,
                partner=partner,
                managers=list(form.cleaned_data["managers"]),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Managers saved."))
            return redirect("partners_console:detail", pk=partner.pk)
    return render(
        request,
        "partners/console/managers.html",
        {"form": form, "partner": partner, "current": current},
        status=400 if form.errors else 200,
    )


# ---------------------------------------------------------------- partner page


@dataclass
class MetricValue:
    label: str
    value: str


def _number(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _metric_text(key: str, value, currency: str) -> MetricValue:
    """A metric value as the portal shows it (money, percentages: partners.tier_display)."""
    metric = metric_registry.get(key)
    label = str(metric.label) if metric else key
    unit = metric.unit if metric else ""
    return MetricValue(label, format_metric_value(_number(value), unit, currency))


@dataclass
class TierHistoryRow:
    change: object
    values: list[MetricValue]
    warnings: list[str]


@dataclass
class Transition:
    status: str
    label: str
    needs_reason: bool


def _transition_label(current: str, target: str) -> str:
    if target == PartnerStatus.SUSPENDED:
        return _("Suspend")
    if target == PartnerStatus.ACTIVE:
        return _("Reactivate") if current == PartnerStatus.SUSPENDED else _("Activate")
    if target == PartnerStatus.OFFBOARDED:
        return _("Offboard")
    if target == PartnerStatus.ONBOARDING:
        return _("Start onboarding")
    return str(PartnerStatus(target).label)


def _detail_response(
    request: HttpRequest,
    partner: Partner,
    *,
    status_form: StatusForm | None = None,
    pin_form: TierPinForm | None = None,
    unpin_form: TierUnpinForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.membership
    permissions = membership_permissions(actor)
    currency = request.tenant.default_currency
    can_manage = selectors.can_manage_partner(actor=actor, partner=partner)
    values, warnings = selectors.partner_metrics(partner=partner)
    tier_history = [
        TierHistoryRow(
            change=change,
            values=[
                _metric_text(key, value, currency)
                for key, value in sorted((change.metrics or {}).get("values", {}).items())
            ],
            warnings=list((change.metrics or {}).get("warnings", [])),
        )
        for change in selectors.tier_history(partner=partner)
    ]
    context = {
        "partner": partner,
        "managers": selectors.partner_managers(partner_ids=[partner.pk])[partner.pk],
        "status_history": selectors.partner_status_history(partner=partner),
        "tier_history": tier_history,
        "metrics": [_metric_text(key, value, currency) for key, value in sorted(values.items())],
        "metric_warnings": warnings,
        "can_manage": can_manage,
        "can_assign": "partners.assign_partner_manager" in permissions,
        "can_invite": "partners.invite_partner_user" in permissions,
        "can_view_people": "partners.view_membership" in permissions,
        "can_view_invitations": "partners.view_invitation" in permissions,
        "can_pin": tier_engine.PIN_PERMISSION in permissions,
        "panels": panels.render_panels(request, partner),
    }
    if context["can_pin"]:
        context["pin_form"] = pin_form or TierPinForm(
            initial={"tier": partner.tier_id, "until": partner.tier_pinned_until},
            tiers=selectors.tier_list(),
        )
        context["unpin_form"] = unpin_form or TierUnpinForm()
    if context["can_view_people"]:
        context["people"] = selectors.membership_list(actor=actor).filter(partner=partner)
    if context["can_view_invitations"]:
        context["invitations"] = selectors.pending_invitation_list(actor=actor).filter(
            partner=partner
        )
    if can_manage:
        context["transitions"] = [
            Transition(value, _transition_label(partner.status, value),
                       value in STATUSES_NEEDING_REASON)
            for value in PartnerStatus.values
            if value in STATUS_TRANSITIONS[partner.status]
        ]  # fmt: skip
        context["status_form"] = status_form or StatusForm()
    return render(request, "partners/console/detail.html", context, status=status)


@tenant_view("partners.view_partner")
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner_or_404(request, pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return _detail_response(request, partner)


@tenant_view("partners.change_partner")
def partner_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Suspend, reactivate, or any other transition ``STATUS_TRANSITIONS`` allows (POST
    only; the partner is looked up first, so a partner the actor may not see is a 404)."""
    partner = _partner_or_404(request, pk)
    _require_manage(request, partner)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            partner = services.partner_set_status(
                actor=request.membership,
                partner=partner,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is now %(status)s.")
                % {"name": partner.name, "status": partner.get_status_display().lower()},
            )
            return redirect("partners_console:detail", pk=partner.pk)
    return _detail_response(request, partner, status_form=form, status=400)


# ---------------------------------------------------------------- tier pin


@tenant_view(tier_engine.PIN_PERMISSION)
def partner_pin(request: HttpRequest, pk: int) -> HttpResponse:
    """Pin the partner's tier until a date (POST only): the tier engine leaves it alone."""
    partner = _partner_or_404(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = TierPinForm(request.POST, tiers=selectors.tier_list())
    if form.is_valid():
        data = form.cleaned_data
        try:
            tier_engine.tier_pin(
                actor=request.membership, partner=partner, tier=data["tier"],
                until=data["until"], reason=data["reason"].strip(),
            )  # fmt: skip
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("The tier of %(name)s is pinned until %(until)s.")
                % {"name": partner.name, "until": data["until"].isoformat()},
            )
            return redirect("partners_console:detail", pk=partner.pk)
    return _detail_response(request, partner, pin_form=form, status=400)


@tenant_view(tier_engine.PIN_PERMISSION)
def partner_unpin(request: HttpRequest, pk: int) -> HttpResponse:
    """End the partner's tier pin (POST only): the next engine run evaluates it again."""
    partner = _partner_or_404(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = TierUnpinForm(request.POST)
    if form.is_valid():
        try:
            tier_engine.tier_unpin(
                actor=request.membership, partner=partner, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request, _("The tier pin of %(name)s is removed.") % {"name": partner.name}
            )
            return redirect("partners_console:detail", pk=partner.pk)
    return _detail_response(request, partner, unpin_form=form, status=400)
