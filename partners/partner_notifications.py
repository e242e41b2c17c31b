"""Tell people about their partners: status changes and tier changes waiting for approval.

- ``partner.status_changed``: the partner's admins (in their portal: suspended or offboarded
  with the reason, active again) and the partner's assigned managers (in the console).
- ``partner.tier_proposed``: every assigned manager of a proposal's partner, once per event
  with a summary of their proposals, linking to the approval queue.

A partner nobody is assigned to is not left unheard: its notices go to the tenant admins
(the people who can assign a manager, ``partners.assign_partner_manager``).
Registered in ``PartnersConfig.ready``; tier changes themselves are told by
``partners.tier_notifications``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from partners import events, selectors
from partners.models import Membership, OutboxEvent, Partner, PartnerStatus
from partners.notifications import members_with_permission, notify
from partners.roles import STAFF_ROLES
from partners.tiers import TierProposal, TierProposalStatus

STATUS_HANDLER = "partners.notify_partner_status_change"
PROPOSED_HANDLER = "partners.notify_tier_proposals"
QUEUE_URL = "console/tiers/proposals/"
#: Proposals listed by name in one notification; the rest are counted.
SUMMARY_LINES = 10


# ---------------------------------------------------------------- recipients


def partner_admins(partner_id: int) -> list[Membership]:
    """The partner organization's own admins (who edit its profile)."""
    return members_with_permission("partners.change_partner_profile", partner_id=partner_id)


def partner_staff(partner_ids: Iterable[int]) -> dict[int, list[Membership]]:
    """Who on the vendor's side hears about each partner: its assigned managers (active
    staff of this tenant holding the guardian grant), or the tenant admins if it has none."""
    ids = list(partner_ids)
    assigned = selectors.partner_managers(partner_ids=ids)
    user_ids = {user.pk for users in assigned.values() for user in users}
    memberships = {
        m.user_id: m
        for m in Membership.objects.select_related("user").filter(
            user_id__in=user_ids,
            is_active=True,
            user__is_active=True,
            role__in=[role.value for role in STAFF_ROLES],
        )
    }
    fallback: list[Membership] | None = None
    out: dict[int, list[Membership]] = {}
    for partner_id in ids:
        managers = [memberships[u.pk] for u in assigned.get(partner_id, []) if u.pk in memberships]
        if not managers:
            if fallback is None:
                fallback = members_with_permission("partners.assign_partner_manager", staff=True)
            managers = fallback
        out[partner_id] = managers
    return out


def partner_console_url(partner_id: int) -> str:
    return f"console/partners/{partner_id}/"


# ---------------------------------------------------------------- partner.status_changed


def _status_texts(partner: Partner, previous: str, status: str, reason: str) -> tuple[str, str]:
    """(title, body) of a status change, the same for both sides."""
    name = partner.name
    if status == PartnerStatus.SUSPENDED:
        title = _("%(partner)s is suspended") % {"partner": name}
    elif status == PartnerStatus.OFFBOARDED:
        title = _("%(partner)s is offboarded") % {"partner": name}
    elif status == PartnerStatus.ACTIVE and previous == PartnerStatus.SUSPENDED:
        title = _("%(partner)s is active again") % {"partner": name}
    else:
        label = PartnerStatus(status).label if status in PartnerStatus.values else status
        title = _("%(partner)s is now %(status)s") % {"partner": name, "status": label.lower()}
    body = _("Reason: %(reason)s") % {"reason": reason} if reason else ""
    return title, body


def notify_partner_status_change(event: OutboxEvent) -> None:
    payload = event.payload or {}
    partner = Partner.objects.filter(pk=payload.get("partner_id")).first()
    status = payload.get("to", "")
    if partner is None or not status:
        return  # gone since: nothing true left to say
    title, body = _status_texts(partner, payload.get("from", ""), status, payload.get("reason", ""))
    kind = "partner_status_changed"
    notify(
        recipients=partner_admins(partner.pk),
        kind=kind,
        title=title,
        body=body,
        url="portal/",
        event=event,
    )
    notify(
        recipients=partner_staff([partner.pk])[partner.pk],
        kind=kind,
        title=title,
        body=body,
        url=partner_console_url(partner.pk),
        event=event,
    )


# ---------------------------------------------------------------- partner.tier_proposed


def _proposal_line(proposal: TierProposal) -> str:
    return _("%(partner)s: %(from)s → %(to)s (%(kind)s)") % {
        "partner": proposal.partner.name,
        "from": proposal.from_tier.name if proposal.from_tier else _("no tier"),
        "to": proposal.to_tier.name if proposal.to_tier else _("no tier"),
        "kind": proposal.get_kind_display().lower(),
    }


def notify_tier_proposals(event: OutboxEvent) -> None:
    ids = [pk for pk in (event.payload or {}).get("proposal_ids", []) if isinstance(pk, int)]
    proposals = list(
        TierProposal.objects.filter(pk__in=ids, status=TierProposalStatus.PENDING)
        .select_related("partner", "from_tier", "to_tier")
        .order_by("partner__name", "pk")
    )
    if not proposals:
        return  # decided or superseded before anyone had to be told
    staff = partner_staff({p.partner_id for p in proposals})
    by_recipient: dict[int, tuple[Membership, list[TierProposal]]] = {}
    for proposal in proposals:
        for membership in staff[proposal.partner_id]:
            by_recipient.setdefault(membership.pk, (membership, []))[1].append(proposal)
    for membership, theirs in by_recipient.values():
        if len(theirs) == 1:
            title = _("Tier change to approve: %(line)s") % {"line": _proposal_line(theirs[0])}
        else:
            title = _("%(count)d tier changes wait for your approval") % {"count": len(theirs)}
        lines = [_proposal_line(p) for p in theirs[:SUMMARY_LINES]]
        if len(theirs) > SUMMARY_LINES:
            lines.append(_("… and %(count)d more.") % {"count": len(theirs) - SUMMARY_LINES})
        notify(
            recipients=[membership],
            kind="tier_proposed",
            title=title,
            body="\n".join(lines),
            url=QUEUE_URL,
            event=event,
        )


def register() -> None:
    events.register("partner.status_changed", STATUS_HANDLER, notify_partner_status_change)
    events.register("partner.tier_proposed", PROPOSED_HANDLER, notify_tier_proposals)
