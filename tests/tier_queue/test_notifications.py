"""Who hears about partners: proposals waiting for approval, tier changes, status changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from partners import events, metrics, services
from partners.models import Notification, OutboxEvent
from partners.tenancy import tenant_context
from partners.tier_engine import tiers_evaluate
from partners.tiers import TierCriterion
from tests.conftest import assign_partner_manager
from tests.factories import PartnerFactory
from tests.tier_queue.conftest import make_proposal

pytestmark = pytest.mark.django_db


def _deliver_all(tenant, name):
    with tenant_context(tenant):
        ids = list(OutboxEvent.objects.filter(name=name).values_list("pk", flat=True))
    for event_id in ids:
        events.deliver(tenant=tenant, event_id=event_id)


def _told(tenant, kind):
    """{email: [notification, ...]} of one kind."""
    with tenant_context(tenant):
        rows = Notification.objects.select_related("recipient__user").filter(kind=kind)
        out: dict[str, list[Notification]] = {}
        for row in rows.order_by("pk"):
            out.setdefault(row.recipient.user.email, []).append(row)
        return out


def _record(tenant, name, payload):
    with tenant_context(tenant):
        return events.record(tenant=tenant, name=name, payload=payload)


# ---------------------------------------------------------------- partner.tier_proposed


def test_proposals_reach_the_assigned_managers_or_else_the_tenant_admins(
    tenant, other_tenant, approval_mode, partner, contoso, gold, silver,
    channel_manager, other_manager, tenant_admin, partner_admin, outsider,
):  # fmt: skip
    northwind = make_proposal(partner, gold)
    unmanaged = make_proposal(contoso, silver)  # Contoso has no manager
    _record(tenant, "partner.tier_proposed", {"proposal_ids": [northwind.pk, unmanaged.pk]})

    _deliver_all(tenant, "partner.tier_proposed")

    told = _told(tenant, "tier_proposed")
    assert set(told) == {channel_manager.user.email, tenant_admin.user.email}
    (manager_notice,) = told[channel_manager.user.email]
    assert "Northwind" in manager_notice.title and "Contoso" not in manager_notice.body
    assert manager_notice.url == "console/tiers/proposals/"
    (admin_notice,) = told[tenant_admin.user.email]
    assert "Contoso" in admin_notice.title and "Northwind" not in admin_notice.body
    with tenant_context(other_tenant):
        assert not Notification.objects.exists()


def test_a_manager_of_several_partners_gets_one_summary(
    tenant, approval_mode, partner, contoso, gold, silver, channel_manager
):
    assign_partner_manager(channel_manager, contoso)
    proposals = [make_proposal(partner, gold), make_proposal(contoso, silver)]
    _record(tenant, "partner.tier_proposed", {"proposal_ids": [p.pk for p in proposals]})

    _deliver_all(tenant, "partner.tier_proposed")

    (notice,) = _told(tenant, "tier_proposed")[channel_manager.user.email]
    assert notice.title == "2 tier changes wait for your approval"
    assert "Northwind: No tier → Gold" in notice.body or "Northwind: no tier → Gold" in notice.body
    assert "Contoso" in notice.body


def test_a_proposal_decided_before_delivery_is_not_announced(
    tenant, approval_mode, partner, gold, channel_manager, tenant_admin
):
    from partners.tier_engine import tier_proposal_decide

    proposal = make_proposal(partner, gold)
    _record(tenant, "partner.tier_proposed", {"proposal_ids": [proposal.pk]})
    with tenant_context(tenant, tenant_admin):
        tier_proposal_decide(actor=tenant_admin, proposal=proposal, approve=True)

    _deliver_all(tenant, "partner.tier_proposed")

    assert _told(tenant, "tier_proposed") == {}


def test_the_engine_in_approval_mode_tells_the_assigned_manager(
    tenant, approval_mode, partner, gold, channel_manager, partner_admin
):
    values = {partner.pk: Decimal("60")}
    metrics.register(
        "queue_test_score", "Queue test score",
        lambda tenant, now, partner_ids=None: metrics.MetricResult(dict(values)),
    )  # fmt: skip
    try:
        with tenant_context(tenant):
            TierCriterion.objects.create(
                tenant=tenant, tier=gold, metric="queue_test_score", threshold=Decimal("50")
            )
        tiers_evaluate(tenant=tenant, dry_run=False)
    finally:
        metrics.unregister("queue_test_score")

    _deliver_all(tenant, "partner.tier_proposed")

    told = _told(tenant, "tier_proposed")
    assert set(told) == {channel_manager.user.email}  # partner admins hear of decisions only
    assert "Gold" in told[channel_manager.user.email][0].title


# ---------------------------------------------------------------- partner.tier_changed


def test_a_tier_change_of_an_unmanaged_partner_reaches_the_tenant_admins(
    tenant, contoso, contoso_admin, silver, tenant_admin, channel_manager
):
    from django.utils import timezone

    from partners.tier_engine import tier_pin

    with tenant_context(tenant):
        tier_pin(partner=contoso, tier=silver, until=timezone.localdate())

    _deliver_all(tenant, "partner.tier_changed")

    told = _told(tenant, "tier_changed")
    assert set(told) == {contoso_admin.user.email, tenant_admin.user.email}
    assert told[tenant_admin.user.email][0].url == f"console/partners/{contoso.pk}/"
    assert told[contoso_admin.user.email][0].url == "portal/"


# ---------------------------------------------------------------- partner.status_changed


def test_a_suspension_tells_the_partner_admins_and_managers_why(
    tenant, partner, partner_admin, partner_rep, channel_manager, other_manager,
    tenant_admin, contoso_admin,
):  # fmt: skip
    with tenant_context(tenant, tenant_admin):
        services.partner_suspend(actor=tenant_admin, partner=partner, reason="Overdue audit")

    _deliver_all(tenant, "partner.status_changed")

    told = _told(tenant, "partner_status_changed")
    assert set(told) == {partner_admin.user.email, channel_manager.user.email}
    (admin_notice,) = told[partner_admin.user.email]
    assert admin_notice.title == "Northwind is suspended"
    assert "Overdue audit" in admin_notice.body
    assert admin_notice.url == "portal/"
    (manager_notice,) = told[channel_manager.user.email]
    assert manager_notice.url == f"console/partners/{partner.pk}/"
    assert "Overdue audit" in manager_notice.body


def test_a_reactivation_says_the_partner_is_active_again(
    tenant, partner, partner_admin, channel_manager, tenant_admin
):
    with tenant_context(tenant, tenant_admin):
        suspended = services.partner_suspend(
            actor=tenant_admin, partner=partner, reason="Overdue audit"
        )
        services.partner_reactivate(actor=tenant_admin, partner=suspended, reason="Audit done")

    _deliver_all(tenant, "partner.status_changed")

    titles = [n.title for n in _told(tenant, "partner_status_changed")[partner_admin.user.email]]
    assert titles == ["Northwind is suspended", "Northwind is active again"]


def test_an_offboarding_of_an_unmanaged_partner_reaches_the_tenant_admins(
    tenant, contoso, contoso_admin, tenant_admin, channel_manager
):
    with tenant_context(tenant, tenant_admin):
        services.partner_set_status(
            actor=tenant_admin, partner=contoso, status="offboarded", reason="Contract ended"
        )

    _deliver_all(tenant, "partner.status_changed")

    told = _told(tenant, "partner_status_changed")
    assert set(told) == {contoso_admin.user.email, tenant_admin.user.email}
    assert told[contoso_admin.user.email][0].title == "Contoso is offboarded"


def test_status_notices_stay_in_their_tenant(tenant, other_tenant, outsider):
    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    with tenant_context(other_tenant, outsider):
        services.partner_suspend(actor=outsider, partner=umbrella, reason="Overdue audit")

    _deliver_all(other_tenant, "partner.status_changed")

    assert set(_told(other_tenant, "partner_status_changed")) == {outsider.user.email}
    with tenant_context(tenant):
        assert not Notification.objects.exists()
