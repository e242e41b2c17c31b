"""A tier change is told to the partner's admins and to the partner's assigned managers."""

from decimal import Decimal

import pytest

from partners import events
from partners.models import Notification, OutboxEvent
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_promotion_notifies_the_partner_admins_and_assigned_managers_only(
    tenant, other_tenant, ladder, scores, run, partner_admin, partner_rep,
    channel_manager, tenant_admin, outsider,
):  # fmt: skip
    partner = partner_admin.partner
    finance = MembershipFactory(tenant=tenant, role="finance", user__email="finance@acme.test")
    scores[partner.pk] = Decimal("60")
    run(tenant)

    with tenant_context(tenant):
        event = OutboxEvent.objects.get(name="partner.tier_changed")
        events.deliver(tenant=tenant, event_id=event.pk)
        told = {
            n.recipient.user.email: n
            for n in Notification.objects.select_related("recipient__user").filter(
                kind="tier_changed"
            )
        }
    # Northwind's assigned manager, not every tenant admin (the partner has a manager).
    assert set(told) == {partner_admin.user.email, channel_manager.user.email}
    assert "Northwind is now Gold" in told[partner_admin.user.email].title
    assert told[partner_admin.user.email].url == "portal/"
    assert told[channel_manager.user.email].url == f"console/partners/{partner.pk}/"
    assert partner_rep.user.email not in told and finance.user.email not in told
    assert tenant_admin.user.email not in told
    with tenant_context(other_tenant):
        assert not Notification.objects.exists()
    # Delivered once: a retried dispatch tells nobody twice.
    with tenant_context(tenant):
        events.deliver(tenant=tenant, event_id=event.pk)
        assert Notification.objects.filter(kind="tier_changed").count() == 2
