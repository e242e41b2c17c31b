"""Changing partners from the staff console: adding one, editing the profile, assigning
managers and moving the status (suspend, reactivate, the other transitions). Each happy path
writes through the services; each refusal answers 400 (or 403) and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deals.models import Deal
from partners.models import Partner, PartnerStatusChange
from partners.tenancy import tenant_context
from tests.deals.factories import ProductFactory
from tests.partner_console.conftest import BASE
from tests.partners.html import text

pytestmark = pytest.mark.django_db


def url(partner, suffix: str = "") -> str:
    return f"{BASE}{partner.pk}/{suffix}"


def profile(**changes) -> dict:
    data = {
        "name": "Fabrikam",
        "legal_name": "Fabrikam SARL",
        "domain": "https://www.Fabrikam.example/",
        "partner_type": "distributor",
        "segment": "enterprise",
        "employee_count": "250",
        "countries": "fr; be, LU",
        "regions": "EMEA; Benelux",
        "competencies": ["Cloud", "Data"],
        "lead_capacity": "12",
        "status": "onboarding",
        "status_reason": "",
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def status_changes(tenant, partner) -> list[tuple[str, str, str]]:
    with tenant_context(tenant):
        return list(
            PartnerStatusChange.objects.filter(partner=partner)
            .order_by("at", "id")
            .values_list("from_status", "to_status", "reason")
        )


# ---------------------------------------------------------------- create


def test_tenant_admin_adds_a_partner_with_managers(
    login, tenant, tenant_admin, channel_manager, competencies, stored
):
    client = login(tenant_admin)
    form = client.get(f"{BASE}new/")
    assert form.status_code == 200
    assert channel_manager.user.email in text(form)
    response = client.post(f"{BASE}new/", profile(managers=[channel_manager.pk]))
    assert response.status_code == 302
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    created = stored(pk)
    assert (created.name, created.legal_name, created.domain) == (
        "Fabrikam", "Fabrikam SARL", "fabrikam.example",
    )  # fmt: skip
    assert created.partner_type == "distributor" and created.segment == "enterprise"
    assert created.countries == ["BE", "FR", "LU"]
    assert created.regions == ["Benelux", "EMEA"]
    assert created.competencies == ["Cloud", "Data"]
    assert (created.employee_count, created.lead_capacity) == (250, 12)
    assert created.status == "onboarding" and created.activated_on is None
    assert created.manager_emails == [channel_manager.user.email]
    assert status_changes(tenant, created) == [("", "onboarding", "")]
    # The new manager now finds it in the directory.
    assert "Fabrikam" in text(login(channel_manager).get(BASE))


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"name": ""}, "name"),
        ({"domain": "not a domain"}, "domain"),
        ({"domain": "northwind.test"}, "domain"),  # taken by Northwind
        ({"name": "northwind"}, "name"),  # taken, case aside
        ({"countries": "DE, Germany"}, "countries"),
        ({"competencies": ["Knitting"]}, "competencies"),
        ({"partner_type": "pirate"}, "partner_type"),
        ({"employee_count": "-3"}, "employee_count"),
        ({"status": "suspended"}, "status_reason"),  # a suspended partner needs a reason
        ({"managers": ["999999"]}, "managers"),
    ],
)
def test_bad_input_to_add_a_partner_answers_400_and_writes_nothing(
    login, tenant_admin, partner, competencies, partner_count, changes, field_error
):
    before = partner_count()
    response = login(tenant_admin).post(f"{BASE}new/", profile(**changes))
    assert response.status_code == 400
    assert field_error in response.context["form"].errors
    assert 'class="field-error"' in response.content.decode()
    assert partner_count() == before


def test_assigning_a_partner_user_as_manager_is_refused(
    login, tenant_admin, partner_rep, competencies, partner_count
):
    before = partner_count()
    response = login(tenant_admin).post(f"{BASE}new/", profile(managers=[partner_rep.pk]))
    assert response.status_code == 400
    assert partner_count() == before


@pytest.mark.parametrize("role", ["channel_manager", "finance", "marketing", "analyst"])
def test_only_those_who_may_add_partners_see_the_form(login, member, partner_count, role):
    client = login(member(role))
    assert client.get(f"{BASE}new/").status_code == 403
    before = partner_count()
    assert client.post(f"{BASE}new/", profile()).status_code == 403
    assert partner_count() == before


# ---------------------------------------------------------------- edit


def test_assigned_channel_manager_edits_the_profile(
    login, channel_manager, partner, competencies, stored
):
    client = login(channel_manager)
    form = client.get(url(partner, "edit/"))
    assert form.status_code == 200
    response = client.post(
        url(partner, "edit/"),
        profile(name="Northwind Traders", domain="northwind.test", status=None,
                countries="de;at", competencies=["Security"]),
    )  # fmt: skip
    assert response.status_code == 302
    changed = stored(partner)
    assert changed.name == "Northwind Traders"
    assert changed.countries == ["AT", "DE"]
    assert changed.competencies == ["Security"]
    assert changed.status == "active"  # the edit form never changes the status


def test_a_bad_edit_answers_400_and_writes_nothing(
    login, tenant, channel_manager, partner, contoso, competencies, stored
):
    response = login(channel_manager).post(
        url(partner, "edit/"), profile(name="Contoso", domain="northwind.test")
    )
    assert response.status_code == 400
    assert "Another partner of this program has this name." in text(response)
    assert stored(partner).name == "Northwind"
    assert stored(partner).legal_name == ""


def test_finance_reads_but_cannot_edit(login, finance, partner, competencies, stored):
    client = login(finance)
    assert client.get(url(partner)).status_code == 200
    assert client.get(url(partner, "edit/")).status_code == 403
    assert client.post(url(partner, "edit/"), profile(name="Hijacked")).status_code == 403
    assert (
        client.post(url(partner, "status/"), {"status": "suspended", "reason": "x"}).status_code
        == 403
    )
    assert client.get(url(partner, "managers/")).status_code == 403
    assert (stored(partner).name, stored(partner).status) == ("Northwind", "active")


def test_tenant_admin_edits_any_partner(login, tenant_admin, contoso, competencies, stored):
    response = login(tenant_admin).post(
        url(contoso, "edit/"), profile(name="Contoso Ltd", domain="contoso.test")
    )
    assert response.status_code == 302
    assert stored(contoso).name == "Contoso Ltd"


# ---------------------------------------------------------------- managers


def test_tenant_admin_assigns_and_removes_managers(
    login, tenant_admin, channel_manager, other_manager, partner, stored
):
    client = login(tenant_admin)
    page = client.get(url(partner, "managers/"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'value="{channel_manager.pk}" id="id_managers_' in html
    assert "checked" in html.split(f'value="{channel_manager.pk}"')[1].split(">")[0]
    response = client.post(url(partner, "managers/"), {"managers": [other_manager.pk]})
    assert response.status_code == 302
    assert stored(partner).manager_emails == [other_manager.user.email]
    # The manager who lost the partner no longer sees it; the new one does.
    assert login(channel_manager).get(url(partner)).status_code == 404
    assert login(other_manager).get(url(partner)).status_code == 200


def test_managers_can_all_be_removed(login, tenant_admin, channel_manager, partner, stored):
    response = login(tenant_admin).post(url(partner, "managers/"), {})
    assert response.status_code == 302
    assert stored(partner).manager_emails == []


@pytest.mark.parametrize("bad", [["999999"], ["x"]])
def test_bad_managers_answer_400_and_change_nothing(
    login, tenant_admin, channel_manager, partner, stored, bad
):
    response = login(tenant_admin).post(url(partner, "managers/"), {"managers": bad})
    assert response.status_code == 400
    assert stored(partner).manager_emails == [channel_manager.user.email]


def test_a_partner_user_cannot_be_made_a_manager(
    login, tenant_admin, channel_manager, partner, partner_admin, stored
):
    response = login(tenant_admin).post(url(partner, "managers/"), {"managers": [partner_admin.pk]})
    assert response.status_code == 400
    assert stored(partner).manager_emails == [channel_manager.user.email]


# ---------------------------------------------------------------- status


def test_channel_manager_suspends_with_a_reason_and_reactivates(
    login, tenant, channel_manager, partner, stored
):
    client = login(channel_manager)
    response = client.post(url(partner, "status/"), {"status": "suspended", "reason": "Audit"})
    assert response.status_code == 302
    suspended = stored(partner)
    assert (suspended.status, suspended.status_reason) == ("suspended", "Audit")
    page = text(client.get(url(partner)))
    assert "Reactivate" in page and "Audit" in page
    response = client.post(url(partner, "status/"), {"status": "active", "reason": ""})
    assert response.status_code == 302
    active = stored(partner)
    assert (active.status, active.status_reason) == ("active", "")
    assert status_changes(tenant, partner)[-2:] == [
        ("active", "suspended", "Audit"),
        ("suspended", "active", ""),
    ]


def test_suspending_without_a_reason_answers_400_and_writes_nothing(
    login, tenant, channel_manager, partner, stored
):
    before = status_changes(tenant, partner)
    response = login(channel_manager).post(url(partner, "status/"), {"status": "suspended"})
    assert response.status_code == 400
    assert "Say why; the partner's users will see it." in text(response)
    assert stored(partner).status == "active"
    assert status_changes(tenant, partner) == before


@pytest.mark.parametrize("target", ["applicant", "onboarding", "active", "sleeping", ""])
def test_a_transition_not_allowed_answers_400_and_writes_nothing(
    login, tenant, tenant_admin, partner, stored, target
):
    before = status_changes(tenant, partner)
    response = login(tenant_admin).post(url(partner, "status/"), {"status": target, "reason": "x"})
    assert response.status_code == 400
    assert stored(partner).status == "active"
    assert status_changes(tenant, partner) == before


def test_the_other_transitions_follow_the_status_machine(
    login, tenant, tenant_admin, contoso, stored
):
    with tenant_context(tenant):
        Partner.objects.filter(pk=contoso.pk).update(status="applicant", activated_on=None)
    client = login(tenant_admin)
    page = text(client.get(url(contoso)))
    assert "Start onboarding" in page and "Activate" in page and "Offboard" in page
    assert "Suspend" not in page
    assert client.post(url(contoso, "status/"), {"status": "onboarding"}).status_code == 302
    assert client.post(url(contoso, "status/"), {"status": "active"}).status_code == 302
    assert stored(contoso).activated_on is not None
    response = client.post(url(contoso, "status/"), {"status": "offboarded", "reason": "Left"})
    assert response.status_code == 302
    assert stored(contoso).status == "offboarded"


def test_the_status_page_takes_posts_only(login, tenant_admin, partner):
    assert login(tenant_admin).get(url(partner, "status/")).status_code == 405


# ---------------------------------------------------------------- suspension and deals


def test_a_suspended_partner_cannot_register_deals_and_is_told_why(
    login, tenant, channel_manager, partner, partner_rep
):
    product = ProductFactory(tenant=tenant, currency="USD")
    response = login(channel_manager).post(
        url(partner, "status/"), {"status": "suspended", "reason": "Contract under review"}
    )
    assert response.status_code == 302

    data = {
        "customer_name": "Blue Harbor Logistics", "customer_domain": "blueharbor.example",
        "country": "US", "contact_name": "Dana", "contact_email": "dana@blueharbor.example",
        "contact_phone": "", "currency": "USD",
        "expected_close_date": (timezone.localdate() + timedelta(days=45)).isoformat(),
        "stage": "qualification", "deal_type": "resell", "notes": "", "action": "submit",
        "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100", "lines-0-product": str(product.pk),
        "lines-0-quantity": "1", "lines-0-unit_price": "",
    }  # fmt: skip
    response = login(partner_rep).post("/t/acme/deals/new/", data)
    assert response.status_code == 400
    page = text(response)
    assert "Northwind is suspended and cannot register deals." in page
    assert "Contract under review" in page
    with tenant_context(tenant):
        assert not Deal.objects.filter(partner=partner).exists()
