"""Who gets into which admin: tenant admins into their tenant's, operators into /admin/."""

import pytest

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin"


@pytest.mark.parametrize("member", ["channel_manager", "partner_admin", "partner_rep"])
@pytest.mark.parametrize("path", ["/", "/partners/partner/", "/partners/membership/"])
def test_members_without_the_admin_role_get_no_admin(request, login, two_tenants, member, path):
    client = login(request.getfixturevalue(member))
    response = client.get(f"{ADMIN}{path}", follow=True)
    assert response.status_code == 403
    assert b'id="changelist"' not in response.content
    assert b"admin@acme.test" not in response.content  # a colleague the admin would list
    assert b"Umbrella" not in response.content


def test_a_member_of_another_tenant_gets_404_at_the_tenants_admin(login, outsider, two_tenants):
    client = login(outsider)
    for path in ("/", "/partners/partner/", "/login/"):
        response = client.get(f"{ADMIN}{path}")
        assert response.status_code == 404
        assert b"Northwind" not in response.content


def test_an_anonymous_visitor_is_sent_to_log_in(client, two_tenants):
    response = client.get(f"{ADMIN}/partners/partner/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_inactive_tenant_admin_gets_404(login, tenant_admin, two_tenants):
    from partners.models import Membership
    from partners.tenancy import tenant_context

    with tenant_context(tenant_admin.tenant):
        Membership.objects.filter(pk=tenant_admin.pk).update(is_active=False)
    response = login(tenant_admin).get(f"{ADMIN}/partners/partner/")
    assert response.status_code == 404


def test_the_user_list_is_not_available_to_tenant_admins(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/partners/user/")
    assert response.status_code in (403, 404)
    assert b"admin@globex.test" not in response.content
    index = as_acme_admin.get(f"{ADMIN}/")
    assert b"/admin/partners/user/" not in index.content


def test_a_tenant_admin_cannot_enumerate_users_through_autocomplete(as_acme_admin):
    response = as_acme_admin.get(
        f"{ADMIN}/autocomplete/",
        {"app_label": "partners", "model_name": "membership", "field_name": "user", "term": "o"},
    )
    assert response.status_code in (403, 404)
    assert b"globex" not in response.content
    assert b"umbrella" not in response.content


def test_a_tenant_admin_adds_people_by_invitation_not_by_picking_users(as_acme_admin):
    assert as_acme_admin.get(f"{ADMIN}/partners/membership/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/partners/invitation/add/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/auth/group/",
        "/django_celery_beat/periodictask/",
        "/django_celery_beat/crontabschedule/",
    ],
)
def test_global_tables_are_operator_only(as_acme_admin, path):
    assert as_acme_admin.get(f"{ADMIN}{path}").status_code == 403


def test_the_tenant_admin_index_lists_only_tenant_models(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/")
    models = {
        model["object_name"] for app in response.context["app_list"] for model in app["models"]
    }
    assert models == {
        "Tenant",
        "Partner",
        "Membership",
        "Invitation",
        "ApiToken",
        "OutboxEvent",
        "AutomationRun",
        # partner tiers (partners/admin_tiers.py)
        "Tier",
        "TierChange",
        "TierProposal",
        # partner organizations (partners/admin.py)
        "Competency",
        "PartnerStatusChange",
        "PartnerImport",  # bulk import (partners/admin_imports.py)
        # deal registration (deals/admin.py)
        "Product",
        "LostReason",
        "EngagementRules",
        "Deal",
        "Lead",
        "LeadOffer",
    }


def test_a_superuser_inside_a_tenant_admin_is_only_that_tenants_admin(
    login, operator, tenant, two_tenants
):
    from tests.factories import MembershipFactory

    membership = MembershipFactory(tenant=tenant, role="tenant_admin", user=operator)
    client = login(membership)
    partners = client.get(f"{ADMIN}/partners/partner/")
    assert b"Northwind" in partners.content
    assert b"Umbrella" not in partners.content
    assert client.get(f"{ADMIN}/partners/user/").status_code == 403
    assert client.get(f"{ADMIN}/django_celery_beat/periodictask/").status_code == 403


def test_a_superuser_who_is_a_channel_manager_gets_no_tenant_admin(
    login, operator, tenant, two_tenants
):
    from tests.factories import MembershipFactory

    membership = MembershipFactory(tenant=tenant, role="channel_manager", user=operator)
    response = login(membership).get(f"{ADMIN}/partners/partner/", follow=True)
    assert response.status_code == 403


# ---------------------------------------------------------------- the operators' /admin/


def test_a_superuser_at_the_operator_admin_sees_every_tenants_rows(as_operator):
    partners = as_operator.get("/admin/partners/partner/")
    assert partners.status_code == 200
    assert b"Northwind" in partners.content and b"Umbrella" in partners.content
    people = as_operator.get("/admin/partners/membership/")
    assert b"rep@northwind.test" in people.content and b"rep@umbrella.test" in people.content
    tenants = as_operator.get("/admin/partners/tenant/")
    assert b"Acme" in tenants.content and b"Globex" in tenants.content


def test_the_operator_admin_filters_tenant_rows_by_tenant(as_operator, other_tenant):
    response = as_operator.get("/admin/partners/partner/", {"tenant__id__exact": other_tenant.pk})
    assert response.status_code == 200
    assert b"Umbrella" in response.content
    assert b"Northwind" not in response.content


def test_the_operator_admin_shows_global_tables(as_operator):
    index = as_operator.get("/admin/")
    models = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert {"User", "Group", "PeriodicTask", "Tenant", "Partner"} <= models
    assert as_operator.get("/admin/partners/user/").status_code == 200
    assert as_operator.get("/admin/django_celery_beat/periodictask/").status_code == 200


@pytest.mark.parametrize("member", ["tenant_admin", "channel_manager", "outsider"])
def test_a_non_superuser_at_the_operator_admin_sees_no_cross_tenant_data(
    request, login, two_tenants, member
):
    client = login(request.getfixturevalue(member))
    response = client.get("/admin/partners/partner/")
    assert response.status_code == 302
    assert not response["Location"].startswith("/admin/")
    followed = client.get("/admin/partners/partner/", follow=True)
    assert b'id="result_list"' not in followed.content  # no changelist, of any tenant
    assert not (b"Northwind" in followed.content and b"Umbrella" in followed.content)


def test_an_operator_flag_without_superuser_gets_no_operator_admin(client, two_tenants):
    from tests.factories import UserFactory

    staff = UserFactory(email="staff@trellis.test", is_staff=True)
    client.force_login(staff, backend="partners.permissions.MembershipBackend")
    response = client.get("/admin/partners/partner/")
    assert response.status_code == 302
    assert b"Umbrella" not in response.content


def test_an_anonymous_visitor_gets_the_operator_login(client, two_tenants):
    response = client.get("/admin/partners/partner/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
