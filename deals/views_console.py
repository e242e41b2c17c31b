"""Staff console pages of deal registration: the review queue, the review (detail) page with
the conflict candidates side by side, the deals list across partners with its CSV export, and
recording a direct deal. Thin: parse a form, call deals.services / deals.selectors, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from deals import selectors, services
from deals.export import deals_csv, export_filename
from deals.forms import DealEntry
from deals.forms_console import (
    ApproveForm,
    BulkApproveForm,
    DealFilterForm,
    ExtensionDecisionForm,
    MarkLostForm,
    MarkWonForm,
    RejectForm,
    RequestInfoForm,
)
from deals.models import Deal, DealStatus, ExtensionStatus
from deals.selectors import DealFilters
from partners.models import Partner
from partners.views import tenant_view

PAGE_SIZE = 25

#: Memory kept for a CSV export before it spills to a temporary file on disk.


def _apply_errors(form, exc: ValidationError) -> None:
    """A service's refusal, shown on the form: field errors on their field, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _deal_or_404(request: HttpRequest, pk: int) -> Deal:
    """The deal by (tenant, id) through the actor's visibility; a miss is a 404."""
    return get_object_or_404(selectors.deal_list(actor=request.membership), pk=pk)


# ---------------------------------------------------------------- review queue


@dataclass
class QueueRow:
    deal: Deal
    waiting: timedelta | None
    overdue: bool
    conflicts: int
    selectable: bool


def _queue_response(
    request: HttpRequest, *, bulk_form: BulkApproveForm | None = None, status: int = 200
) -> HttpResponse:
    actor = request.membership
    rules = services.engagement_rules()
    sla = timedelta(hours=rules.review_sla_hours)
    now = timezone.now()
    queue = selectors.review_queue(actor=actor)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    deals = list(page.object_list)
    # A registration's own count is what its submission found; later submissions that
    # found it conflict with it just as much.
    later = selectors.later_conflict_counts(deal_ids=[deal.pk for deal in deals])
    rows = []
    for deal in deals:
        waiting = now - deal.submitted_at if deal.submitted_at else None
        conflicts = deal.conflict_count + later.get(deal.pk, 0)
        # The SLA clock runs while the vendor owes an answer, not while the partner does.
        pending_on_us = deal.status == DealStatus.SUBMITTED
        rows.append(
            QueueRow(
                deal=deal,
                waiting=waiting,
                overdue=pending_on_us and waiting is not None and waiting > sla,
                conflicts=conflicts,
                selectable=pending_on_us and conflicts == 0,
            )
        )
    overdue_count = queue.filter(status=DealStatus.SUBMITTED, submitted_at__lt=now - sla).count()
    context = {
        "page": page,
        "rows": rows,
        "sla_hours": rules.review_sla_hours,
        "overdue_count": overdue_count,
        "bulk_form": bulk_form or BulkApproveForm(),
        "any_selectable": any(row.selectable for row in rows),
    }
    return render(request, "deals/console/queue.html", context, status=status)


@tenant_view("deals.review_deal")
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    return _queue_response(request)


@tenant_view("deals.review_deal")
@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    form = BulkApproveForm(request.POST)
    if not form.is_valid():
        return _queue_response(request, bulk_form=form, status=400)
    deal_ids = form.cleaned_data["deal_ids"]
    try:
        approved = services.deals_bulk_approve(actor=request.membership, deal_ids=deal_ids)
    except ValidationError as exc:
        _apply_errors(form, exc)
        return _queue_response(request, bulk_form=form, status=400)
    if approved:
        messages.success(
            request,
            ngettext(
                "Approved %(count)d registration.", "Approved %(count)d registrations.",
                len(approved),
            ) % {"count": len(approved)},
        )  # fmt: skip
    skipped = len(deal_ids) - len(approved)
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(count)d registration was left for a review of its own: it has a conflict "
                "or is no longer waiting for a decision.",
                "%(count)d registrations were left for a review of their own: they have a "
                "conflict or are no longer waiting for a decision.",
                skipped,
            ) % {"count": skipped},
        )  # fmt: skip
    return redirect("deals_console:queue")


