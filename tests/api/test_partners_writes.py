"""Writes of /partners/: create, profile changes, managers and status, each through
partners.services; bad input answers 400 naming the field and writes nothing."""

import pytest

from partners.models import Competency, Partner, PartnerStatusChange
from partners.selectors import partner_managers
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/"


def _stored(partner):
    with tenant_context(partner.tenant):
        return Partner.objects.get(pk=partner.pk)


def _count(tenant, model=Partner):
    with tenant_context(tenant):
        return model.objects.count()


def _fields(response):
    assert response.status_code == 400, response.json()
    return set(response.json()["fields"])


@pytest.fixture
def cloud(tenant):
    with tenant_context(tenant):
        return Competency.objects.create(tenant=tenant, name="Cloud")


# ---------------------------------------------------------------- create


def test_tenant_admins_add_a_partner_with_its_managers(
    api_as, tenant, tenant_admin, channel_manager, cloud
):
    body = {
        "name": "Initech",
        "domain": "https://www.Initech.test/",
        "partner_type": "systems_integrator",
        "segment": "enterprise",
        "employee_count": 120,
        "countries": ["us", "CA"],
        "regions": ["AMER"],
        "competencies": ["Cloud"],
        "lead_capacity": 4,
        "managers": [channel_manager.pk],
    }

    response = api_as(tenant_admin).post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["domain"] == "initech.test"
    assert created["countries"] == ["CA", "US"]
    assert created["status"] == "active" and created["activated_on"] is not None
    assert [m["id"] for m in created["managers"]] == [channel_manager.pk]
    # The channel manager now sees it.
    assert created["id"] in {p["id"] for p in api_as(channel_manager).get(URL).json()["results"]}
    with tenant_context(tenant):
        assert PartnerStatusChange.objects.filter(partner_id=created["id"]).count() == 1


def test_a_partner_created_as_an_applicant_has_no_activation_date(api_as, tenant_admin):
    response = api_as(tenant_admin).post(
        URL, {"name": "Hooli", "domain": "hooli.test", "status": "applicant"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "applicant"
    assert response.json()["activated_on"] is None


@pytest.mark.parametrize("actor", ["channel_manager", "analyst", "partner_admin"])
def test_only_roles_with_add_partner_create_partners(api_as, request, tenant, actor):
    client = api_as(request.getfixturevalue(actor))
    before = _count(tenant)
    response = client.post(URL, {"name": "Hooli", "domain": "hooli.test"}, format="json")
    assert response.status_code == 403
    assert _count(tenant) == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"domain": "hooli.test"}, {"name"}),
        ({"name": "Hooli", "domain": "not a domain"}, {"domain"}),
        ({"name": "Northwind", "domain": "hooli.test"}, {"name"}),
        ({"name": "Hooli", "domain": "northwind.test"}, {"domain"}),
        ({"name": "Hooli", "domain": "hooli.test", "countries": ["USA"]}, {"countries"}),
        ({"name": "Hooli", "domain": "hooli.test", "competencies": ["Baking"]}, {"competencies"}),
        ({"name": "Hooli", "domain": "hooli.test", "partner_type": "spy"}, {"partner_type"}),
        ({"name": "Hooli", "domain": "hooli.test", "employee_count": -3}, {"employee_count"}),
        ({"name": "Hooli", "domain": "hooli.test", "status": "bankrupt"}, {"status"}),
        ({"name": "Hooli", "domain": "hooli.test", "tier": 1}, {"tier"}),
        ({"name": "Hooli", "domain": "hooli.test", "managers": [999999]}, {"managers"}),
        ({"name": "Hooli", "domain": "hooli.test", "managers": ["x"]}, {"managers"}),
        ({"name": "", "domain": "hooli.test", "colour": "red"}, {"name", "colour"}),
    ],
)  # fmt: skip
def test_bad_input_to_create_answers_400_and_writes_nothing(
    api_as, tenant, tenant_admin, partner, body, fields
):
    before = _count(tenant)
    assert _fields(api_as(tenant_admin).post(URL, body, format="json")) == fields
    assert _count(tenant) == before


