"""Lead pages. Staff console (``deals.manage_lead``): the lead list with each lead's current
offer, creating a lead, importing a CSV file (a preview of every row's errors, then an
all-or-nothing import), a lead's page with its offer history and routing reasons, and routing
again. Partner portal (``deals.respond_lead``): the leads offered to the partner with the time
left to answer, accept, decline with a reason. Thin: parse a form, call deals.leads /
deals.selectors_leads, render."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from deals import leads, selectors_leads
from deals.forms_leads import (
    DeclineForm,
    ImportCommitForm,
    LeadFilterForm,
    LeadForm,
    LeadImportForm,
)
from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus
from partners.views import tenant_view

PAGE_SIZE = 25
#: How long an import preview waits for its commit.
IMPORT_PREVIEW_SECONDS = 30 * 60


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _url_or_none(name: str, *args) -> str | None:
    """A page of another part of the product, if it is there (no dead links)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# ---------------------------------------------------------------- staff console


@require_GET
@tenant_view(leads.MANAGE)
def lead_list(request: HttpRequest) -> HttpResponse:
    actor = request.membership
    form = LeadFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = selectors_leads.lead_search(
        actor=actor, status=filters.get("status", ""), q=filters.get("q", "")
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "deals/leads/list.html",
        {
            "form": form,
            "page": page,
            "now": timezone.now(),
            "waiting": selectors_leads.waiting_for_routing(actor=actor),
        },
        status=400 if form.errors else 200,
    )


@tenant_view(leads.MANAGE)
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = leads.lead_create(actor=request.membership, data=form.to_input())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if lead.status == LeadStatus.OFFERED:
                messages.success(request, _("Lead created and offered to a partner."))
            else:
                messages.warning(request, _("Lead created, but no partner can take it now."))
            return redirect("leads:detail", lead.pk)
    return render(
        request, "deals/leads/form.html", {"form": form}, status=400 if form.errors else 200
    )


def _import_key(request: HttpRequest, token: str) -> str:
    membership = request.membership
    return f"trellis:lead-import:{membership.tenant_id}:{membership.pk}:{token}"


@tenant_view(leads.MANAGE)
def lead_import(request: HttpRequest) -> HttpResponse:
    """Upload a file and see every row's errors; nothing is written here."""
    actor = request.membership
    if request.method != "POST":
        return render(request, "deals/leads/import.html", _import_context(LeadImportForm()))
    form = LeadImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "deals/leads/import.html", _import_context(form), status=400)
    content = form.cleaned_data["file"].read(leads.MAX_IMPORT_BYTES + 1)
    parsed = leads.lead_import_preview(actor=actor, content=content)
    token = ""
    if parsed.valid:
        token = secrets.token_urlsafe(24)
        cache.set(_import_key(request, token), content, IMPORT_PREVIEW_SECONDS)
    context = {
        **_import_context(LeadImportForm()),
        "parsed": parsed,
        "file_name": form.cleaned_data["file"].name,
        "commit_form": ImportCommitForm(initial={"token": token}) if token else None,
    }
    return render(request, "deals/leads/import.html", context, status=200 if parsed.valid else 400)


def _import_context(form: LeadImportForm) -> dict:
    return {
        "form": form,
        "columns": leads.IMPORT_COLUMNS,
        "required_columns": leads.REQUIRED_COLUMNS,
        "max_rows": leads.MAX_IMPORT_ROWS,
    }


@require_POST
@tenant_view(leads.MANAGE)
def lead_import_commit(request: HttpRequest) -> HttpResponse:
    """Import the previewed file: every lead or none."""
    form = ImportCommitForm(request.POST)
    content, key = None, ""
    if form.is_valid():
        key = _import_key(request, form.cleaned_data["token"])
        content = cache.get(key)
    if content is None:
        context = _import_context(LeadImportForm())
        context["expired"] = True
        return render(request, "deals/leads/import.html", context, status=400)
    try:
        created = leads.lead_import_csv(actor=request.membership, content=content)
    except ValidationError as exc:
        # The rules changed since the preview (a currency was removed): show it again.
        parsed = leads.lead_import_preview(actor=request.membership, content=content)
        context = {**_import_context(LeadImportForm()), "parsed": parsed, "errors": exc.messages}
        return render(request, "deals/leads/import.html", context, status=400)
    cache.delete(key)
    messages.success(
        request,
        ngettext(
            "%(count)d lead imported; it is being routed to a partner.",
            "%(count)d leads imported; they are being routed to partners.",
            len(created),
        )
        % {"count": len(created)},
    )
    return redirect("leads:list")