# ---------------------------------------------------------------- review / detail page


@dataclass
class Candidate:
    """Another deal that may be the same customer, as the review page compares it."""

    deal: Deal
    match: str
    score: Decimal
    registered_later: bool


def _candidates(deal: Deal) -> list[Candidate]:
    """The candidates found when ``deal`` was submitted, then the later submissions that
    found ``deal`` (its conflict count does not include those, but first approved wins
    against them all the same)."""
    found = [
        Candidate(c.candidate, c.get_match_type_display(), c.score, registered_later=False)
        for c in selectors.deal_conflicts(deal=deal)
    ]
    seen = {candidate.deal.pk for candidate in found}
    for c in selectors.deal_conflicted_by(deal=deal):
        if c.deal_id not in seen:
            seen.add(c.deal_id)
            found.append(Candidate(c.deal, c.get_match_type_display(), c.score, True))
    return found


def _detail_response(
    request: HttpRequest, deal: Deal, *, bound: dict | None = None, status: int = 200
) -> HttpResponse:
    """The deal with its lines, partners and timeline; for reviewers also the conflict
    candidates and the decision forms that the deal's status allows."""
    bound = bound or {}
    can_review = request.user.has_perm("deals.review_deal")
    conflicts = _candidates(deal) if can_review else []
    is_submitted = deal.status == DealStatus.SUBMITTED
    is_approved = deal.status == DealStatus.APPROVED
    context = {
        "deal": deal,
        "lines": deal.lines.select_related("product").order_by("id"),
        "further_partners": deal.further_partners.select_related("partner").order_by("id"),
        "timeline": selectors.deal_timeline(deal=deal),
        "can_review": can_review,
        "conflicts": conflicts,
        "has_approved_rival": any(c.deal.status == DealStatus.APPROVED for c in conflicts),
        "can_decide": can_review and is_submitted,
        "can_decide_extension": can_review
        and is_approved
        and deal.extension_status == ExtensionStatus.REQUESTED,
        "can_close": can_review and is_approved,
        "open_form": next(iter(bound), ""),
    }
    if context["can_decide"]:
        context["approve_form"] = bound.get("approve") or ApproveForm()
        context["reject_form"] = bound.get("reject") or RejectForm()
        context["info_form"] = bound.get("info") or RequestInfoForm()
    if context["can_decide_extension"]:
        context["extension_form"] = bound.get("extension") or ExtensionDecisionForm()
    if context["can_close"]:
        context["won_form"] = bound.get("won") or MarkWonForm(
            initial={"final_amount": deal.total, "closed_on": timezone.localdate()}
        )
        context["lost_form"] = bound.get("lost") or MarkLostForm()
    # A refused action on a form the status no longer offers (a stale page): say why.
    for name, form in bound.items():
        if f"{name}_form" not in context:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
    return render(request, "deals/console/detail.html", context, status=status)


@tenant_view("deals.view_deal")
@require_GET
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_response(request, _deal_or_404(request, pk))


