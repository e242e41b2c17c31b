"""Who hears about what in deal registration: outbox handlers that write in-app notifications
(and their emails) through ``partners.notifications``. Registered in ``DealsConfig.ready``.

- Partners hear about decisions on their deals: the registering user and the partner's
  partner admins.
- Reviewers (vendor staff holding ``deals.review_deal``: tenant admins and channel managers)
  hear about new submissions and extension requests.
- A lead offered to a partner reaches that partner's people who may answer it
  (``deals.respond_lead``).

Each handler runs once per event (the outbox acknowledges it in the same transaction), reads
the current rows, and stays quiet when the news is stale (the deal has moved on). Text sent
to a partner names only its own deal and customer, never a conflicting registration or
another partner; a reviewer's rejection reason or question is passed on because it is
written for the partner.
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deals.models import Deal, DealStatus, DealTransition, ExtensionStatus, LeadOffer, OfferStatus
from partners import events
from partners.models import Membership, OutboxEvent
from partners.money import format_money
from partners.notifications import members_with_permission, notify
from partners.roles import Role

PARTNER_HANDLER = "deals.notify_partner"
REVIEWER_HANDLER = "deals.notify_reviewers"
LEAD_HANDLER = "deals.notify_lead_offer"

PARTNER_EVENTS = (
    "deal.approved",
    "deal.rejected",
    "deal.more_info",
    "deal.expired",
    "deal.expiry_warning",
    "deal.extension_decided",
)
REVIEWER_EVENTS = ("deal.submitted", "deal.extension_requested")
LEAD_EVENTS = ("lead.offered",)


def register_handlers() -> None:
    for name in PARTNER_EVENTS:
        events.register(name, PARTNER_HANDLER, notify_partner)
    for name in REVIEWER_EVENTS:
        events.register(name, REVIEWER_HANDLER, notify_reviewers)
    for name in LEAD_EVENTS:
        events.register(name, LEAD_HANDLER, notify_lead_offer)


# ---------------------------------------------------------------- links and words


def _tenant_path(candidates: list[tuple[str, list]], fallback: str) -> str:
    """The first named URL that exists, as a path inside the tenant (``deals/12/``)."""
    prefix = get_script_prefix()
    for name, args in candidates:
        try:
            url = reverse(name, args=args)
        except NoReverseMatch:
            continue
        return url[len(prefix) :] if url.startswith(prefix) else url.lstrip("/")
    return fallback


def _portal_deal_path(deal_id: int) -> str:
    return _tenant_path([("deals_portal:detail", [deal_id])], f"deals/{deal_id}/")


def _console_deal_path(deal_id: int) -> str:
    return _tenant_path([("deals_console:detail", [deal_id])], f"console/deals/{deal_id}/")


def _lead_offer_path(offer: LeadOffer) -> str:
    return _tenant_path([("leads:offer", [offer.pk])], f"leads/offered/{offer.pk}/")


def _date(moment) -> str:
    """A date in the tenant's time zone (tenant_context sets it) and the active language."""
    return formats.date_format(timezone.localtime(moment), "DATE_FORMAT") if moment else ""


def _money(deal: Deal) -> str:
    return format_money(deal.total, deal.currency, html=False)


def _comment_of(deal: Deal, event: OutboxEvent, *, to_status: str) -> str:
    """The reviewer's words on the transition the event announces (the latest one to
    ``to_status`` written before the event)."""
    transition = (
        DealTransition.objects.filter(deal=deal, to_status=to_status, at__lte=event.created_at)
        .order_by("-at", "-id")
        .first()
    )
    return transition.comment.strip() if transition else ""


# ---------------------------------------------------------------- partners


def _deal(event: OutboxEvent) -> Deal | None:
    deal_id = (event.payload or {}).get("deal_id")
    if not isinstance(deal_id, int):
        return None
    return Deal.objects.select_related("partner").filter(pk=deal_id).first()


def partner_recipients(deal: Deal) -> list[Membership]:
    """The registering user and the partner admins of the deal's own partner, nobody else."""
    if deal.partner_id is None:
        return []
    return list(
        Membership.objects.filter(partner_id=deal.partner_id, is_active=True, user__is_active=True)
        .filter(Q(role=Role.PARTNER_ADMIN) | Q(user_id=deal.registered_by_id))
        .order_by("pk")
    )


