"""Partner portal pages of deal registration: register a deal, My deals, the deal page and its
lifecycle actions. Thin: parse, call ``deals.services`` or ``deals.selectors``, render.

Every deal is read through ``selectors.deal_list(actor=...)``: a deal of another partner (or,
for a rep, a colleague's deal not shared with them) answers 404. Actions are offered by status
and only to the registering partner's people; a forged POST the state machine refuses gets the
service's message as a form error (400) and changes nothing. A partner never sees conflict
candidates, nor who else registered the customer: a submission is simply "under review".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from deals import selectors, services
from deals.forms import (
    DealEntry,
    DealFilterForm,
    ExtensionForm,
    LostForm,
    SubmitForm,
    WonForm,
    apply_service_errors,
    status_label_for_partner,
)
from deals.models import Deal, DealStatus, ExtensionStatus, LostReason
from partners.models import Membership
from partners.views import tenant_view

REGISTER_PERM = "deals.register_deal"
PAGE_SIZE = 25
HINT_LIMIT = 5


# ---------------------------------------------------------------- helpers


def _visible_deal(request: HttpRequest, pk: int) -> Deal:
    queryset = selectors.deal_list(actor=request.membership).prefetch_related(
        "lines__product", "further_partners__partner"
    )
    return get_object_or_404(queryset, pk=pk)


def deal_page(*methods: str) -> Callable:
    """A page of one visible deal: the deal is looked up first, so a deal the member may not
    see answers 404 whatever the method; then a wrong method is a 405."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @tenant_view(REGISTER_PERM)
        def wrapper(request: HttpRequest, pk: int) -> HttpResponse:
            deal = _visible_deal(request, pk)
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(request, deal)

        return wrapper

    return decorator


def _is_own(membership: Membership, deal: Deal) -> bool:
    """The registering partner's people act on a deal; a further partner only reads it."""
    return deal.partner_id is not None and deal.partner_id == membership.partner_id


def _require_own(request: HttpRequest, deal: Deal) -> None:
    if not _is_own(request.membership, deal):
        raise PermissionDenied


@dataclass(frozen=True)
class Actions:
    edit: bool
    submit: bool
    answer: bool
    close: bool
    extend: bool

    @property
    def has_forms(self) -> bool:
        """Actions done with a form on the deal page (editing has its own page)."""
        return self.submit or self.answer or self.close or self.extend


def _actions(membership: Membership, deal: Deal) -> Actions:
    """What the page offers, by status; the services decide again on every POST."""
    own = _is_own(membership, deal)
    status = deal.status
    return Actions(
        edit=own and status in services.EDITABLE_STATUSES,
        submit=own and status == DealStatus.DRAFT,
        answer=own and status == DealStatus.MORE_INFO,
        close=own and status == DealStatus.APPROVED,
        extend=own
        and status == DealStatus.APPROVED
        and deal.extension_status == ExtensionStatus.NONE,
    )


def _other_registrations(membership: Membership, *, name: str, domain: str, exclude: int | None):
    """The partner's own open registrations of the same customer: a hint, never a block."""
    if not (name.strip() or domain.strip()):
        return []
    queryset = selectors.own_registrations_for_customer(
        actor=membership, customer_name=name[:200], customer_domain=domain[:253]
    )
    if exclude:
        queryset = queryset.exclude(pk=exclude)
    deals = list(queryset.order_by("-created_at", "-id")[:HINT_LIMIT])
    for deal in deals:
        deal.partner_status_label = status_label_for_partner(deal.status)
    return deals


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    label: str
    who: str
    comment: str
    to_status: str
    is_note: bool