def _decide(request: HttpRequest, pk: int, name: str, form_class, perform, done: str):
    """Run one review action from the detail page: valid form -> service -> redirect; a bad
    form or a refusal of the service -> the page again, with the reason, as a 400."""
    deal = _deal_or_404(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            perform(actor=request.membership, deal=deal, data=form.cleaned_data, form=form)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("deals_console:detail", pk=deal.pk)
    return _detail_response(request, deal, bound={name: form}, status=400)


@tenant_view("deals.review_deal")
@require_POST
def deal_approve(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(*, actor, deal, data, form):
        services.deal_approve(
            actor=actor,
            deal=deal,
            comment=data["comment"].strip(),
            override_reason=data["override_reason"],
        )

    return _decide(request, pk, "approve", ApproveForm, perform, _("Registration approved."))


@tenant_view("deals.review_deal")
@require_POST
def deal_reject(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(*, actor, deal, data, form):
        services.deal_reject(actor=actor, deal=deal, reason=data["reason"])

    return _decide(request, pk, "reject", RejectForm, perform, _("Registration rejected."))


@tenant_view("deals.review_deal")
@require_POST
def deal_request_info(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(*, actor, deal, data, form):
        services.deal_request_info(actor=actor, deal=deal, question=data["question"])

    return _decide(
        request, pk, "info", RequestInfoForm, perform, _("Question sent to the partner.")
    )


@tenant_view("deals.review_deal")
@require_POST
def deal_decide_extension(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(*, actor, deal, data, form):
        services.deal_decide_extension(
            actor=actor, deal=deal, approve=form.approve, comment=data["comment"].strip()
        )

    return _decide(
        request, pk, "extension", ExtensionDecisionForm, perform, _("Extension request decided.")
    )


@tenant_view("deals.review_deal")
@require_POST
def deal_mark_won(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(*, actor, deal, data, form):
        services.deal_mark_won(
            actor=actor, deal=deal, final_amount=data["final_amount"], closed_on=data["closed_on"]
        )

    return _decide(request, pk, "won", MarkWonForm, perform, _("Deal marked won."))


@tenant_view("deals.review_deal")
@require_POST
def deal_mark_lost(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(*, actor, deal, data, form):
        services.deal_mark_lost(
            actor=actor, deal=deal, reason=data["reason"], comment=data["comment"].strip()
        )

    return _decide(request, pk, "lost", MarkLostForm, perform, _("Deal marked lost."))


# ---------------------------------------------------------------- deals list and export


def _filter_form(request: HttpRequest) -> DealFilterForm:
    return DealFilterForm(request.GET or None, tenant=request.tenant)


def _filtered_deals(request: HttpRequest, form: DealFilterForm):
    filters = form.filters() if form.is_bound else DealFilters()
    return selectors.deal_search(actor=request.membership, filters=filters)


def _list_response(request: HttpRequest, form: DealFilterForm) -> HttpResponse:
    valid = not form.is_bound or form.is_valid()
    deals = _filtered_deals(request, form) if valid else Deal.objects.none()
    page = Paginator(deals, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "can_export": request.user.has_perm("deals.export_deal"),
        "can_record_direct": request.user.has_perm("deals.record_direct_deal"),
        "can_review": request.user.has_perm("deals.review_deal"),
    }
    # htmx swaps only the results when a filter changes; a full page otherwise.
    partial = bool(request.htmx) and request.htmx.target == "deal-results"
    template = "deals/console/_list_results.html" if partial else "deals/console/list.html"
    return render(request, template, context, status=200 if valid else 400)


@tenant_view("deals.view_deal")
@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    return _list_response(request, _filter_form(request))


@tenant_view("deals.export_deal")
@require_GET
def deal_export(request: HttpRequest) -> HttpResponse:
    """The filtered deals list as CSV, in the same format as the API's export. The rows
    stream from a server-side cursor in their own tenant context (deals.export)."""
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return _list_response(request, form)
    deals = _filtered_deals(request, form)
    response = StreamingHttpResponse(
        deals_csv(deals, viewer=request.membership, tenant=request.tenant),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(request.tenant)}"'
    return response


# ---------------------------------------------------------------- direct deals


@tenant_view("deals.record_direct_deal")
def deal_record_direct(request: HttpRequest) -> HttpResponse:
    """Vendor staff record a deal they sell themselves (no registering partner); further
    partners may be named (an influencer, a fulfilment partner)."""
    entry = DealEntry(
        request.POST if request.method == "POST" else None,
        partner=None,
        partner_choices=Partner.objects.all(),
    )
    if request.method == "POST" and entry.is_valid():
        try:
            deal = services.deal_create_direct(actor=request.membership, data=entry.to_input())
        except ValidationError as exc:
            entry.apply_errors(exc)
        else:
            messages.success(request, _("Direct deal recorded."))
            return redirect("deals_console:detail", pk=deal.pk)
    return render(
        request,
        "deals/console/direct_form.html",
        {"entry": entry},
        status=400 if entry.has_errors else 200,
    )