def _partner_message(deal: Deal, event: OutboxEvent) -> tuple[str, str] | None:
    """(title, body) for the partner, or None when the news is stale."""
    customer = deal.customer_name
    if event.name == "deal.approved":
        if deal.status != DealStatus.APPROVED:
            return None
        body = _("Your registration is protected until %(date)s.") % {
            "date": _date(deal.protection_ends_at)
        }
        if deal.auto_approved:
            body = f"{_('Approved automatically.')} {body}"
        # The approval comment is not passed on: an override reason may name a rival.
        return _("Deal registration approved: %(customer)s") % {"customer": customer}, body
    if event.name == "deal.rejected":
        reason = _comment_of(deal, event, to_status=DealStatus.REJECTED)
        body = _("Reason: %(reason)s") % {"reason": reason} if reason else ""
        return _("Deal registration rejected: %(customer)s") % {"customer": customer}, body
    if event.name == "deal.more_info":
        if deal.status != DealStatus.MORE_INFO:
            return None
        question = _comment_of(deal, event, to_status=DealStatus.MORE_INFO)
        body = _("The reviewer asks: %(question)s") % {"question": question} if question else ""
        body = f"{body}\n{_('Answer on the deal page to send it back for review.')}".strip()
        return _("More information needed: %(customer)s") % {"customer": customer}, body
    if event.name == "deal.expired":
        body = _("Its protection ended on %(date)s.") % {"date": _date(deal.protection_ends_at)}
        return _("Deal registration expired: %(customer)s") % {"customer": customer}, body
    if event.name == "deal.expiry_warning":
        if deal.status != DealStatus.APPROVED or deal.expiry_warning_sent_at is None:
            return None  # closed, or extended (which clears the warning) since
        body = _("Its protection ends on %(date)s.") % {"date": _date(deal.protection_ends_at)}
        if deal.extension_status == ExtensionStatus.NONE:
            body = f"{body} {_('You may request one extension on the deal page.')}"
        return _("Protection ends soon: %(customer)s") % {"customer": customer}, body
    if event.name == "deal.extension_decided":
        approved = (event.payload or {}).get("approved")
        if approved:
            title = _("Extension approved: %(customer)s") % {"customer": customer}
            body = _("Your registration is protected until %(date)s.") % {
                "date": _date(deal.protection_ends_at)
            }
        else:
            title = _("Extension declined: %(customer)s") % {"customer": customer}
            body = _("Your registration stays protected until %(date)s.") % {
                "date": _date(deal.protection_ends_at)
            }
        return title, body
    return None


def notify_partner(event: OutboxEvent) -> None:
    deal = _deal(event)
    if deal is None or deal.partner_id is None:
        return
    message = _partner_message(deal, event)
    if message is None:
        return
    title, body = message
    notify(
        recipients=partner_recipients(deal),
        kind=event.name,
        title=title,
        body=body,
        url=_portal_deal_path(deal.pk),
        event=event,
    )


# ---------------------------------------------------------------- reviewers


def reviewer_recipients() -> list[Membership]:
    """Vendor staff who review registrations (tenant admins and channel managers today;
    narrowed to a partner's assigned managers once partners have them)."""
    return members_with_permission("deals.review_deal", staff=True)


def notify_reviewers(event: OutboxEvent) -> None:
    deal = _deal(event)
    if deal is None or deal.partner is None:
        return
    names = {"customer": deal.customer_name, "partner": deal.partner.name}
    if event.name == "deal.submitted":
        if deal.status != DealStatus.SUBMITTED:
            return  # approved automatically, or already decided: nothing to review
        answered = DealTransition.objects.filter(
            deal=deal, from_status=DealStatus.MORE_INFO, to_status=DealStatus.SUBMITTED
        ).exists()
        if answered:
            title = _("More information received: %(customer)s from %(partner)s") % names
        else:
            title = _("New deal registration: %(customer)s from %(partner)s") % names
        if deal.conflict_count:
            conflicts = ngettext(
                "%(count)d possible conflict to review.",
                "%(count)d possible conflicts to review.",
                deal.conflict_count,
            ) % {"count": deal.conflict_count}
        else:
            conflicts = _("No conflict found.")
        body = f"{_money(deal)}. {conflicts}"
        answer = _comment_of(deal, event, to_status=DealStatus.SUBMITTED) if answered else ""
        if answer:
            body = f"{body}\n{_('The partner answers: %(answer)s') % {'answer': answer}}"
    elif event.name == "deal.extension_requested":
        if deal.extension_status != ExtensionStatus.REQUESTED:
            return
        title = _("Extension requested: %(customer)s from %(partner)s") % names
        body = _("Protected until %(date)s. Reason: %(reason)s") % {
            "date": _date(deal.protection_ends_at),
            "reason": deal.extension_reason,
        }
    else:
        return
    notify(
        recipients=reviewer_recipients(),
        kind=event.name,
        title=title,
        body=body,
        url=_console_deal_path(deal.pk),
        event=event,
    )


# ---------------------------------------------------------------- leads


def notify_lead_offer(event: OutboxEvent) -> None:
    """``lead.offered`` with payload ``{lead_id, partner_id, offer_id}``."""
    payload = event.payload or {}
    offer_id, partner_id = payload.get("offer_id"), payload.get("partner_id")
    if not isinstance(offer_id, int) or not isinstance(partner_id, int):
        return
    offer = (
        LeadOffer.objects.select_related("lead")
        .filter(pk=offer_id, partner_id=partner_id, status=OfferStatus.PENDING)
        .first()
    )
    if offer is None:
        return  # answered, timed out or withdrawn before we got to it
    lead = offer.lead
    body = _("Accept or decline it by %(deadline)s, or it goes to another partner.") % {
        "deadline": formats.date_format(timezone.localtime(offer.expires_at), "DATETIME_FORMAT")
    }
    notify(
        recipients=members_with_permission("deals.respond_lead", partner_id=offer.partner_id),
        kind=event.name,
        title=_("New lead offered: %(company)s") % {"company": lead.company_name},
        body=body,
        url=_lead_offer_path(offer),
        event=event,
    )
