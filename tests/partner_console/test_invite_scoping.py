"""Channel managers invite partner users only into the partners assigned to them; the partner
page's invite link preselects the partner."""

from __future__ import annotations

import pytest

from partners.models import Invitation
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db

URL = "/t/acme/people/invite/"


def _invitations(tenant):
    with tenant_context(tenant):
        return list(Invitation.objects.values_list("email", "partner__name"))


def test_the_form_offers_a_channel_manager_only_their_partners(
    login, channel_manager, partner, contoso
):
    html = login(channel_manager).get(URL).content.decode()

    assert "Northwind" in html
    assert "Contoso" not in html


def test_a_channel_manager_cannot_invite_into_a_partner_not_assigned(
    login, tenant, channel_manager, contoso
):
    response = login(channel_manager).post(
        URL, {"email": "x@contoso.test", "role": "partner_rep", "partner": contoso.pk}
    )

    assert response.status_code == 400
    assert _invitations(tenant) == []


def test_a_channel_manager_invites_into_an_assigned_partner(
    login, tenant, channel_manager, partner
):
    response = login(channel_manager).post(
        URL, {"email": "x@northwind.test", "role": "partner_rep", "partner": partner.pk}
    )

    assert response.status_code == 302
    assert _invitations(tenant) == [("x@northwind.test", "Northwind")]


def test_the_partner_page_link_preselects_the_partner(login, tenant_admin, partner, contoso):
    client = login(tenant_admin)
    page = client.get(f"/t/acme/console/partners/{contoso.pk}/").content.decode()
    assert f"/t/acme/people/invite/?partner={contoso.pk}" in page

    form = client.get(f"{URL}?partner={contoso.pk}").content.decode()
    assert f'<option value="{contoso.pk}" selected>Contoso</option>' in form
