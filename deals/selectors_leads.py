"""Reads of leads and lead offers shared by the pages and the API. Scoped by the tenant
(manager + RLS) and, here, by who may see what inside it:

- vendor staff with ``deals.manage_lead``: every lead of the tenant, with its offers and the
  routing reasons;
- partner users with ``deals.respond_lead``: the offers made to their own organization (never
  another partner's, never the leads nobody offered them).
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from deals import routing
from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus
from partners.models import Membership
from partners.permissions import membership_permissions

#: Offers that stand for where a lead is now (waiting for an answer, or taken).
CURRENT_OFFER_STATUSES = (OfferStatus.PENDING, OfferStatus.ACCEPTED)


def lead_list(*, actor: Membership) -> QuerySet[Lead]:
    """Every lead of the tenant for staff who manage leads; nothing for anyone else."""
    if not actor.is_staff_member or "deals.manage_lead" not in membership_permissions(actor):
        return Lead.objects.none()
    current = LeadOffer.objects.filter(status__in=CURRENT_OFFER_STATUSES).select_related("partner")
    return Lead.objects.select_related("created_by", "deal").prefetch_related(
        Prefetch("offers", queryset=current, to_attr="current_offers")
    )


def lead_search(*, actor: Membership, status: str = "", q: str = "") -> QuerySet[Lead]:
    queryset = lead_list(actor=actor)
    if status:
        queryset = queryset.filter(status=status)
    term = (q or "").strip()
    if term:
        queryset = queryset.filter(
            Q(company_name__icontains=term)
            | Q(company_domain__icontains=term)
            | Q(contact_email__iexact=term)
        )
    return queryset.order_by("-created_at", "-id")


def lead_offer_history(*, lead: Lead) -> QuerySet[LeadOffer]:
    """Every offer of a lead, first one first, with its partner and who answered."""
    return (
        LeadOffer.objects.filter(lead=lead)
        .select_related("partner", "responded_by")
        .order_by("offered_at", "id")
    )


def lead_routing_gaps(*, lead: Lead) -> dict[str, int] | None:
    """For an unrouted lead: how many partners pass each routing filter (why none is left)."""
    if lead.status != LeadStatus.UNROUTED:
        return None
    return routing.explain_no_candidate(lead)


def waiting_for_routing(*, actor: Membership) -> int:
    """Leads not routed yet (an import being routed by the job)."""
    return lead_list(actor=actor).filter(status=LeadStatus.NEW).count()


def offer_list(*, actor: Membership) -> QuerySet[LeadOffer]:
    """The offers made to the actor's partner organization, newest first."""
    if (
        not actor.is_partner_member
        or actor.partner_id is None
        or "deals.respond_lead" not in membership_permissions(actor)
    ):
        return LeadOffer.objects.none()
    return (
        LeadOffer.objects.filter(partner_id=actor.partner_id)
        .select_related("lead", "lead__deal", "responded_by")
        .order_by("-offered_at", "-id")
    )
