"""The scheduled rules of engagement: registrations expire when their protection ends, with a
warning (once) before, tenant by tenant, each run logged in the automation run log."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from deals import services
from deals.models import Deal, DealStatus
from deals.services import DealInput, LineInput
from deals.tasks import expire_registrations, run_deal_rules, warn_expiring_registrations
from partners.models import AutomationOutcome, AutomationRun, Notification
from partners.tenancy import tenant_context
from tests.deals.factories import ProductFactory
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _status(deal: Deal) -> str:
    with tenant_context(deal.tenant):
        deal.refresh_from_db()
    return deal.status


def _direct_deal(act, channel_manager, product) -> Deal:
    from django.utils import timezone

    data = DealInput(
        customer_name="Direct Customer GmbH",
        country="DE",
        currency="USD",
        expected_close_date=timezone.localdate() + 30 * DAY,
        lines=[LineInput(product_id=product.pk, quantity=1)],
    )
    return act(channel_manager, services.deal_create_direct, data=data)


def _globex_approved_deal(other_tenant, act, register) -> Deal:
    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    rep = MembershipFactory(
        tenant=other_tenant, role="partner_rep", partner=umbrella, user__email="rep@umbrella.test"
    )
    manager = MembershipFactory(
        tenant=other_tenant, role="channel_manager", user__email="manager@globex.test"
    )
    product = ProductFactory(tenant=other_tenant, sku="G-1", list_price=Decimal("10"))
    deal = register(rep, lines=[LineInput(product_id=product.pk, quantity=1)])
    return act(manager, services.deal_approve, deal=deal)


def _runs(tenant, job: str) -> list[AutomationRun]:
    with tenant_context(tenant):
        return list(AutomationRun.objects.filter(job=job).order_by("started_at"))


def test_the_expiry_job_expires_only_approved_registrations_past_their_protection(
    tenant, other_tenant, register, act, partner_rep, contoso_rep, channel_manager, product,
    protection_ends_in, delivered,
):  # fmt: skip
    due = act(channel_manager, services.deal_approve, deal=register(partner_rep))
    protected = act(
        channel_manager,
        services.deal_approve,
        deal=register(contoso_rep, customer_name="Other Co", customer_domain="other.example"),
    )
    submitted = register(partner_rep, customer_name="Pending Co", customer_domain="pending.test")
    direct = _direct_deal(act, channel_manager, product)
    globex_due = _globex_approved_deal(other_tenant, act, register)
    for deal in (due, direct, globex_due):
        protection_ends_in(deal, -DAY)
    protection_ends_in(protected, DAY)

    with delivered():
        assert expire_registrations.apply(args=(tenant.pk,)).get() == 1

    assert _status(due) == DealStatus.EXPIRED
    assert _status(protected) == DealStatus.APPROVED
    assert _status(submitted) == DealStatus.SUBMITTED
    assert _status(direct) == DealStatus.APPROVED  # direct deals have no protection to lose
    assert _status(globex_due) == DealStatus.APPROVED  # another tenant's job, another run


def test_an_expired_registration_is_on_the_timeline_and_the_partner_is_told(
    tenant, approved_deal, protection_ends_in, delivered, recipients_of, inbox, partner_rep,
    partner_admin, colleague_rep, channel_manager,
):  # fmt: skip
    protection_ends_in(approved_deal, -DAY)

    with delivered():
        expire_registrations.apply(args=(tenant.pk,))

    with tenant_context(tenant):
        last = approved_deal.transitions.order_by("-at", "-id").first()
    assert (last.from_status, last.to_status, last.automatic) == ("approved", "expired", True)
    assert recipients_of("deal.expired") == {"rep@northwind.test", "padmin@northwind.test"}
    [notice] = inbox(partner_rep, "deal.expired")
    assert notice.title == "Deal registration expired: Blue Harbor Logistics Inc."


def test_the_warning_goes_out_seven_days_before_expiry_by_default(
    tenant, register, act, partner_rep, contoso_rep, channel_manager, protection_ends_in,
    delivered, recipients_of, partner_admin, contoso_admin,
):  # fmt: skip
    with tenant_context(tenant):
        assert services.engagement_rules().expiry_warning_days == 7
    soon = act(channel_manager, services.deal_approve, deal=register(partner_rep))
    later = act(
        channel_manager,
        services.deal_approve,
        deal=register(contoso_rep, customer_name="Later Co", customer_domain="later.example"),
    )
    protection_ends_in(soon, 7 * DAY - timedelta(minutes=5))
    protection_ends_in(later, 7 * DAY + timedelta(hours=1))

    with delivered():
        assert warn_expiring_registrations.apply(args=(tenant.pk,)).get() == 1

    assert recipients_of("deal.expiry_warning") == {"rep@northwind.test", "padmin@northwind.test"}
    assert _status(soon) == DealStatus.APPROVED  # a warning, not an expiry


def test_the_warning_is_sent_once_however_often_the_job_runs(
    tenant, approved_deal, protection_ends_in, delivered, inbox, partner_rep
):
    from django.core import mail

    protection_ends_in(approved_deal, 3 * DAY)
    mail.outbox.clear()

    with delivered():
        assert warn_expiring_registrations.apply(args=(tenant.pk,)).get() == 1
    with delivered():
        assert warn_expiring_registrations.apply(args=(tenant.pk,)).get() == 0

    [warning] = inbox(partner_rep, "deal.expiry_warning")
    assert warning.title == "Protection ends soon: Blue Harbor Logistics Inc."
    assert "You may request one extension" in warning.body
    assert len([m for m in mail.outbox if m.to == ["rep@northwind.test"]]) == 1


def test_the_warning_follows_the_tenants_warning_days(
    tenant, approved_deal, protection_ends_in, delivered, recipients_of
):
    with tenant_context(tenant):
        rules = services.engagement_rules()
        rules.expiry_warning_days = 14
        rules.save()
    protection_ends_in(approved_deal, 10 * DAY)

    with delivered():
        warn_expiring_registrations.apply(args=(tenant.pk,))

    assert recipients_of("deal.expiry_warning") == {"rep@northwind.test"}


def test_both_jobs_are_logged_in_the_automation_run_log(
    tenant, approved_deal, protection_ends_in, delivered
):
    protection_ends_in(approved_deal, -DAY)

    with delivered():
        warn_expiring_registrations.apply(args=(tenant.pk,))
        expire_registrations.apply(args=(tenant.pk,))

    [warn_run] = _runs(tenant, "deals.warn_expiring_registrations")
    [expire_run] = _runs(tenant, "deals.expire_registrations")
    assert (warn_run.outcome, warn_run.detail) == (AutomationOutcome.SUCCEEDED, {"warned": 0})
    assert (expire_run.outcome, expire_run.detail) == (AutomationOutcome.SUCCEEDED, {"expired": 1})
    assert expire_run.finished_at is not None


def test_the_hourly_rules_run_covers_every_active_tenant_and_no_inactive_one(
    tenant, other_tenant, approved_deal, protection_ends_in, delivered
):
    dormant = TenantFactory(slug="dormant", name="Dormant", is_active=False)
    protection_ends_in(approved_deal, -DAY)

    with delivered():
        assert run_deal_rules.apply().get() == 2

    assert _status(approved_deal) == DealStatus.EXPIRED
    for active in (tenant, other_tenant):
        assert len(_runs(active, "deals.expire_registrations")) == 1
        assert len(_runs(active, "deals.warn_expiring_registrations")) == 1
    assert _runs(dormant, "deals.expire_registrations") == []


def test_the_rules_run_is_on_the_beat_schedule_hourly():
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "deals.run_deal_rules"
    ]
    assert entry["schedule"] == 3600


def test_an_extension_approved_after_the_warning_warns_again_before_the_new_end(
    tenant, approved_deal, act, partner_rep, channel_manager, protection_ends_in, delivered,
    inbox,
):  # fmt: skip
    protection_ends_in(approved_deal, 3 * DAY)
    with delivered():
        warn_expiring_registrations.apply(args=(tenant.pk,))
    act(partner_rep, services.deal_request_extension, deal=approved_deal, reason="Budget freeze.")
    act(channel_manager, services.deal_decide_extension, deal=approved_deal, approve=True)
    protection_ends_in(approved_deal, 2 * DAY)

    with delivered():
        warn_expiring_registrations.apply(args=(tenant.pk,))

    warnings = inbox(partner_rep, "deal.expiry_warning")
    assert len(warnings) == 2
    assert "You may request one extension" not in warnings[0].body


def test_nothing_due_notifies_nobody(tenant, approved_deal, delivered):
    with delivered():
        expire_registrations.apply(args=(tenant.pk,))
        warn_expiring_registrations.apply(args=(tenant.pk,))

    with tenant_context(tenant):
        assert not Notification.objects.filter(
            kind__in=["deal.expired", "deal.expiry_warning"]
        ).exists()
