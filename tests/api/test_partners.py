"""/partners/ (the directory): staff see it, partner users only their own organization;
filters, sort and cursor pages follow selectors.partner_directory."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.tenancy import tenant_context
from partners.tiers import Tier
from tests.conftest import assign_partner_manager
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/"


def make_tier(tenant, rank, name):
    with tenant_context(tenant):
        return Tier.objects.create(tenant=tenant, rank=rank, name=name)


def _names(response):
    assert response.status_code == 200, response.json()
    return [p["name"] for p in response.json()["results"]]


def _all_pages(client, url):
    """Follow ``next`` to the end; returns the names in order and the last page's body."""
    names, body = [], client.get(url).json()
    names += [p["name"] for p in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        names += [p["name"] for p in body["results"]]
    return names, body


# ---------------------------------------------------------------- who sees what


def test_staff_see_every_partner_of_the_tenant_by_name(api_as, tenant_admin, partner, contoso):
    assert _names(api_as(tenant_admin).get(URL)) == ["Contoso", "Northwind"]


@pytest.mark.parametrize("role", ["finance", "marketing", "analyst"])
def test_every_staff_role_reads_the_directory(api_as, tenant, partner, role):
    assert _names(api_as(MembershipFactory(tenant=tenant, role=role)).get(URL)) == ["Northwind"]


def test_channel_managers_read_only_the_partners_assigned_to_them(
    api_as, tenant, channel_manager, partner, contoso
):
    assert _names(api_as(channel_manager).get(URL)) == ["Northwind"]
    unassigned = MembershipFactory(tenant=tenant, role="channel_manager")
    assert _names(api_as(unassigned).get(URL)) == []
    assert api_as(unassigned).get(f"{URL}{partner.pk}/").status_code == 404


@pytest.mark.parametrize("actor", ["partner_admin", "partner_rep"])
def test_partner_users_see_only_their_own_organization(api_as, request, partner, contoso, actor):
    client = api_as(request.getfixturevalue(actor))
    assert _names(client.get(URL)) == ["Northwind"]
    assert _names(client.get(f"{URL}?q=contoso")) == []
    assert client.get(f"{URL}{partner.pk}/").status_code == 200
    assert client.get(f"{URL}{contoso.pk}/").status_code == 404


def test_outsider_sees_none_of_the_tenants_partners(api_as, outsider, partner, other_tenant):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    client = api_as(outsider)
    assert _names(client.get(URL)) == ["Umbrella"]
    assert client.get(f"{URL}{partner.pk}/").status_code == 404


def test_the_session_route_serves_the_same_directory(session_as, tenant_admin, partner):
    client = session_as(tenant_admin)
    assert _names(client.get(f"/t/acme{URL}")) == ["Northwind"]


# ---------------------------------------------------------------- the partner


def test_partner_detail_has_profile_status_tier_and_managers(
    api_as, tenant, tenant_admin, channel_manager, partner
):
    gold = make_tier(tenant, 3, "Gold")
    with tenant_context(tenant):
        partner.tier = gold
        partner.legal_name = "Northwind Traders Ltd"
        partner.countries = ["DE", "FR"]
        partner.save()

    body = api_as(tenant_admin).get(f"{URL}{partner.pk}/").json()

    assert body == {
        "id": partner.pk,
        "name": "Northwind",
        "legal_name": "Northwind Traders Ltd",
        "domain": "northwind.test",
        "partner_type": "reseller",
        "segment": "",
        "employee_count": None,
        "countries": ["DE", "FR"],
        "regions": [],
        "competencies": [],
        "lead_capacity": 10,
        "status": "active",
        "status_reason": "",
        "status_changed_at": None,
        "activated_on": None,
        "tier": {"id": gold.pk, "rank": 3, "name": "Gold"},
        "tier_pinned_until": None,
        "managers": [
            {
                "id": channel_manager.pk,
                "role": "channel_manager",
                "user": {
                    "id": channel_manager.user.pk,
                    "email": "manager@acme.test",
                    "full_name": channel_manager.user.full_name,
                },
            }
        ],
        "created_at": body["created_at"],
    }


def test_partners_cannot_be_deleted_or_replaced(api_as, tenant_admin, partner):
    client = api_as(tenant_admin)
    assert client.put(f"{URL}{partner.pk}/", {"name": "Y"}, format="json").status_code == 405
    assert client.delete(f"{URL}{partner.pk}/").status_code == 405


# ---------------------------------------------------------------- filters


@pytest.fixture
def directory(tenant, partner, contoso):
    """Northwind (Gold, reseller, EMEA/DE, Cloud), Contoso (no tier), Initech (suspended
    distributor, Silver, enterprise, AMER/US) and Umbrella (applicant MSP)."""
    gold, silver = make_tier(tenant, 3, "Gold"), make_tier(tenant, 2, "Silver")
    initech = PartnerFactory(
        tenant=tenant, name="Initech", domain="initech.test", status="suspended",
        partner_type="distributor", segment="enterprise", regions=["AMER"], countries=["US"],
        tier=silver, activated_on=date(2024, 5, 1),
    )  # fmt: skip
    umbrella = PartnerFactory(
        tenant=tenant, name="Umbrella", domain="umbrella.test", status="applicant",
        partner_type="msp", segment="smb",
    )  # fmt: skip
    with tenant_context(tenant):
        partner.tier = gold
        partner.regions, partner.countries, partner.competencies = ["EMEA"], ["DE"], ["Cloud"]
        partner.activated_on = date(2023, 1, 1)
        partner.save()
    return {"gold": gold, "silver": silver, "initech": initech, "umbrella": umbrella}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=suspended", ["Initech"]),
        ("status=suspended&status=applicant", ["Initech", "Umbrella"]),
        ("q=north", ["Northwind"]),
        ("q=INITECH.TEST", ["Initech"]),
        ("partner_type=msp&partner_type=distributor", ["Initech", "Umbrella"]),
        ("segment=enterprise", ["Initech"]),
        ("region=EMEA", ["Northwind"]),
        ("country=us", ["Initech"]),
        ("competency=Cloud", ["Northwind"]),
        ("tier=0", ["Contoso", "Umbrella"]),
        ("status=active&tier=0", ["Contoso"]),
    ],
)
def test_the_directory_filters(api_as, tenant_admin, directory, query, expected):
    assert _names(api_as(tenant_admin).get(f"{URL}?{query}")) == expected


