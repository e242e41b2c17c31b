"""The three actors on every partner and tier endpoint: a member of another tenant, a user of
another partner organization and a channel manager the partner is not assigned to all get
404 for rows that are not theirs to see, and nothing changes."""

import pytest

from partners.models import Competency, Partner
from partners.selectors import partner_managers
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierChange, TierProposal
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_rows(tenant, partner, channel_manager, partner_admin):
    with tenant_context(tenant):
        gold = Tier.objects.create(tenant=tenant, rank=3, name="Gold")
        change = TierChange.objects.create(
            tenant=tenant, partner=partner, to_tier=gold, kind="manual"
        )
        proposal = TierProposal.objects.create(
            tenant=tenant, partner=partner, to_tier=gold, kind="promotion"
        )
        competency = Competency.objects.create(tenant=tenant, name="Cloud")
    return {
        "partner": partner,
        "tier": gold,
        "change": change,
        "proposal": proposal,
        "competency": competency,
        "manager": channel_manager,
    }


def _unchanged(tenant, rows):
    with tenant_context(tenant):
        partner = Partner.objects.get(pk=rows["partner"].pk)
        assert (partner.name, partner.status, partner.legal_name) == ("Northwind", "active", "")
        assert partner_managers(partner_ids=[partner.pk])[partner.pk] == [rows["manager"].user]
        assert Tier.objects.get(pk=rows["tier"].pk).name == "Gold"
        assert TierProposal.objects.get(pk=rows["proposal"].pk).status == "pending"


PARTNER = "/api/v1/partners/{partner}/"
#: (method, url, body) of every object endpoint; the body would succeed for the owner.
OBJECT_REQUESTS = [
    ("get", PARTNER, None),
    ("patch", PARTNER, {"legal_name": "Taken over"}),
    ("post", PARTNER + "managers/", {"managers": []}),
    ("post", PARTNER + "suspend/", {"reason": "x"}),
    ("post", PARTNER + "reactivate/", {}),
    ("post", PARTNER + "status/", {"status": "offboarded", "reason": "x"}),
    ("get", PARTNER + "status-history/", None),
    ("get", PARTNER + "tier-history/", None),
    ("get", PARTNER + "metrics/", None),
    ("get", PARTNER + "people/", None),
    ("get", "/api/v1/tiers/{tier}/", None),
    ("patch", "/api/v1/tiers/{tier}/", {"name": "Lead"}),
    ("delete", "/api/v1/tiers/{tier}/", None),
    ("get", "/api/v1/tier-changes/{change}/", None),
    ("get", "/api/v1/tier-proposals/{proposal}/", None),
    ("post", "/api/v1/tier-proposals/{proposal}/approve/", {}),
    ("post", "/api/v1/tier-proposals/{proposal}/reject/", {"note": "no"}),
    ("get", "/api/v1/competencies/{competency}/", None),
]


def _call(client, method, url, body, rows):
    ids = {name: row.pk for name, row in rows.items()}
    return getattr(client, method)(url.format(**ids), body, format="json")


@pytest.mark.parametrize(("method", "url", "body"), OBJECT_REQUESTS)
def test_another_tenants_member_gets_404_and_changes_nothing(
    api_as, tenant, other_tenant, outsider, acme_rows, method, url, body
):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")

    response = _call(api_as(outsider), method, url, body, acme_rows)

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}
    _unchanged(tenant, acme_rows)


@pytest.mark.parametrize(("method", "url", "body"), OBJECT_REQUESTS[:6])
def test_another_tenants_session_under_its_own_prefix_gets_404(
    session_as, tenant, outsider, acme_rows, method, url, body
):
    client = session_as(outsider, enforce_csrf_checks=False)
    response = _call(client, method, "/t/globex" + url, body, acme_rows)
    assert response.status_code == 404
    _unchanged(tenant, acme_rows)


# Another organization's partner admin: what their role may do on their own partner is a
# 404 on Northwind; what their role may never do is a 403 before any lookup.
OTHER_PARTNER_EXPECTED = {
    (m, u): (404 if u.startswith(PARTNER) and (m, u.removeprefix(PARTNER)) in {
        ("get", ""), ("patch", ""), ("get", "tier-history/"), ("get", "metrics/"),
        ("get", "people/"),
    } else 403)
    for m, u, _ in OBJECT_REQUESTS
}  # fmt: skip
OTHER_PARTNER_EXPECTED[("get", "/api/v1/tiers/{tier}/")] = 200  # the ladder is the tenant's
OTHER_PARTNER_EXPECTED[("get", "/api/v1/competencies/{competency}/")] = 200


@pytest.mark.parametrize(("method", "url", "body"), OBJECT_REQUESTS)
def test_another_partners_admin_never_reaches_the_partner(
    api_as, tenant, contoso_admin, acme_rows, method, url, body
):
    response = _call(api_as(contoso_admin), method, url, body, acme_rows)
    assert response.status_code == OTHER_PARTNER_EXPECTED[(method, url)]
    _unchanged(tenant, acme_rows)


def test_another_partners_admin_does_not_find_the_partner_in_lists(
    api_as, contoso_admin, acme_rows
):
    client = api_as(contoso_admin)
    assert [p["name"] for p in client.get("/api/v1/partners/").json()["results"]] == ["Contoso"]


# A channel manager Northwind is not assigned to: staff permissions, but not this partner.
UNASSIGNED_EXPECTED = {
    ("post", PARTNER + "managers/"): 403,  # assigning managers is for tenant admins
    ("patch", "/api/v1/tiers/{tier}/"): 403,
    ("delete", "/api/v1/tiers/{tier}/"): 403,
    ("get", "/api/v1/tiers/{tier}/"): 200,
    ("get", "/api/v1/competencies/{competency}/"): 200,
}


@pytest.mark.parametrize(("method", "url", "body"), OBJECT_REQUESTS)
def test_an_unassigned_channel_manager_gets_404_for_the_partner(
    api_as, tenant, acme_rows, method, url, body
):
    unassigned = MembershipFactory(tenant=tenant, role="channel_manager")
    response = _call(api_as(unassigned), method, url, body, acme_rows)
    assert response.status_code == UNASSIGNED_EXPECTED.get((method, url), 404)
    _unchanged(tenant, acme_rows)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/partners/",
        "/api/v1/tiers/",
        "/api/v1/tier-changes/",
        "/api/v1/tier-proposals/",
        "/api/v1/competencies/",
    ],
)
def test_another_tenants_rows_are_in_no_list(api_as, outsider, acme_rows, url):
    response = api_as(outsider).get(url)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_an_unassigned_channel_manager_lists_none_of_the_partners_rows(api_as, tenant, acme_rows):
    client = api_as(MembershipFactory(tenant=tenant, role="channel_manager"))
    for url in ["/api/v1/partners/", "/api/v1/tier-changes/", "/api/v1/tier-proposals/"]:
        assert client.get(url).json()["results"] == [], url
