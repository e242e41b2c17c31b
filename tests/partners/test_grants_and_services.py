"""Object grants through django-guardian, and the service-level same-tenant guards."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from partners import grants, services
from partners.models import Membership, Partner
from partners.roles import ROLE_PERMISSIONS
from partners.tenancy import tenant_context
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_holding_its_permissions(db):
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(perms)


def test_a_grant_on_one_partner_does_not_reach_another(channel_manager, partner, tenant):
    contoso = PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")
    user = channel_manager.user
    grants.grant(user=user, perm="partners.view_partner", obj=partner)
    with tenant_context(tenant, channel_manager):
        assert grants.has_grant(user=user, perm="partners.view_partner", obj=partner)
        assert not grants.has_grant(user=user, perm="partners.view_partner", obj=contoso)
        granted = grants.objects_with_grant(
            user=user, perm="partners.view_partner", queryset=Partner.objects.all()
        )
        assert list(granted) == [partner]


def test_membership_with_a_partner_of_another_tenant_is_refused(tenant, other_tenant):
    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    user = UserFactory()
    with tenant_context(tenant), pytest.raises(ValidationError):
        services.membership_create(actor=None, user=user, role="partner_rep", partner=umbrella)
    with tenant_context(tenant):
        assert not Membership.objects.filter(user=user).exists()


def test_invitation_into_a_partner_of_another_tenant_is_refused(tenant_admin, tenant, other_tenant):
    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    with tenant_context(tenant, tenant_admin), pytest.raises(ValidationError):
        services.invitation_create(
            actor=tenant_admin, email="new@umbrella.test", role="partner_rep", partner=umbrella
        )


def test_partner_roles_need_a_partner_and_staff_roles_refuse_one(tenant, partner):
    with tenant_context(tenant):
        with pytest.raises(ValidationError):
            services.membership_create(actor=None, user=UserFactory(), role="partner_admin")
        with pytest.raises(ValidationError):
            services.membership_create(
                actor=None, user=UserFactory(), role="finance", partner=partner
            )
