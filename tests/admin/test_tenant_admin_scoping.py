"""A tenant admin at /t/acme/admin/ sees, offers and writes only acme's rows."""

import re

import pytest

from partners.models import Partner
from partners.tenancy import dangerously_all_tenants, tenant_context

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin"


def test_partner_changelist_lists_only_the_tenants_partners(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/partners/partner/")
    assert response.status_code == 200
    assert b"Northwind" in response.content
    assert b"Umbrella" not in response.content


def test_membership_changelist_lists_only_the_tenants_people(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/partners/membership/")
    assert response.status_code == 200
    assert b"rep@northwind.test" in response.content
    assert b"admin@acme.test" in response.content
    assert b"rep@umbrella.test" not in response.content
    assert b"admin@globex.test" not in response.content


def test_invitation_changelist_lists_only_the_tenants_invitations(
    as_acme_admin, acme_invitation, globex_invitation
):
    response = as_acme_admin.get(f"{ADMIN}/partners/invitation/")
    assert response.status_code == 200
    assert b"new.rep@northwind.test" in response.content
    assert b"new.rep@umbrella.test" not in response.content


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_tenants_partner_answers_404_without_its_data(as_acme_admin, umbrella, view):
    response = as_acme_admin.get(f"{ADMIN}/partners/partner/{umbrella.pk}/{view}/")
    assert response.status_code == 404
    assert b"Umbrella" not in response.content


def test_another_tenants_membership_and_invitation_answer_404(
    as_acme_admin, globex_rep, globex_invitation
):
    membership = as_acme_admin.get(f"{ADMIN}/partners/membership/{globex_rep.pk}/change/")
    invitation = as_acme_admin.get(f"{ADMIN}/partners/invitation/{globex_invitation.pk}/change/")
    assert membership.status_code == 404
    assert invitation.status_code == 404
    assert b"umbrella.test" not in membership.content + invitation.content


def test_membership_change_form_offers_only_the_tenants_partners(
    as_acme_admin, partner_rep, partner, umbrella, tenant
):
    from tests.factories import PartnerFactory

    contoso = PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")
    response = as_acme_admin.get(f"{ADMIN}/partners/membership/{partner_rep.pk}/change/")
    assert response.status_code == 200
    select = re.search(r'<select name="partner".*?</select>', response.content.decode(), re.S)
    offered = set(re.findall(r'<option value="(\d+)"', select.group(0)))
    assert offered == {str(partner.pk), str(contoso.pk)}
    assert b"Umbrella" not in response.content
    assert b"rep@northwind.test" in response.content
    assert b"/admin/partners/user/" not in response.content  # no link to the global user


def test_membership_changelist_partner_filter_offers_only_the_tenants_partners(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/partners/membership/")
    filter_choices = [
        choice["display"]
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
    ]
    assert "Northwind" in filter_choices
    assert "Umbrella" not in filter_choices


def test_saving_a_new_partner_assigns_the_current_tenant(as_acme_admin, tenant, other_tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/partner/add/",
        {"name": "Contoso", "domain": "contoso.test", "status": "active"},
    )
    assert response.status_code == 302
    with dangerously_all_tenants():
        contoso = Partner.objects.get(name="Contoso")
    assert contoso.tenant_id == tenant.pk


def test_a_new_partner_cannot_be_posted_into_another_tenant(as_acme_admin, tenant, other_tenant):
    as_acme_admin.post(
        f"{ADMIN}/partners/partner/add/",
        {
            "name": "Contoso",
            "domain": "contoso.test",
            "status": "active",
            "tenant": other_tenant.pk,
        },
    )
    with tenant_context(other_tenant):
        assert not Partner.objects.filter(name="Contoso").exists()
    with tenant_context(tenant):
        assert Partner.objects.filter(name="Contoso").exists()


def test_a_duplicate_partner_domain_is_a_form_error_not_a_crash(as_acme_admin, umbrella):
    duplicate = as_acme_admin.post(
        f"{ADMIN}/partners/partner/add/",
        {"name": "Northwind again", "domain": "northwind.test", "status": "active"},
    )
    assert duplicate.status_code == 200
    assert duplicate.context["adminform"].form.errors
    # The same domain in another tenant is no conflict.
    reused = as_acme_admin.post(
        f"{ADMIN}/partners/partner/add/",
        {"name": "Umbrella", "domain": "umbrella.test", "status": "active"},
    )
    assert reused.status_code == 302


def test_own_partner_history_is_shown(as_acme_admin, partner):
    response = as_acme_admin.get(f"{ADMIN}/partners/partner/{partner.pk}/history/")
    assert response.status_code == 200
    assert b"Northwind" in response.content


def test_tenant_admin_changes_their_tenants_settings(as_acme_admin, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/tenant/{tenant.pk}/change/",
        {
            "name": "Acme Europe",
            "default_currency": "EUR",
            "time_zone": "Europe/Berlin",
            "settings": '{"auto_approve_below": 5000}',
        },
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.default_currency, tenant.time_zone) == (
        "Acme Europe",
        "EUR",
        "Europe/Berlin",
    )
    assert tenant.settings == {"auto_approve_below": 5000}
    assert tenant.slug == "acme"


def test_an_invalid_time_zone_is_a_form_error(as_acme_admin, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/tenant/{tenant.pk}/change/",
        {"name": "Acme", "default_currency": "USD", "time_zone": "Mars/Olympus", "settings": "{}"},
    )
    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors


def test_tenant_changelist_shows_only_the_own_tenant(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/partners/tenant/")
    assert response.status_code == 200
    assert b"Acme" in response.content
    assert b"Globex" not in response.content
    assert b"globex" not in response.content


def test_tenant_admin_cannot_open_add_or_delete_tenants(as_acme_admin, tenant, other_tenant):
    assert as_acme_admin.get(f"{ADMIN}/partners/tenant/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/partners/tenant/{tenant.pk}/delete/").status_code == 403
    other = as_acme_admin.get(f"{ADMIN}/partners/tenant/{other_tenant.pk}/change/")
    assert other.status_code == 404
    assert b"Globex" not in other.content


def test_site_header_names_the_tenant_and_view_site_goes_to_its_home(as_acme_admin):
    response = as_acme_admin.get(f"{ADMIN}/")
    assert response.status_code == 200
    assert response.context["site_header"] == "Acme administration"
    assert response.context["site_url"] == "/t/acme/"
    assert b'href="/t/acme/admin/partners/partner/"' in response.content