def _transition_label(from_status: str, to_status: str, automatic: bool) -> str:
    if from_status == to_status:
        return _("Note")
    if not from_status:
        return _("Draft created") if to_status == DealStatus.DRAFT else _("Recorded")
    labels = {
        DealStatus.SUBMITTED: (
            _("Answer sent, back under review")
            if from_status == DealStatus.MORE_INFO
            else _("Submitted for review")
        ),
        DealStatus.APPROVED: _("Approved automatically") if automatic else _("Approved"),
        DealStatus.REJECTED: _("Rejected"),
        DealStatus.MORE_INFO: _("More information requested"),
        DealStatus.WON: _("Marked won"),
        DealStatus.LOST: _("Marked lost"),
        DealStatus.EXPIRED: _("Protection ended"),
    }
    return str(labels.get(to_status, DealStatus(to_status).label))


def _timeline_for_partner(
    membership: Membership, deal: Deal, *, vendor: str
) -> list[TimelineEntry]:
    """The timeline as a partner may read it: people of their own organization and the
    vendor's staff by name, anyone else anonymously; a reviewer's approval note is internal
    (an override of the first-approved rule may name the rival registration)."""
    transitions = list(selectors.deal_timeline(deal=deal))
    user_ids = {t.actor_id for t in transitions if t.actor_id}
    partner_of = dict(
        Membership.objects.filter(user_id__in=user_ids).values_list("user_id", "partner_id")
    )
    entries = []
    for transition in transitions:
        if transition.automatic or transition.actor is None:
            who = _("Automatic") if transition.automatic else _("Former member")
            staff = False
        elif transition.actor_id not in partner_of:
            who, staff = _("Former member"), False
        elif partner_of[transition.actor_id] == membership.partner_id:
            who, staff = transition.actor.get_full_name() or transition.actor.email, False
        elif partner_of[transition.actor_id] is None:  # the vendor's staff
            who = f"{transition.actor.get_full_name() or transition.actor.email} ({vendor})"
            staff = True
        else:
            who, staff = _("A partner user"), False
        comment = transition.comment
        if staff and selectors.note_is_internal(
            from_status=transition.from_status,
            to_status=transition.to_status,
            automatic=transition.automatic,
        ):
            comment = ""
        entries.append(
            TimelineEntry(
                at=transition.at,
                label=_transition_label(
                    transition.from_status, transition.to_status, transition.automatic
                ),
                who=who,
                comment=comment,
                to_status=transition.to_status,
                is_note=transition.from_status == transition.to_status,
            )
        )
    return entries


def _render_detail(
    request: HttpRequest, deal: Deal, *, bound: dict | None = None, status: int = 200
) -> HttpResponse:
    membership = request.membership
    actions = _actions(membership, deal)
    bound = bound or {}
    today = timezone.localdate()
    own = _is_own(membership, deal)
    timeline = _timeline_for_partner(membership, deal, vendor=request.tenant.name)
    context = {
        "deal": deal,
        "status_label": status_label_for_partner(deal.status),
        "is_own": own,
        "lines": list(deal.lines.all()),
        "further_partners": list(deal.further_partners.all()),
        "timeline": timeline,
        "actions": actions,
        "other_registrations": _other_registrations(
            membership, name=deal.customer_name, domain=deal.customer_domain, exclude=deal.pk
        )
        if own
        else [],
    }
    if deal.status == DealStatus.MORE_INFO:
        asked = [e for e in timeline if e.to_status == DealStatus.MORE_INFO and not e.is_note]
        context["pending_question"] = asked[-1].comment if asked else ""
    if actions.submit or actions.answer:
        context["submit_form"] = bound.get("submit") or SubmitForm(answer_required=actions.answer)
    if actions.close:
        reasons = list(LostReason.objects.filter(active=True).order_by("name"))
        context["won_form"] = bound.get("won") or WonForm(deal=deal, today=today)
        context["lost_form"] = bound.get("lost") or LostForm(reasons=reasons)
    if actions.extend:
        context["extension_form"] = bound.get("extension") or ExtensionForm()
    # A refused action whose form the page does not offer (a forged POST) still shows why.
    context["refused"] = [
        form for key, form in bound.items() if form.errors and key not in _offered(actions)
    ]
    return render(request, "deals/portal/detail.html", context, status=status)


