"""Fixtures of the admin tests: two tenants (acme, globex) with rows in each, an operator."""

from __future__ import annotations

import pytest

from partners import services
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, PartnerFactory, UserFactory


@pytest.fixture
def umbrella(other_tenant):
    """Globex's partner organization: what acme's admin must never see."""
    return PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")


@pytest.fixture
def globex_rep(other_tenant, umbrella):
    return MembershipFactory(
        tenant=other_tenant, role="partner_rep", partner=umbrella, user__email="rep@umbrella.test"
    )


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@trellis.test", is_superuser=True, is_staff=True)


@pytest.fixture
def acme_invitation(tenant, tenant_admin, partner):
    with tenant_context(tenant, tenant_admin):
        return services.invitation_create(
            actor=tenant_admin, email="new.rep@northwind.test", role="partner_rep", partner=partner
        ).invitation


@pytest.fixture
def globex_invitation(other_tenant, outsider, umbrella):
    with tenant_context(other_tenant, outsider):
        return services.invitation_create(
            actor=outsider, email="new.rep@umbrella.test", role="partner_rep", partner=umbrella
        ).invitation


@pytest.fixture
def two_tenants(
    tenant, other_tenant, partner, umbrella, tenant_admin, outsider, partner_rep, globex_rep
):
    """Both tenants populated: a partner, an admin and a partner rep in each."""
    return tenant, other_tenant


@pytest.fixture
def as_acme_admin(login, tenant_admin, two_tenants):
    return login(tenant_admin)


@pytest.fixture
def as_operator(client, operator, two_tenants):
    client.force_login(operator, backend="partners.permissions.MembershipBackend")
    return client
