"""Fixtures of the notification tests: the people of two partner organizations of Acme and
of Globex, registrations made through the services, and ``delivered()``, which runs what a
commit would set off: the outbox dispatch (its handlers) and the notification emails."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.models import Deal
from deals.services import DealInput, LineInput
from partners.models import Notification, OutboxEvent
from partners.tenancy import tenant_context
from tests.deals.factories import ProductFactory
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    """``with delivered(): ...``: the block's on-commit work runs as after a real commit, and
    Celery runs inline, so each event reaches its handlers and each email is sent.

    It fails the test if a handler raised (the outbox would only log and retry it)."""
    from config.celery import app

    @contextlib.contextmanager
    def _delivered():
        previous = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                yield
        finally:
            app.conf.task_always_eager = previous
        _assert_no_failed_handler()

    return _delivered


def _assert_no_failed_handler() -> None:
    from partners.models import Tenant

    for tenant in Tenant.objects.all():
        with tenant_context(tenant):
            failed = list(
                OutboxEvent.objects.exclude(last_error="").values_list("name", "last_error")
            )
        assert failed == [], failed


@pytest.fixture
def act():
    """``act(membership, service, **kwargs)``: a service as that member, in their tenant."""

    def _act(actor, service, **kwargs):
        with tenant_context(actor.tenant, actor):
            return service(actor=actor, **kwargs)

    return _act


@pytest.fixture
def inbox():
    """``inbox(membership)``: that member's notifications, newest first, read in their tenant."""

    def _inbox(membership, kind: str | None = None) -> list[Notification]:
        with tenant_context(membership.tenant):
            rows = Notification.objects.filter(recipient=membership).order_by("-created_at", "-id")
            if kind:
                rows = rows.filter(kind=kind)
            return list(rows)

    return _inbox


@pytest.fixture
def recipients_of(tenant):
    """``recipients_of("deal.approved")``: emails of everyone Acme notified of that kind."""

    def _recipients(kind: str, tenant_=None) -> set[str]:
        with tenant_context(tenant_ or tenant):
            return set(
                Notification.objects.filter(kind=kind).values_list(
                    "recipient__user__email", flat=True
                )
            )

    return _recipients


# ---------------------------------------------------------------- people


@pytest.fixture
def colleague_rep(tenant, partner):
    """A second rep of Northwind, who did not register the deal."""
    return MembershipFactory(
        tenant=tenant, role="partner_rep", partner=partner, user__email="rep2@northwind.test"
    )


@pytest.fixture
def finance(tenant):
    return MembershipFactory(tenant=tenant, role="finance", user__email="finance@acme.test")


@pytest.fixture
def globex_people(other_tenant, outsider):
    """Globex's reviewers and a partner organization with its admin and rep."""
    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    return [
        outsider,
        MembershipFactory(
            tenant=other_tenant, role="channel_manager", user__email="manager@globex.test"
        ),
        MembershipFactory(
            tenant=other_tenant,
            role="partner_admin",
            partner=umbrella,
            user__email="padmin@umbrella.test",
        ),
        MembershipFactory(
            tenant=other_tenant,
            role="partner_rep",
            partner=umbrella,
            user__email="rep@umbrella.test",
        ),
    ]


@pytest.fixture
def everyone(
    tenant_admin,
    channel_manager,
    finance,
    partner_admin,
    partner_rep,
    colleague_rep,
    contoso_admin,
    contoso_rep,
    globex_people,
):
    """Every actor of the recipient tests, in both tenants."""
    return [
        tenant_admin,
        channel_manager,
        finance,
        partner_admin,
        partner_rep,
        colleague_rep,
        contoso_admin,
        contoso_rep,
        *globex_people,
    ]


# ---------------------------------------------------------------- registrations


@pytest.fixture
def product(tenant):
    return ProductFactory(
        tenant=tenant, sku="CLOUD-STD", name="Cloud Standard", list_price=Decimal("1200.00")
    )


@pytest.fixture
def register(act, product):
    """``register(rep, customer_name=...)``: a submitted registration, through the service."""

    def _register(actor, *, submit: bool = True, **overrides) -> Deal:
        values = {
            "customer_name": "Blue Harbor Logistics Inc.",
            "customer_domain": "blueharbor.example",
            "country": "US",
            "currency": "USD",
            "expected_close_date": timezone.localdate() + timedelta(days=45),
            "lines": [LineInput(product_id=product.pk, quantity=2)],
        }
        values.update(overrides)
        return act(actor, services.deal_create, data=DealInput(**values), submit=submit)

    return _register


@pytest.fixture
def approved_deal(register, act, partner_rep, channel_manager):
    """Northwind's rep registered Blue Harbor and a channel manager approved it."""
    deal = register(partner_rep)
    return act(channel_manager, services.deal_approve, deal=deal)


@pytest.fixture
def protection_ends_in():
    """``protection_ends_in(deal, timedelta(days=3))``: move the end of a registration's
    protection (what the passing of time would do)."""

    def _move(deal: Deal, delta: timedelta) -> Deal:
        with tenant_context(deal.tenant):
            Deal.objects.filter(pk=deal.pk).update(protection_ends_at=timezone.now() + delta)
            deal.refresh_from_db()
        return deal

    return _move


# ---------------------------------------------------------------- inbox rows and clients


@pytest.fixture
def notify_member():
    """``notify_member(membership, count=1, **fields)``: notifications through the service,
    without emails."""
    from partners import notifications

    def _notify(membership, count: int = 1, **fields) -> list[Notification]:
        values = {"kind": "test.news", "title": "News", "body": "", "url": "portal/"}
        values.update(fields)
        made = []
        with tenant_context(membership.tenant):
            for n in range(count):
                title = values["title"] if count == 1 else f"{values['title']} {n + 1}"
                made += notifications.notify(
                    recipients=[membership], email=False, **{**values, "title": title}
                )
        return made

    return _notify


@pytest.fixture
def api_as():
    """An APIClient that sends a fresh API token of ``membership``."""
    from rest_framework.test import APIClient

    from partners import services as partner_services

    def _as(membership):
        with tenant_context(membership.tenant, membership):
            issued = partner_services.api_token_issue(actor=membership, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        return client

    return _as
