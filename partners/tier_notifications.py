"""Tell people when a partner changes tier (the ``partner.tier_changed`` outbox event).

The partner's admins hear it in their portal; on the vendor's side the partner's assigned
managers hear it in the console (or, for a partner nobody is assigned to, the tenant
admins: see ``partners.partner_notifications.partner_staff``).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from partners import events
from partners.models import OutboxEvent, Partner
from partners.notifications import notify
from partners.partner_notifications import partner_admins, partner_console_url, partner_staff
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
    notify(
        recipients=partner_admins(partner.pk),
        kind="tier_changed",
        title=title,
        body=change.reason,
        url="portal/",
        event=event,
    )
    notify(
        recipients=partner_staff([partner.pk])[partner.pk],
        kind="tier_changed",
        title=title,
        body=change.reason,
        url=partner_console_url(partner.pk),
        event=event,
    )


def register() -> None:
    events.register("partner.tier_changed", HANDLER, notify_tier_change)