def _offered(actions: Actions) -> set[str]:
    offered = set()
    if actions.submit or actions.answer:
        offered.add("submit")
    if actions.close:
        offered |= {"won", "lost"}
    if actions.extend:
        offered.add("extension")
    return offered


# ---------------------------------------------------------------- My deals


@require_GET
@tenant_view(REGISTER_PERM)
def deal_list(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    form = DealFilterForm(request.GET if request.GET else None)
    invalid = form.is_bound and not form.is_valid()
    deals = selectors.deal_search(actor=membership, filters=form.filters())
    page = Paginator(deals, PAGE_SIZE).get_page(request.GET.get("page"))
    for deal in page.object_list:
        deal.partner_status_label = status_label_for_partner(deal.status)
        deal.is_own = _is_own(membership, deal)
    filtered = any(request.GET.get(key) for key in ("q", "status", "stage"))
    return render(
        request,
        "deals/portal/list.html",
        {
            "form": form,
            "page_obj": page,
            "filtered": filtered,
            "show_registrant": membership.role == "partner_admin",
        },
        status=400 if invalid else 200,
    )


# ---------------------------------------------------------------- register and edit


def _entry_page(
    request: HttpRequest, entry: DealEntry, *, deal: Deal | None, submit_form=None
) -> HttpResponse:
    hint = []
    if entry.form.is_bound or entry.rearranged:
        hint = _other_registrations(
            request.membership,
            name=entry.customer_name,
            domain=entry.customer_domain,
            exclude=deal.pk if deal else None,
        )
    has_errors = entry.has_errors or bool(submit_form is not None and submit_form.errors)
    return render(
        request,
        "deals/portal/form.html",
        {
            "entry": entry,
            "deal": deal,
            "hint": hint,
            "submit_form": submit_form,
            "status_label": status_label_for_partner(deal.status) if deal else "",
        },
        status=400 if has_errors else 200,
    )


def _saved_message(request: HttpRequest, deal: Deal) -> None:
    if deal.status == DealStatus.APPROVED:
        messages.success(request, _("Registered and approved: the deal is protected."))
    elif deal.status == DealStatus.SUBMITTED:
        messages.success(request, _("Submitted. The channel team will review your registration."))
    else:
        messages.success(request, _("Saved. Submit the deal when it is ready for review."))


@tenant_view(REGISTER_PERM)
def deal_register(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    if request.method != "POST":
        return _entry_page(request, DealEntry(partner=membership.partner), deal=None)
    entry = DealEntry(request.POST, partner=membership.partner)
    if entry.is_valid():
        try:
            deal = services.deal_create(
                actor=membership,
                data=entry.to_input(),
                submit=request.POST.get("action") == "submit",
            )
        except ValidationError as exc:
            entry.apply_errors(exc)
        else:
            _saved_message(request, deal)
            return redirect("deals_portal:detail", pk=deal.pk)
    return _entry_page(request, entry, deal=None)


@deal_page("GET", "HEAD", "POST")
def deal_edit(request: HttpRequest, deal: Deal) -> HttpResponse:
    membership = request.membership
    _require_own(request, deal)
    answering = deal.status == DealStatus.MORE_INFO
    if request.method != "POST":
        if deal.status not in services.EDITABLE_STATUSES:
            messages.error(request, _("This deal can no longer be edited."))
            return redirect("deals_portal:detail", pk=deal.pk)
        entry = DealEntry(partner=deal.partner, deal=deal)
        submit_form = SubmitForm(answer_required=True) if answering else None
        return _entry_page(request, entry, deal=deal, submit_form=submit_form)

    entry = DealEntry(request.POST, partner=deal.partner, deal=deal)
    submitting = request.POST.get("action") == "submit"
    submit_form = None
    if answering:
        # Answering with this page: the answer is required only when sending it now.
        submit_form = SubmitForm(request.POST, answer_required=submitting)
    entry_ok = entry.is_valid()
    answer_ok = submit_form is None or entry.rearranged or submit_form.is_valid()
    if entry_ok and answer_ok:
        comment = submit_form.cleaned_data["comment"] if submit_form is not None else ""
        try:
            # One transaction: a submission refused after the edit leaves the edit undone too.
            with transaction.atomic():
                deal = services.deal_update(actor=membership, deal=deal, data=entry.to_input())
                if submitting:
                    deal = services.deal_submit(actor=membership, deal=deal, comment=comment)
        except ValidationError as exc:
            entry.apply_errors(exc)
        else:
            _saved_message(request, deal)
            return redirect("deals_portal:detail", pk=deal.pk)
    return _entry_page(request, entry, deal=deal, submit_form=submit_form)


@require_GET
@tenant_view(REGISTER_PERM)
def customer_hint(request: HttpRequest) -> HttpResponse:
    """htmx: the partner's own open registrations of the customer being typed in."""
    try:
        exclude = int(request.GET.get("exclude") or 0)
    except ValueError:
        exclude = 0
    hint = _other_registrations(
        request.membership,
        name=request.GET.get("customer_name", ""),
        domain=request.GET.get("customer_domain", ""),
        exclude=exclude or None,
    )
    return render(request, "deals/portal/_customer_hint.html", {"hint": hint})


# ---------------------------------------------------------------- the deal page and its actions


@deal_page("GET", "HEAD")
def deal_detail(request: HttpRequest, deal: Deal) -> HttpResponse:
    return _render_detail(request, deal)


def _act(request: HttpRequest, deal: Deal, key: str, form, perform) -> HttpResponse:
    """Validate an action's form, run the service, and answer: back to the deal page, or the
    page again with the reason (400)."""
    if form.is_valid():
        try:
            perform(form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            return redirect("deals_portal:detail", pk=deal.pk)
    return _render_detail(request, deal, bound={key: form}, status=400)


@deal_page("POST")
def deal_submit(request: HttpRequest, deal: Deal) -> HttpResponse:
    _require_own(request, deal)
    form = SubmitForm(request.POST, answer_required=deal.status == DealStatus.MORE_INFO)

    def perform(cleaned):
        submitted = services.deal_submit(
            actor=request.membership, deal=deal, comment=cleaned["comment"].strip()
        )
        _saved_message(request, submitted)

    return _act(request, deal, "submit", form, perform)


@deal_page("POST")
def deal_mark_won(request: HttpRequest, deal: Deal) -> HttpResponse:
    _require_own(request, deal)
    form = WonForm(request.POST, deal=deal, today=timezone.localdate())

    def perform(cleaned):
        services.deal_mark_won(
            actor=request.membership,
            deal=deal,
            final_amount=cleaned["final_amount"],
            closed_on=cleaned["closed_on"],
        )
        messages.success(request, _("Congratulations: the deal is marked won."))

    return _act(request, deal, "won", form, perform)


@deal_page("POST")
def deal_mark_lost(request: HttpRequest, deal: Deal) -> HttpResponse:
    _require_own(request, deal)
    form = LostForm(request.POST, reasons=list(LostReason.objects.filter(active=True)))

    def perform(cleaned):
        services.deal_mark_lost(
            actor=request.membership,
            deal=deal,
            reason=form.lost_reason(),
            comment=cleaned["comment"].strip(),
        )
        messages.success(request, _("The deal is marked lost."))

    return _act(request, deal, "lost", form, perform)


@deal_page("POST")
def deal_request_extension(request: HttpRequest, deal: Deal) -> HttpResponse:
    _require_own(request, deal)
    form = ExtensionForm(request.POST)

    def perform(cleaned):
        services.deal_request_extension(
            actor=request.membership, deal=deal, reason=cleaned["reason"]
        )
        messages.success(request, _("Extension requested. The channel team will decide."))

    return _act(request, deal, "extension", form, perform)
