"""A partner user and a channel manager sign in and each lands on the home page of their role."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme():
    tenant = TenantFactory(slug="acme", name="Acme Cloud")
    northwind = PartnerFactory(tenant=tenant, name="Northwind", domain="northwind.test")
    MembershipFactory(
        tenant=tenant,
        role="partner_rep",
        partner=northwind,
        user__email="rep@northwind.test",
        user__full_name="Riley Rep",
    )
    MembershipFactory(
        tenant=tenant,
        role="channel_manager",
        user__email="manager@acme.test",
        user__full_name="Morgan Manager",
    )
    return tenant


def test_partner_rep_signs_in_and_sees_the_partner_portal(page, acme):
    sign_in(page, "rep@northwind.test")
    assert page.url.endswith("/t/acme/portal/")
    body = page.locator("body").inner_text()
    assert "Riley Rep" in body
    assert "Northwind" in body
    assert "Acme Cloud" in body
    assert "Partner rep" in body
    assert "Console" not in [link.inner_text() for link in page.locator("nav a").all()]


def test_channel_manager_signs_in_and_sees_the_staff_console(page, acme, tmp_path):
    sign_in(page, "manager@acme.test")
    assert page.url.endswith("/t/acme/console/")
    body = page.locator("body").inner_text()
    assert "Morgan Manager" in body
    assert "Acme Cloud" in body
    assert "Channel manager" in body
    page.screenshot(path=str(tmp_path / "console-home.png"), full_page=True)


def test_wrong_password_keeps_the_user_on_the_login_page(page, acme):
    sign_in(page, "rep@northwind.test", password="not-the-password")
    assert "/accounts/login/" in page.url
    assert "/t/acme/" not in page.url