def test_the_directory_filters_by_tier_id(api_as, tenant_admin, directory):
    client = api_as(tenant_admin)
    gold, silver = directory["gold"].pk, directory["silver"].pk
    assert _names(client.get(f"{URL}?tier={gold}&tier={silver}")) == ["Initech", "Northwind"]
    assert _names(client.get(f"{URL}?tier={gold}&tier=0")) == ["Contoso", "Northwind", "Umbrella"]


def test_the_directory_filters_by_manager_membership_id(
    api_as, tenant, tenant_admin, channel_manager, directory
):
    assign_partner_manager(channel_manager, directory["umbrella"])
    response = api_as(tenant_admin).get(f"{URL}?manager={channel_manager.pk}")
    assert _names(response) == ["Northwind", "Umbrella"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bankrupt", "status"),
        ("partner_type=spy", "partner_type"),
        ("segment=galactic", "segment"),
        ("tier=gold", "tier"),
        ("tier=-1", "tier"),
        ("tier=99999999999999999999", "tier"),
        ("country=USA", "country"),
        ("manager=abc", "manager"),
        ("manager=999999", "manager"),
        ("ordering=shoe_size", "ordering"),
    ],
)
def test_a_bad_filter_answers_400_naming_it(api_as, tenant_admin, directory, query, field):
    response = api_as(tenant_admin).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_a_manager_filter_cannot_name_a_partner_user_of_another_organization(
    api_as, partner_admin, contoso_admin, partner
):
    response = api_as(partner_admin).get(f"{URL}?manager={contoso_admin.pk}")
    assert response.status_code == 400


# ---------------------------------------------------------------- sort and pages


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["Contoso", "Initech", "Northwind", "Umbrella"]),
        ("-name", ["Umbrella", "Northwind", "Initech", "Contoso"]),
        ("tier", ["Initech", "Northwind", "Contoso", "Umbrella"]),
        ("-tier", ["Northwind", "Initech", "Umbrella", "Contoso"]),
        ("activated", ["Northwind", "Initech", "Contoso", "Umbrella"]),
        ("-activated", ["Initech", "Northwind", "Umbrella", "Contoso"]),
        ("status", ["Contoso", "Northwind", "Umbrella", "Initech"]),
        ("type", ["Initech", "Umbrella", "Contoso", "Northwind"]),
    ],
)
def test_the_directory_sorts_like_the_console_and_pages_in_that_order(
    api_as, tenant_admin, directory, ordering, expected
):
    client = api_as(tenant_admin)
    assert _names(client.get(f"{URL}?ordering={ordering}")) == expected
    # One row a page: every boundary falls between two rows of the sort, NULLs included.
    names, _ = _all_pages(client, f"{URL}?ordering={ordering}&page_size=1")
    assert names == expected


def test_pages_sorted_by_a_shared_key_neither_skip_nor_repeat_rows(api_as, tenant, tenant_admin):
    # Thirty partners of one status: DRF's plain cursor would page them by offset.
    for n in range(30):
        PartnerFactory(tenant=tenant, name=f"Reseller {n:02}", domain=f"r{n}.test")
    client = api_as(tenant_admin)

    names, last = _all_pages(client, f"{URL}?ordering=-status&page_size=7")
    assert names == [f"Reseller {n:02}" for n in reversed(range(30))]

    back = []
    body = client.get(last["previous"]).json()
    back = [p["name"] for p in body["results"]] + back
    while body["previous"]:
        body = client.get(body["previous"]).json()
        back = [p["name"] for p in body["results"]] + back
    assert back == names[: len(back)] and len(back) == 28  # every page before the last


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjoibmFtZSxpZCIsInIiOjAsInAiOlsxXX0="])
def test_a_bad_cursor_answers_404(api_as, tenant_admin, directory, cursor):
    assert api_as(tenant_admin).get(f"{URL}?cursor={cursor}").status_code == 404


def test_a_cursor_of_another_sort_answers_404(api_as, tenant_admin, directory):
    client = api_as(tenant_admin)
    next_url = client.get(f"{URL}?page_size=1&ordering=tier").json()["next"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    assert client.get(f"{URL}?page_size=1&ordering=name&cursor={cursor}").status_code == 404


def test_the_query_count_of_the_directory_does_not_grow_with_the_page(
    api_as, tenant, tenant_admin, channel_manager
):
    gold = make_tier(tenant, 3, "Gold")
    for n in range(25):
        p = PartnerFactory(tenant=tenant, name=f"Reseller {n:02}", domain=f"r{n}.test", tier=gold)
        assign_partner_manager(channel_manager, p)
        assign_partner_manager(tenant_admin, p)
    client = api_as(tenant_admin)
    client.get(URL)  # warm the role-permission cache and the token's last-used stamp

    def count(url):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), response.json()["results"]

    small, rows = count(f"{URL}?page_size=2&ordering=-tier")
    large, many = count(f"{URL}?page_size=25&ordering=-tier")
    assert len(rows) == 2 and len(many) == 25
    assert all(len(row["managers"]) == 2 for row in many)
    assert large == small
