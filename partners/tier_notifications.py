"""Tell people when a partner changes tier (the ``partner.tier_changed`` outbox event).

The partner's admins hear it in their portal; vendor staff who manage partners (tenant admins
and channel managers: ``partners.change_partner``) in the console. When partners get assigned
managers (issue #4), the staff side narrows to them.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from partners import events
from partners.models import OutboxEvent, Partner
from partners.notifications import members_with_permission, notify
from partners.tiers import TierChange

HANDLER = "partners.notify_tier_change"


def notify_tier_change(event: OutboxEvent) -> None:
    change = (
        TierChange.objects.select_related("from_tier", "to_tier")
        .filter(pk=event.payload.get("change_id"))
        .first()
    )
    partner = Partner.objects.filter(pk=event.payload.get("partner_id")).first()
    if change is None or partner is None:
        return  # gone since: nothing true left to say
    to_name = change.to_tier.name if change.to_tier else _("no tier")
    from_name = change.from_tier.name if change.from_tier else _("no tier")
    title = _("%(partner)s is now %(to)s (was %(from)s)") % {
        "partner": partner.name,
        "to": to_name,
        "from": from_name,
    }
    partner_admins = members_with_permission("partners.invite_partner_user", partner_id=partner.pk)
    notify(
        recipients=partner_admins,
        kind="tier_changed",
        title=title,
        body=change.reason,
        url="portal/",
        event=event,
    )
    notify(
        recipients=members_with_permission("partners.change_partner", staff=True),
        kind="tier_changed",
        title=title,
        body=change.reason,
        url="console/",
        event=event,
    )


def register() -> None:
    events.register("partner.tier_changed", HANDLER, notify_tier_change)
