"""Test set-up: the test database is created and migrated as the owner role, then every
test talks to it as the runtime role, exactly like the web and worker processes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test.utils import setup_databases, teardown_databases

from partners.grants import grant
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierCriterion
from tests.factories import (  # noqa: F401  (re-exported fixtures below use them)
    MembershipFactory,
    PartnerFactory,
    TenantFactory,
    UserFactory,
)

DEMO_PASSWORD = "trellis-demo"


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_keepdb,
    django_db_modify_db_settings,
):
    from partners.dbroles import ensure_roles_and_grants, owner_connection

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock(), owner_connection():
        db_cfg = setup_databases(verbosity=verbosity, interactive=False, keepdb=django_db_keepdb)
        ensure_roles_and_grants()
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock(), owner_connection():
            teardown_databases(db_cfg, verbosity=verbosity)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", name="Globex")


@pytest.fixture
def partner(tenant):
    return PartnerFactory(tenant=tenant, name="Northwind", domain="northwind.test")


@pytest.fixture
def tenant_admin(tenant):
    return MembershipFactory(tenant=tenant, role="tenant_admin", user__email="admin@acme.test")


@pytest.fixture
def channel_manager(tenant, partner):
    """Acme's channel manager, assigned to Northwind (a guardian grant of manage_partner)."""
    membership = MembershipFactory(
        tenant=tenant, role="channel_manager", user__email="manager@acme.test"
    )
    assign_partner_manager(membership, partner)
    return membership


def assign_partner_manager(membership, partner) -> None:
    """Make ``membership`` (staff) one of ``partner``'s assigned managers."""
    with tenant_context(partner.tenant):
        grant(user=membership.user, perm="partners.manage_partner", obj=partner)


@pytest.fixture
def partner_admin(tenant, partner):
    return MembershipFactory(
        tenant=tenant, role="partner_admin", partner=partner, user__email="padmin@northwind.test"
    )


@pytest.fixture
def partner_rep(tenant, partner):
    return MembershipFactory(
        tenant=tenant, role="partner_rep", partner=partner, user__email="rep@northwind.test"
    )


@pytest.fixture
def contoso(tenant):
    """A second partner organization of Acme."""
    return PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")


@pytest.fixture
def contoso_admin(tenant, contoso):
    return MembershipFactory(
        tenant=tenant, role="partner_admin", partner=contoso, user__email="padmin@contoso.test"
    )


@pytest.fixture
def contoso_rep(tenant, contoso):
    return MembershipFactory(
        tenant=tenant, role="partner_rep", partner=contoso, user__email="rep@contoso.test"
    )


@pytest.fixture
def outsider(other_tenant):
    """A tenant admin of another tenant: the third actor of every isolation test."""
    return MembershipFactory(
        tenant=other_tenant, role="tenant_admin", user__email="admin@globex.test"
    )


@pytest.fixture
def login(client):
    """Sign a membership's user in on the Django test client; returns the client."""

    def _login(membership):
        client.force_login(membership.user, backend="partners.permissions.MembershipBackend")
        return client

    return _login


@pytest.fixture
def make_tier():
    """``make_tier(tenant, rank, name, [(metric, operator, threshold)], **benefits)``."""

    def _make(tenant, rank, name, criteria=(), **benefits):
        with tenant_context(tenant):
            tier = Tier.objects.create(tenant=tenant, rank=rank, name=name, **benefits)
            for metric, operator, threshold in criteria:
                TierCriterion.objects.create(
                    tenant=tenant, tier=tier, metric=metric, operator=operator,
                    threshold=Decimal(threshold),
                )  # fmt: skip
            return tier

    return _make
