"""Each deal event reaches the right people, and nobody else: not another partner's people,
not staff who do not review, not another tenant."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from deals import services
from partners.models import EventDelivery, Notification, OutboxEvent
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db

NORTHWIND_DECIDERS = {"rep@northwind.test", "padmin@northwind.test"}
REVIEWERS = {"admin@acme.test", "manager@acme.test"}


def test_a_submission_notifies_the_tenants_reviewers_and_nobody_else(
    everyone, register, partner_rep, delivered, recipients_of
):
    with delivered():
        deal = register(partner_rep)

    assert recipients_of("deal.submitted") == REVIEWERS
    assert recipients_of("deal.submitted", everyone[-1].tenant) == set()
    with tenant_context(deal.tenant):
        titles = set(Notification.objects.values_list("title", flat=True))
    assert titles == {"New deal registration: Blue Harbor Logistics Inc. from Northwind"}


def test_the_submission_notice_links_to_the_review_page_and_counts_the_conflicts(
    everyone, register, partner_rep, contoso_rep, delivered, inbox, channel_manager
):
    register(partner_rep)
    with delivered():
        rival = register(contoso_rep, customer_name="Blue Harbor Logistics")

    [notice] = inbox(channel_manager, "deal.submitted")
    assert notice.url == f"console/deals/{rival.pk}/"
    assert "1 possible conflict to review." in notice.body
    assert "2,400.00 USD" in notice.body or "2400.00 USD" in notice.body


def test_an_automatic_approval_tells_the_partner_and_asks_no_reviewer_to_review(
    everyone, register, partner_rep, delivered, recipients_of, inbox, tenant
):
    with tenant_context(tenant):
        rules = services.engagement_rules()
        rules.auto_approve_max_total = Decimal("10000")
        rules.save()

    with delivered():
        register(partner_rep)

    assert recipients_of("deal.submitted") == set()
    assert recipients_of("deal.approved") == NORTHWIND_DECIDERS
    [notice] = inbox(partner_rep, "deal.approved")
    assert notice.body.startswith("Approved automatically.")


def test_an_approval_tells_the_registering_rep_and_the_partner_admins_only(
    everyone, register, act, partner_rep, channel_manager, delivered, recipients_of, inbox
):
    deal = register(partner_rep)
    with delivered():
        act(channel_manager, services.deal_approve, deal=deal)

    # Not the colleague rep who did not register it, not Contoso, not staff, not Globex.
    assert recipients_of("deal.approved") == NORTHWIND_DECIDERS
    [notice] = inbox(partner_rep, "deal.approved")
    assert notice.title == "Deal registration approved: Blue Harbor Logistics Inc."
    assert notice.body.startswith("Your registration is protected until ")
    assert notice.url == f"deals/{deal.pk}/"


def test_a_rejection_carries_the_reviewers_reason(
    everyone, register, act, partner_rep, channel_manager, delivered, recipients_of, inbox
):
    deal = register(partner_rep)
    with delivered():
        act(channel_manager, services.deal_reject, deal=deal, reason="The customer buys direct.")

    assert recipients_of("deal.rejected") == NORTHWIND_DECIDERS
    [notice] = inbox(partner_rep, "deal.rejected")
    assert notice.title == "Deal registration rejected: Blue Harbor Logistics Inc."
    assert notice.body == "Reason: The customer buys direct."


def test_a_request_for_information_carries_the_question(
    everyone, register, act, partner_rep, channel_manager, delivered, recipients_of, inbox
):
    deal = register(partner_rep)
    with delivered():
        act(channel_manager, services.deal_request_info, deal=deal, question="Which regions?")

    assert recipients_of("deal.more_info") == NORTHWIND_DECIDERS
    [notice] = inbox(partner_rep, "deal.more_info")
    assert "The reviewer asks: Which regions?" in notice.body


def test_a_partner_admins_own_registration_notifies_the_partner_admins_once(
    everyone, register, act, partner_admin, channel_manager, delivered, recipients_of
):
    deal = register(partner_admin)
    with delivered():
        act(channel_manager, services.deal_approve, deal=deal)

    assert recipients_of("deal.approved") == {"padmin@northwind.test"}
    with tenant_context(deal.tenant):
        assert Notification.objects.filter(kind="deal.approved").count() == 1


def test_an_extension_request_reaches_reviewers_and_the_decision_reaches_the_partner(
    everyone, approved_deal, act, partner_rep, channel_manager, delivered, recipients_of, inbox
):
    with delivered():
        act(partner_rep, services.deal_request_extension, deal=approved_deal, reason="Slow RFP.")
    assert recipients_of("deal.extension_requested") == REVIEWERS
    [request] = inbox(channel_manager, "deal.extension_requested")
    assert "Reason: Slow RFP." in request.body

    with delivered():
        act(channel_manager, services.deal_decide_extension, deal=approved_deal, approve=True)
    assert recipients_of("deal.extension_decided") == NORTHWIND_DECIDERS
    [decision] = inbox(partner_rep, "deal.extension_decided")
    assert decision.title == "Extension approved: Blue Harbor Logistics Inc."


def test_a_declined_extension_says_so(
    everyone, approved_deal, act, partner_rep, channel_manager, delivered, inbox
):
    act(partner_rep, services.deal_request_extension, deal=approved_deal, reason="Slow RFP.")
    with delivered():
        act(channel_manager, services.deal_decide_extension, deal=approved_deal, approve=False)

    [decision] = inbox(partner_rep, "deal.extension_decided")
    assert decision.title == "Extension declined: Blue Harbor Logistics Inc."


def test_won_and_lost_are_the_partners_own_news_and_notify_nobody(
    everyone, approved_deal, act, partner_rep, delivered, tenant
):
    from django.utils import timezone

    with delivered():
        act(
            partner_rep,
            services.deal_mark_won,
            deal=approved_deal,
            final_amount=Decimal("2400"),
            closed_on=timezone.localdate(),
        )
    with tenant_context(tenant):
        assert not Notification.objects.filter(kind="deal.won").exists()


def test_a_partner_never_learns_who_else_registered_the_customer(
    everyone, register, act, partner_rep, contoso_rep, tenant_admin, delivered, inbox
):
    first = register(partner_rep)
    act(tenant_admin, services.deal_approve, deal=first)
    with delivered():
        rival = register(contoso_rep, customer_name="Blue Harbor Logistics")
        act(
            tenant_admin,
            services.deal_approve,
            deal=rival,
            override_reason="Northwind lost the customer to Contoso.",
            comment="Northwind's registration is stale.",
        )

    contoso_news = inbox(contoso_rep)
    assert [n.kind for n in contoso_news] == ["deal.approved"]
    for notice in contoso_news:
        assert "Northwind" not in f"{notice.title} {notice.body}"
    for message in mail.outbox:
        if "rep@contoso.test" in message.to:
            assert "Northwind" not in f"{message.subject} {message.body}"


def test_every_notification_is_emailed_to_its_recipient_with_a_link_into_the_tenant(
    everyone, register, act, partner_rep, channel_manager, delivered, settings
):
    settings.SITE_URL = "https://prm.example.com"
    deal = register(partner_rep)
    mail.outbox.clear()
    with delivered():
        act(channel_manager, services.deal_reject, deal=deal, reason="Duplicate.")

    assert sorted(m.to[0] for m in mail.outbox) == sorted(NORTHWIND_DECIDERS)
    message = next(m for m in mail.outbox if m.to == ["rep@northwind.test"])
    assert message.subject == "[Acme] Deal registration rejected: Blue Harbor Logistics Inc."
    assert f"https://prm.example.com/t/acme/deals/{deal.pk}/" in message.body
    assert "Reason: Duplicate." in message.body
    assert "https://prm.example.com/t/acme/notifications/" in message.body


def test_a_redelivered_event_notifies_nobody_twice(
    everyone, register, act, partner_rep, channel_manager, delivered, tenant
):
    from partners.tasks import dispatch_event

    deal = register(partner_rep)
    with delivered():
        act(channel_manager, services.deal_approve, deal=deal)
    with tenant_context(tenant):
        delivery = EventDelivery.objects.get(handler="deals.notify_partner")
        # As if the worker died after the handler committed, before the event was closed.
        OutboxEvent.objects.filter(pk=delivery.event_id).update(dispatched_at=None)
    sent = len(mail.outbox)

    with delivered():
        dispatch_event.apply(args=(tenant.pk, delivery.event_id))

    with tenant_context(tenant):
        assert Notification.objects.filter(kind="deal.approved").count() == 2
    assert len(mail.outbox) == sent


def test_an_answered_request_for_information_goes_back_to_the_reviewers_with_the_answer(
    everyone, register, act, partner_rep, channel_manager, delivered, inbox
):
    deal = register(partner_rep)
    act(channel_manager, services.deal_request_info, deal=deal, question="Which regions?")
    with delivered():
        act(partner_rep, services.deal_submit, deal=deal, comment="EMEA and APAC.")

    [notice] = inbox(channel_manager, "deal.submitted")
    assert notice.title == "More information received: Blue Harbor Logistics Inc. from Northwind"
    assert "The partner answers: EMEA and APAC." in notice.body