@require_GET
@tenant_view(leads.MANAGE)
def lead_import_template(request: HttpRequest) -> HttpResponse:
    """A CSV file with the header row and one example lead."""
    example = {
        "company_name": "Initech GmbH",
        "company_domain": "initech.example",
        "country": "DE",
        "region": "EMEA",
        "competency": "Security",
        "contact_name": "Peter Gibbons",
        "contact_email": "peter@initech.example",
        "contact_phone": "+49 30 1234567",
        "estimated_value": "25000.00",
        "currency": request.tenant.default_currency,
        "notes": "",
    }
    lines = [",".join(leads.IMPORT_COLUMNS), ",".join(example[c] for c in leads.IMPORT_COLUMNS)]
    response = HttpResponse("\r\n".join(lines) + "\r\n", content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="leads.csv"'
    return response


def _lead_or_404(request: HttpRequest, pk: int) -> Lead:
    return get_object_or_404(selectors_leads.lead_list(actor=request.membership), pk=pk)


@require_GET
@tenant_view(leads.MANAGE)
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_or_404(request, pk)
    return render(request, "deals/leads/detail.html", _detail_context(lead))


def _detail_context(lead: Lead) -> dict:
    return {
        "lead": lead,
        "offers": selectors_leads.lead_offer_history(lead=lead),
        "gaps": selectors_leads.lead_routing_gaps(lead=lead),
        "can_reroute": lead.status in (LeadStatus.NEW, LeadStatus.OFFERED, LeadStatus.UNROUTED),
        "deal_url": _url_or_none("deals_console:detail", lead.deal_id) if lead.deal_id else None,
        "now": timezone.now(),
    }


@require_POST
@tenant_view(leads.MANAGE)
def lead_reroute(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_or_404(request, pk)
    try:
        offer = leads.lead_route(actor=request.membership, lead=lead)
    except ValidationError as exc:
        context = {**_detail_context(lead), "errors": exc.messages}
        return render(request, "deals/leads/detail.html", context, status=400)
    if offer is None:
        messages.warning(request, _("No partner can take this lead now."))
    else:
        messages.success(
            request, _("Lead offered to %(partner)s.") % {"partner": offer.partner.name}
        )
    return redirect("leads:detail", lead.pk)


# ---------------------------------------------------------------- partner portal


@require_GET
@tenant_view(leads.RESPOND)
def offer_list(request: HttpRequest) -> HttpResponse:
    offers = selectors_leads.offer_list(actor=request.membership)
    now = timezone.now()
    pending = list(offers.filter(status=OfferStatus.PENDING, expires_at__gt=now))
    past = offers.exclude(pk__in=[offer.pk for offer in pending])
    page = Paginator(past, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "deals/leads/offers.html", {"pending": pending, "page": page, "now": now}
    )


def _offer_or_404(request: HttpRequest, pk: int) -> LeadOffer:
    return get_object_or_404(selectors_leads.offer_list(actor=request.membership), pk=pk)


def _offer_response(
    request: HttpRequest,
    offer: LeadOffer,
    *,
    form: DeclineForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    open_ = offer.status == OfferStatus.PENDING and offer.expires_at > now
    return render(
        request,
        "deals/leads/offer_detail.html",
        {
            "offer": offer,
            "lead": offer.lead,
            "open": open_,
            "timed_out": offer.status == OfferStatus.PENDING and not open_,
            "decline_form": form or DeclineForm(),
            "errors": errors or [],
            "deal_url": (
                _url_or_none("deals_portal:detail", offer.lead.deal_id)
                if offer.status == OfferStatus.ACCEPTED and offer.lead.deal_id
                else None
            ),
            "now": now,
        },
        status=status,
    )


@require_GET
@tenant_view(leads.RESPOND)
def offer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _offer_response(request, _offer_or_404(request, pk))


@require_POST
@tenant_view(leads.RESPOND)
def offer_accept(request: HttpRequest, pk: int) -> HttpResponse:
    offer = _offer_or_404(request, pk)
    try:
        offer = leads.lead_accept(actor=request.membership, offer=offer)
    except ValidationError as exc:
        offer = _offer_or_404(request, pk)
        return _offer_response(request, offer, errors=exc.messages, status=400)
    messages.success(
        request,
        _("You accepted the lead. It is now your approved registration of %(company)s.")
        % {"company": offer.lead.company_name},
    )
    deal_url = _url_or_none("deals_portal:detail", offer.lead.deal_id)
    return redirect(deal_url or reverse("leads:offer", args=[offer.pk]))


@require_POST
@tenant_view(leads.RESPOND)
def offer_decline(request: HttpRequest, pk: int) -> HttpResponse:
    offer = _offer_or_404(request, pk)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            leads.lead_decline(
                actor=request.membership, offer=offer, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("You declined the lead. Thank you for saying why."))
            return redirect("leads:offered")
    return _offer_response(request, _offer_or_404(request, pk), form=form, status=400)