def test_a_partner_user_cannot_be_assigned_as_manager(api_as, tenant, tenant_admin, partner_rep):
    before = _count(tenant)
    response = api_as(tenant_admin).post(
        URL, {"name": "Hooli", "domain": "hooli.test", "managers": [partner_rep.pk]}, format="json"
    )
    assert _fields(response) == {"managers"}
    assert _count(tenant) == before


def test_a_partner_created_suspended_needs_a_reason(api_as, tenant, tenant_admin):
    client = api_as(tenant_admin)
    before = _count(tenant)
    body = {"name": "Hooli", "domain": "hooli.test", "status": "suspended"}
    assert _fields(client.post(URL, body, format="json")) == {"status_reason"}
    assert _count(tenant) == before

    created = client.post(URL, {**body, "status_reason": "Fraud check"}, format="json")
    assert created.status_code == 201
    assert created.json()["status_reason"] == "Fraud check"


# ---------------------------------------------------------------- profile changes


def test_the_assigned_channel_manager_changes_the_profile(api_as, channel_manager, partner, cloud):
    response = api_as(channel_manager).patch(
        f"{URL}{partner.pk}/",
        {"name": "Northwind Traders", "competencies": ["Cloud"], "segment": "mid_market"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    stored = _stored(partner)
    assert (stored.name, stored.competencies, stored.segment) == (
        "Northwind Traders",
        ["Cloud"],
        "mid_market",
    )


def test_the_partner_admin_edits_their_company_profile(api_as, partner_admin, partner):
    response = api_as(partner_admin).patch(
        f"{URL}{partner.pk}/",
        {"legal_name": "Northwind GmbH", "employee_count": 40, "countries": ["de"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["legal_name"] == "Northwind GmbH"
    assert _stored(partner).countries == ["DE"]


@pytest.mark.parametrize("field", ["name", "domain", "competencies", "lead_capacity"])
def test_the_partner_admin_cannot_change_staff_fields(api_as, partner_admin, partner, field):
    value = {"name": "Evil", "domain": "evil.test", "competencies": [], "lead_capacity": 99}[field]
    response = api_as(partner_admin).patch(
        f"{URL}{partner.pk}/", {"legal_name": "Changed", field: value}, format="json"
    )
    assert _fields(response) == {field}
    stored = _stored(partner)
    assert (stored.name, stored.legal_name, stored.lead_capacity) == ("Northwind", "", 10)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "suspended"}, "status"),
        ({"tier": 3}, "tier"),
        ({"managers": []}, "managers"),
        ({"domain": "bad domain"}, "domain"),
        ({"employee_count": "many"}, "employee_count"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_profile_changes_answer_400_naming_the_field(
    api_as, tenant_admin, partner, body, field
):
    response = api_as(tenant_admin).patch(f"{URL}{partner.pk}/", body, format="json")
    assert _fields(response) == {field}
    assert _stored(partner).status == "active"


@pytest.mark.parametrize("actor", ["partner_rep", "finance", "marketing"])
def test_roles_without_a_change_permission_get_403(api_as, request, tenant, partner, actor):
    member = (
        request.getfixturevalue(actor)
        if actor == "partner_rep"
        else MembershipFactory(tenant=tenant, role=actor)
    )
    response = api_as(member).patch(f"{URL}{partner.pk}/", {"legal_name": "X"}, format="json")
    assert response.status_code == 403
    assert _stored(partner).legal_name == ""


# ---------------------------------------------------------------- managers


def test_tenant_admins_set_the_managers(api_as, tenant, tenant_admin, channel_manager, partner):
    other = MembershipFactory(tenant=tenant, role="channel_manager", user__email="cm2@acme.test")
    client = api_as(tenant_admin)

    response = client.post(
        f"{URL}{partner.pk}/managers/", {"managers": [other.pk, tenant_admin.pk]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert [m["user"]["email"] for m in response.json()["managers"]] == [
        "admin@acme.test",
        "cm2@acme.test",
    ]
    assert client.get(f"{URL}{partner.pk}/").json()["managers"] == response.json()["managers"]
    # The former manager no longer sees the partner.
    assert api_as(channel_manager).get(f"{URL}{partner.pk}/").status_code == 404

    cleared = client.post(f"{URL}{partner.pk}/managers/", {"managers": []}, format="json")
    assert cleared.json()["managers"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "managers"),
        ({"managers": [999999]}, "managers"),
        ({"managers": [10**30]}, "managers"),
        ({"managers": 5}, "managers"),
        ({"managers": [True]}, "managers"),
    ],
)
def test_bad_managers_answer_400_and_change_nothing(
    api_as, tenant, tenant_admin, channel_manager, partner, body, field
):
    response = api_as(tenant_admin).post(f"{URL}{partner.pk}/managers/", body, format="json")
    assert _fields(response) == {field}
    with tenant_context(tenant):
        assert partner_managers(partner_ids=[partner.pk])[partner.pk] == [channel_manager.user]


def test_channel_managers_cannot_assign_managers(api_as, tenant, channel_manager, partner):
    other = MembershipFactory(tenant=tenant, role="channel_manager")
    response = api_as(channel_manager).post(
        f"{URL}{partner.pk}/managers/", {"managers": [other.pk]}, format="json"
    )
    assert response.status_code == 403


# ---------------------------------------------------------------- status


def test_the_assigned_manager_suspends_and_reactivates(api_as, tenant, channel_manager, partner):
    client = api_as(channel_manager)

    suspended = client.post(
        f"{URL}{partner.pk}/suspend/", {"reason": "Unpaid invoices"}, format="json"
    )
    assert suspended.status_code == 200, suspended.json()
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["status_reason"] == "Unpaid invoices"
    assert suspended.json()["status_changed_at"] is not None

    reactivated = client.post(f"{URL}{partner.pk}/reactivate/", {}, format="json")
    assert reactivated.status_code == 200
    assert reactivated.json()["status"] == "active"
    assert reactivated.json()["status_reason"] == ""
    with tenant_context(tenant):
        assert [c.to_status for c in PartnerStatusChange.objects.filter(partner=partner)] == [
            "active",
            "suspended",
        ]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_suspending_needs_a_reason(api_as, tenant, tenant_admin, partner, body):
    before = _count(tenant, PartnerStatusChange)
    response = api_as(tenant_admin).post(f"{URL}{partner.pk}/suspend/", body, format="json")
    assert _fields(response) == {"reason"}
    assert _stored(partner).status == "active"
    assert _count(tenant, PartnerStatusChange) == before


def test_only_a_suspended_partner_is_reactivated(api_as, tenant_admin, partner):
    response = api_as(tenant_admin).post(f"{URL}{partner.pk}/reactivate/", {}, format="json")
    assert _fields(response) == {"status"}


def test_the_status_route_follows_the_transitions(api_as, tenant, tenant_admin, partner):
    client = api_as(tenant_admin)
    url = f"{URL}{partner.pk}/status/"

    offboarded = client.post(url, {"status": "offboarded", "reason": "Left"}, format="json")
    assert offboarded.status_code == 200 and offboarded.json()["status"] == "offboarded"

    illegal = client.post(url, {"status": "active"}, format="json")
    assert _fields(illegal) == {"status"}
    assert _fields(client.post(url, {"status": "bankrupt"}, format="json")) == {"status"}
    assert _fields(client.post(url, {}, format="json")) == {"status"}

    onboarding = client.post(url, {"status": "onboarding"}, format="json")
    assert onboarding.json()["status"] == "onboarding"
    assert _stored(partner).status == "onboarding"


@pytest.mark.parametrize("route", ["suspend", "reactivate", "status"])
@pytest.mark.parametrize("actor", ["partner_admin", "analyst"])
def test_partner_users_and_readers_cannot_change_a_status(api_as, request, partner, route, actor):
    response = api_as(request.getfixturevalue(actor)).post(
        f"{URL}{partner.pk}/{route}/", {"status": "suspended", "reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert _stored(partner).status == "active"
