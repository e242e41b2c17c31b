"""The deals admin at /t/<slug>/admin/: the catalog, lost reasons and the rules of engagement
are the tenant admin's to edit; deals and leads are read-only; nothing of another tenant is
listed, offered or reachable."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from deals.models import Deal, DealStatus, EngagementRules, Lead, LeadOffer, LostReason, Product
from partners.models import OutboxEvent
from partners.tenancy import dangerously_all_tenants, tenant_context
from tests.deals.factories import DealFactory, LostReasonFactory, ProductFactory
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin/deals"


@pytest.fixture
def umbrella(other_tenant):
    return PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")


@pytest.fixture
def globex_rep(other_tenant, umbrella):
    return MembershipFactory(
        tenant=other_tenant, role="partner_rep", partner=umbrella, user__email="rep@umbrella.test"
    )


@pytest.fixture
def catalogs(tenant, other_tenant):
    return {
        "acme": ProductFactory(tenant=tenant, sku="ACME-1", name="Acme Cloud Suite"),
        "globex": ProductFactory(
            tenant=other_tenant, sku="GLX-1", name="Globex Reactor", currency="EUR"
        ),
    }


@pytest.fixture
def as_acme_admin(login, tenant_admin, outsider, partner):
    return login(tenant_admin)


@pytest.fixture
def acme_deal(partner_rep, catalogs):
    from deals.services import LineInput

    return DealFactory(
        actor=partner_rep,
        status=DealStatus.SUBMITTED,
        customer_name="Blue Harbor Logistics",
        lines=[LineInput(catalogs["acme"].pk, 3)],
    )


@pytest.fixture
def globex_deal(globex_rep):
    return DealFactory(actor=globex_rep, status=DealStatus.SUBMITTED, customer_name="Quillon")


def content(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- who gets in


def test_a_tenant_admin_sees_the_deals_section_of_their_admin(as_acme_admin):
    response = as_acme_admin.get("/t/acme/admin/")

    assert response.status_code == 200
    for model in ("product", "lostreason", "engagementrules", "deal", "lead", "leadoffer"):
        assert f'href="/t/acme/admin/deals/{model}/"' in content(response)


def test_a_channel_manager_and_an_outsider_do_not_get_in(
    login, channel_manager, outsider, catalogs
):
    assert login(channel_manager).get(f"{ADMIN}/product/", follow=True).status_code == 403
    response = login(outsider).get(f"{ADMIN}/product/")
    assert response.status_code == 404
    assert "Acme Cloud Suite" not in content(response)


# ---------------------------------------------------------------- products


def test_the_product_list_shows_only_the_tenants_catalog(as_acme_admin, catalogs):
    response = as_acme_admin.get(f"{ADMIN}/product/")

    assert response.status_code == 200
    assert "Acme Cloud Suite" in content(response)
    assert "Globex Reactor" not in content(response)


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_tenants_product_answers_404(as_acme_admin, catalogs, view):
    response = as_acme_admin.get(f"{ADMIN}/product/{catalogs['globex'].pk}/{view}/")

    assert response.status_code == 404
    assert "Globex Reactor" not in content(response)


def test_posting_to_another_tenants_product_changes_nothing(as_acme_admin, catalogs, other_tenant):
    product = catalogs["globex"]
    response = as_acme_admin.post(
        f"{ADMIN}/product/{product.pk}/change/",
        {"sku": "GLX-1", "name": "Hijacked", "list_price": "1", "currency": "EUR", "active": "on"},
    )

    assert response.status_code == 404
    with tenant_context(other_tenant):
        assert Product.objects.get(pk=product.pk).name == "Globex Reactor"


def test_a_tenant_admin_adds_a_product_through_the_catalog_service(as_acme_admin, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/product/add/",
        {
            "sku": "ACME-EDGE",
            "name": "Edge Gateway",
            "category": "Hardware",
            "list_price": "2499.99",
            "currency": "usd",
            "active": "on",
        },
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        product = Product.objects.get(sku="ACME-EDGE")
        assert OutboxEvent.objects.filter(name="product.created").exists()
    assert (product.currency, product.list_price, product.tenant_id) == (
        "USD",
        Decimal("2499.99"),
        tenant.pk,
    )


def test_a_tenant_admin_changes_and_retires_a_product(as_acme_admin, catalogs, tenant):
    product = catalogs["acme"]
    response = as_acme_admin.post(
        f"{ADMIN}/product/{product.pk}/change/",
        {"sku": "ACME-1", "name": "Acme Cloud Suite", "list_price": "150.00", "currency": "USD"},
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        product.refresh_from_db()
    assert (product.list_price, product.active) == (Decimal("150.00"), False)


def test_a_duplicate_sku_is_a_form_error_but_another_tenants_sku_is_free(
    as_acme_admin, catalogs, tenant
):
    duplicate = as_acme_admin.post(
        f"{ADMIN}/product/add/",
        {"sku": "ACME-1", "name": "Again", "list_price": "1", "currency": "USD"},
    )
    reused = as_acme_admin.post(
        f"{ADMIN}/product/add/",
        {"sku": "GLX-1", "name": "Our GLX", "list_price": "1", "currency": "USD"},
    )

    assert duplicate.status_code == 200
    assert (
        "sku" in str(duplicate.context["adminform"].form.errors)
        or duplicate.context["adminform"].form.non_field_errors()
    )
    assert reused.status_code == 302
    with tenant_context(tenant):
        assert Product.objects.filter(sku="GLX-1").exists()


@pytest.mark.parametrize(
    ("field", "value"), [("currency", "dollars"), ("list_price", "-5"), ("list_price", "")]
)
def test_bad_product_input_is_a_form_error(as_acme_admin, tenant, field, value):
    data = {"sku": "NEW-1", "name": "New", "list_price": "10", "currency": "USD", field: value}

    response = as_acme_admin.post(f"{ADMIN}/product/add/", data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    with tenant_context(tenant):
        assert not Product.objects.filter(sku="NEW-1").exists()


def test_an_unused_product_can_be_deleted_and_a_used_one_is_protected(
    as_acme_admin, acme_deal, catalogs, tenant
):
    spare = ProductFactory(tenant=tenant, sku="SPARE", name="Spare part")

    deleted = as_acme_admin.post(f"{ADMIN}/product/{spare.pk}/delete/", {"post": "yes"})
    protected = as_acme_admin.post(
        f"{ADMIN}/product/{catalogs['acme'].pk}/delete/", {"post": "yes"}
    )

    assert deleted.status_code == 302
    assert protected.status_code == 200
    with tenant_context(tenant):
        assert not Product.objects.filter(pk=spare.pk).exists()
        assert Product.objects.filter(pk=catalogs["acme"].pk).exists()


# ---------------------------------------------------------------- lost reasons


def test_lost_reasons_are_the_tenants_own(as_acme_admin, tenant, other_tenant):
    ours = LostReasonFactory(tenant=tenant, name="Price")
    theirs = LostReasonFactory(tenant=other_tenant, name="Went direct")

    listing = as_acme_admin.get(f"{ADMIN}/lostreason/")
    foreign = as_acme_admin.get(f"{ADMIN}/lostreason/{theirs.pk}/change/")
    added = as_acme_admin.post(f"{ADMIN}/lostreason/add/", {"name": "Timing", "active": "on"})
    changed = as_acme_admin.post(f"{ADMIN}/lostreason/{ours.pk}/change/", {"name": "Pricing"})
    same_name = as_acme_admin.post(
        f"{ADMIN}/lostreason/add/", {"name": "Went direct", "active": "on"}
    )

    assert "Price" in content(listing) and "Went direct" not in content(listing)
    assert foreign.status_code == 404
    assert (added.status_code, changed.status_code, same_name.status_code) == (302, 302, 302)
    with tenant_context(tenant):
        assert sorted(LostReason.objects.values_list("name", "active")) == [
            ("Pricing", False),
            ("Timing", True),
            ("Went direct", True),
        ]


def test_a_duplicate_lost_reason_is_a_form_error(as_acme_admin, tenant):
    LostReasonFactory(tenant=tenant, name="Price")

    response = as_acme_admin.post(f"{ADMIN}/lostreason/add/", {"name": "Price", "active": "on"})

    assert response.status_code == 200
    with tenant_context(tenant):
        assert LostReason.objects.filter(name="Price").count() == 1


def test_a_lost_reason_in_use_cannot_be_deleted(as_acme_admin, partner_rep, tenant):
    reason = LostReasonFactory(tenant=tenant, name="Competitor")
    DealFactory(actor=partner_rep, status=DealStatus.LOST, lost_reason=reason)

    as_acme_admin.post(f"{ADMIN}/lostreason/{reason.pk}/delete/", {"post": "yes"})

    with tenant_context(tenant):
        assert LostReason.objects.filter(pk=reason.pk).exists()


# ---------------------------------------------------------------- rules of engagement


def rules_form(**overrides) -> dict:
    data = {
        "name_similarity_threshold": "0.60",
        "protection_days": "90",
        "expiry_warning_days": "7",
        "extension_days": "30",
        "auto_approve_max_total": "5000.00",
        "auto_approve_currency": "USD",
        "allowed_currencies": "USD,EUR,GBP",
        "review_sla_hours": "48",
        "lead_response_sla_hours": "48",
    }
    data.update(overrides)
    return data


def test_the_rules_list_opens_the_tenants_single_row_creating_it_first(as_acme_admin, tenant):
    with tenant_context(tenant):
        assert not EngagementRules.objects.exists()

    response = as_acme_admin.get(f"{ADMIN}/engagementrules/")

    with tenant_context(tenant):
        rules = EngagementRules.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}/engagementrules/{rules.pk}/change/"
    assert as_acme_admin.get(response["Location"]).status_code == 200
    as_acme_admin.get(f"{ADMIN}/engagementrules/")
    with tenant_context(tenant):
        assert EngagementRules.objects.count() == 1


def test_a_tenant_admin_edits_the_rules(as_acme_admin, tenant, rules):
    response = as_acme_admin.post(
        f"{ADMIN}/engagementrules/{rules.pk}/change/",
        rules_form(allowed_currencies="usd, eur ,GBP", protection_days="60"),
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        rules.refresh_from_db()
    assert rules.allowed_currencies == ["USD", "EUR", "GBP"]
    assert rules.protection_days == 60
    assert rules.auto_approve_max_total == Decimal("5000.00")


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("auto_approve_currency", {"auto_approve_currency": "CHF"}),
        ("allowed_currencies", {"allowed_currencies": "USD,BHD"}),
        ("allowed_currencies", {"allowed_currencies": "USD,dollars"}),
        ("name_similarity_threshold", {"name_similarity_threshold": "1.5"}),
        ("protection_days", {"protection_days": "0"}),
        ("auto_approve_max_total", {"auto_approve_max_total": "-1"}),
    ],
)
def test_bad_rules_are_a_form_error(as_acme_admin, tenant, rules, field, overrides):
    response = as_acme_admin.post(
        f"{ADMIN}/engagementrules/{rules.pk}/change/", rules_form(**overrides)
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    with tenant_context(tenant):
        rules.refresh_from_db()
    assert rules.auto_approve_max_total is None


def test_rules_cannot_be_added_or_deleted_and_another_tenants_are_not_found(
    as_acme_admin, rules, other_tenant
):
    with tenant_context(other_tenant):
        from deals import services

        theirs = services.engagement_rules()

    assert as_acme_admin.get(f"{ADMIN}/engagementrules/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/engagementrules/{rules.pk}/delete/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/engagementrules/{theirs.pk}/change/").status_code == 404


# ---------------------------------------------------------------- deals


def test_the_deal_list_shows_only_the_tenants_deals_and_filters_by_its_partners(
    as_acme_admin, acme_deal, globex_deal
):
    response = as_acme_admin.get(f"{ADMIN}/deal/")

    assert response.status_code == 200
    assert "Blue Harbor Logistics" in content(response)
    assert "Quillon" not in content(response)
    choices = [
        choice["display"]
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
    ]
    assert "Northwind" in choices
    assert "Umbrella" not in choices


def test_the_deal_list_searches_and_filters(as_acme_admin, acme_deal, partner_rep):
    DealFactory(actor=partner_rep, status=DealStatus.APPROVED, customer_name="Orchard Health")

    found = as_acme_admin.get(f"{ADMIN}/deal/", {"q": "harbor"})
    approved = as_acme_admin.get(f"{ADMIN}/deal/", {"status__exact": "approved"})

    assert [d.pk for d in found.context["cl"].result_list] == [acme_deal.pk]
    assert [d.customer_name for d in approved.context["cl"].result_list] == ["Orchard Health"]


def test_a_deal_opens_read_only_with_its_lines_and_timeline(as_acme_admin, acme_deal):
    response = as_acme_admin.get(f"{ADMIN}/deal/{acme_deal.pk}/change/")

    page = content(response)
    assert response.status_code == 200
    assert "Blue Harbor Logistics" in page
    assert "Acme Cloud Suite" in page  # the line's product
    assert "Timeline" in page
    assert 'name="customer_name"' not in page  # no inputs
    assert 'name="_save"' not in page


def test_deals_cannot_be_added_changed_or_deleted_in_the_admin(as_acme_admin, acme_deal, tenant):
    added = as_acme_admin.get(f"{ADMIN}/deal/add/")
    changed = as_acme_admin.post(
        f"{ADMIN}/deal/{acme_deal.pk}/change/", {"customer_name": "Renamed", "status": "won"}
    )
    deleted = as_acme_admin.post(f"{ADMIN}/deal/{acme_deal.pk}/delete/", {"post": "yes"})

    assert added.status_code == 403
    assert changed.status_code == 403
    assert deleted.status_code == 403
    with tenant_context(tenant):
        deal = Deal.objects.get(pk=acme_deal.pk)
    assert (deal.customer_name, deal.status) == ("Blue Harbor Logistics", DealStatus.SUBMITTED)


@pytest.mark.parametrize("view", ["change", "history", "delete"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_tenants_deal_answers_404(as_acme_admin, globex_deal, view, method):
    response = getattr(as_acme_admin, method)(f"{ADMIN}/deal/{globex_deal.pk}/{view}/")

    assert response.status_code == 404
    assert "Quillon" not in content(response)


# ---------------------------------------------------------------- leads


@pytest.fixture
def leads(tenant, other_tenant, partner, umbrella):
    from datetime import timedelta

    from django.utils import timezone

    made = {}
    for key, owner, org in (("acme", tenant, partner), ("globex", other_tenant, umbrella)):
        with tenant_context(owner):
            lead = Lead.objects.create(
                tenant=owner,
                company_name=f"{key.title()} Lead Co",
                country="US",
                currency=owner.default_currency,
                status="offered",
            )
            LeadOffer.objects.create(
                tenant=owner,
                lead=lead,
                partner=org,
                expires_at=timezone.now() + timedelta(hours=48),
            )
        made[key] = lead
    return made


def test_leads_and_offers_are_read_only_and_scoped(as_acme_admin, leads):
    listing = as_acme_admin.get(f"{ADMIN}/lead/")
    offers = as_acme_admin.get(f"{ADMIN}/leadoffer/")
    detail = as_acme_admin.get(f"{ADMIN}/lead/{leads['acme'].pk}/change/")

    assert listing.status_code == offers.status_code == detail.status_code == 200
    assert "Acme Lead Co" in content(listing) and "Globex Lead Co" not in content(listing)
    assert "Northwind" in content(offers) and "Umbrella" not in content(offers)
    assert "Northwind" in content(detail)  # the offer inline
    assert as_acme_admin.get(f"{ADMIN}/lead/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/leadoffer/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/lead/{leads['globex'].pk}/change/").status_code == 404


# ---------------------------------------------------------------- operators


def test_an_operator_sees_every_tenants_catalog_with_its_tenant(client, catalogs):
    operator = UserFactory(email="ops@trellis.test", is_superuser=True, is_staff=True)
    client.force_login(operator, backend="partners.permissions.MembershipBackend")

    response = client.get("/admin/deals/product/")

    assert response.status_code == 200
    page = content(response)
    assert "Acme Cloud Suite" in page and "Globex Reactor" in page
    assert re.search(r"Globex", page)
    with dangerously_all_tenants():
        assert Product.objects.count() == 2


def test_a_partner_with_deals_cannot_be_deleted_on_its_own(as_acme_admin, tenant):
    from partners.models import Membership, Partner

    initech = PartnerFactory(tenant=tenant, name="Initech", domain="initech.test")
    rep = MembershipFactory(tenant=tenant, role="partner_rep", partner=initech)
    DealFactory(actor=rep, status=DealStatus.SUBMITTED)
    with tenant_context(tenant):
        Membership.objects.filter(pk=rep.pk).delete()  # only the deal holds the partner now

    url = f"/t/acme/admin/partners/partner/{initech.pk}/delete/"
    page = as_acme_admin.get(url)
    as_acme_admin.post(url, {"post": "yes"})

    assert page.status_code == 200
    assert "Cannot delete" in content(page)
    with tenant_context(tenant):
        assert Partner.objects.filter(pk=initech.pk).exists()
        assert Deal.objects.filter(partner=initech).exists()
