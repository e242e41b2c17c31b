"""``manage.py create_tenant``: the operator's way to open a tenant."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from partners.models import Invitation, Membership, Tenant
from partners.tenancy import tenant_context
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run(**options) -> str:
    out = StringIO()
    call_command("create_tenant", stdout=out, **options)
    return out.getvalue()


def test_it_creates_a_tenant_with_currency_and_time_zone(db):
    output = _run(name="Initech", slug="initech", currency="eur", time_zone="Europe/Berlin")
    tenant = Tenant.objects.get(slug="initech")
    assert (tenant.name, tenant.default_currency, tenant.time_zone) == (
        "Initech",
        "EUR",
        "Europe/Berlin",
    )
    assert "Created tenant 'Initech'" in output
    assert "/t/initech/admin/" in output


def test_it_invites_the_first_tenant_admin(db):
    output = _run(name="Initech", slug="initech", admin_email="Boss@Initech.test")
    tenant = Tenant.objects.get(slug="initech")
    with tenant_context(tenant):
        invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.state) == (
        "boss@initech.test",
        "tenant_admin",
        "pending",
    )
    assert "Invited boss@initech.test" in output
    assert "/accounts/invite/" in output


def test_it_makes_an_existing_user_the_tenant_admin(db):
    user = UserFactory(email="boss@initech.test")
    output = _run(name="Initech", slug="initech", admin_email="boss@initech.test")
    tenant = Tenant.objects.get(slug="initech")
    with tenant_context(tenant):
        membership = Membership.objects.get()
    assert (membership.user_id, membership.role) == (user.pk, "tenant_admin")
    assert "existing user boss@initech.test" in output


def test_it_refuses_a_duplicate_slug_with_a_clear_error(tenant):
    with pytest.raises(CommandError, match="slug 'acme' already exists"):
        _run(name="Another Acme", slug="acme")
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_it_refuses_an_unknown_time_zone_and_creates_nothing(db):
    with pytest.raises(CommandError, match="time_zone"):
        _run(name="Initech", slug="initech", time_zone="Mars/Olympus", admin_email="a@b.test")
    assert not Tenant.objects.filter(slug="initech").exists()


def test_it_refuses_an_invalid_admin_email(db):
    with pytest.raises(CommandError, match="admin-email"):
        _run(name="Initech", slug="initech", admin_email="not-an-email")
    assert not Tenant.objects.filter(slug="initech").exists()
