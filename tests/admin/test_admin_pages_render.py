"""Every admin page a mode offers renders (no 500), with rows present in both tenants."""

import pytest
from django.contrib import admin

from partners import services
from partners.automation import automation_run
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows_everywhere(
    two_tenants, tenant_admin, outsider, acme_invitation, globex_invitation, globex_rep
):
    for tenant, member in ((two_tenants[0], tenant_admin), (two_tenants[1], outsider)):
        with tenant_context(tenant, member):
            services.api_token_issue(actor=member, name="CRM")
        with automation_run(tenant=tenant, job="partners.tier_recompute"):
            pass
    _deal_rows(two_tenants[0])
    _deal_rows(two_tenants[1], rep=globex_rep)
    _tier_rows(two_tenants[0])
    _tier_rows(two_tenants[1])
    _partner_rows(two_tenants[0])
    _partner_rows(two_tenants[1])
    _import_rows(two_tenants[0])
    _import_rows(two_tenants[1])
    return two_tenants


def _import_rows(tenant):
    """A checked partner CSV import with an error (partners/admin_imports.py)."""
    from partners.models import PartnerImport

    with tenant_context(tenant):
        PartnerImport.objects.create(
            tenant=tenant, filename="partners.csv", content="name,domain\r\nA,bad\r\n",
            status="invalid", total_rows=1, processed_rows=1,
            errors=[{"row": 2, "field": "domain", "message": "Not a domain."}],
        )  # fmt: skip


def _partner_rows(tenant):
    """A competency, a status change of the first partner and a pending tier proposal."""
    from partners import services
    from partners.models import Competency, Partner
    from partners.tiers import Tier, TierChangeKind, TierProposal

    with tenant_context(tenant):
        Competency.objects.create(tenant=tenant, name="Cloud")
        partner = Partner.objects.order_by("pk").first()
        services.partner_suspend(actor=None, partner=partner, reason="Audit pending")
        TierProposal.objects.create(
            tenant=tenant, partner=partner, from_tier=partner.tier,
            to_tier=Tier.objects.first(), kind=TierChangeKind.PROMOTION, reason="Test",
        )  # fmt: skip


def _tier_rows(tenant):
    """A tier with a criterion, and a tier change (a pin) of the tenant's first partner."""
    from decimal import Decimal

    from django.utils import timezone

    from partners import metrics
    from partners.models import Partner
    from partners.tier_engine import tier_pin
    from partners.tiers import Tier, TierCriterion

    with tenant_context(tenant):
        tier = Tier.objects.create(tenant=tenant, rank=1, name="Silver")
        TierCriterion.objects.create(
            tenant=tenant, tier=tier, metric=metrics.ACTIVE_USERS, threshold=Decimal("1")
        )
        partner = Partner.objects.order_by("pk").first()
        tier_pin(partner=partner, tier=tier, until=timezone.localdate())


def _deal_rows(tenant, rep=None):
    """A catalog, rules, a won deal with its timeline, and a lead offered to a partner (in
    Acme, of a partner organization of its own, so Northwind keeps no deals)."""
    from datetime import timedelta

    from django.utils import timezone

    from deals import services as deal_services
    from deals.models import Lead, LeadOffer
    from tests.deals.factories import DealFactory, LostReasonFactory
    from tests.factories import MembershipFactory, PartnerFactory

    if rep is None:
        initech = PartnerFactory(tenant=tenant, name="Initech", domain="initech.test")
        rep = MembershipFactory(tenant=tenant, role="partner_rep", partner=initech)
    DealFactory(actor=rep, status="won")
    LostReasonFactory(tenant=tenant, name="Price")
    with tenant_context(tenant):
        deal_services.engagement_rules()
        lead = Lead.objects.create(
            tenant=tenant, company_name="Lead Co", country="US", currency="USD"
        )
        LeadOffer.objects.create(
            tenant=tenant,
            lead=lead,
            partner=rep.partner,
            expires_at=timezone.now() + timedelta(days=2),
        )


def _first_pk(model, request_tenant):
    from partners.tenancy import dangerously_all_tenants

    if request_tenant is None:
        with dangerously_all_tenants():
            return model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    if hasattr(model, "tenant") and model._meta.get_field("tenant").is_relation:
        with tenant_context(request_tenant):
            return model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return request_tenant.pk


def test_every_operator_page_renders(as_operator, rows_everywhere, operator):
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert as_operator.get(base).status_code == 200, base
        add = as_operator.get(f"{base}add/")
        assert add.status_code in (200, 403), base
        pk = _first_pk(model, None)
        if pk is not None:
            change = as_operator.get(f"{base}{pk}/change/")
            assert change.status_code == 200, f"{base}{pk}/change/"
            history = as_operator.get(f"{base}{pk}/history/")
            assert history.status_code == 200, f"{base}{pk}/history/"


def test_every_tenant_admin_page_renders(as_acme_admin, rows_everywhere, tenant):
    index = as_acme_admin.get("/t/acme/admin/")
    for app in index.context["app_list"]:
        for entry in app["models"]:
            model = entry["model"]
            base = f"/t/acme/admin/{model._meta.app_label}/{model._meta.model_name}/"
            # follow: a single-row model's list opens its row (the rules of engagement)
            assert as_acme_admin.get(base, follow=True).status_code == 200, base
            assert as_acme_admin.get(f"{base}add/").status_code in (200, 403), base
            pk = _first_pk(model, tenant)
            assert pk is not None, base
            assert as_acme_admin.get(f"{base}{pk}/change/").status_code == 200, base
            assert as_acme_admin.get(f"{base}{pk}/history/").status_code == 200, base


def test_an_operator_deletes_a_tenant_with_everything_it_owns(
    as_operator, rows_everywhere, tenant, other_tenant
):
    from partners.models import Partner, Tenant
    from partners.tenancy import dangerously_all_tenants

    page = as_operator.get(f"/admin/partners/tenant/{tenant.pk}/delete/")
    assert page.status_code == 200
    assert b"Northwind" in page.content  # the cascade is listed
    response = as_operator.post(f"/admin/partners/tenant/{tenant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    with dangerously_all_tenants():
        assert list(Partner.objects.values_list("name", flat=True)) == ["Umbrella"]


def test_a_tenant_admin_deletes_a_partner_without_people(as_acme_admin, rows_everywhere, tenant):
    from partners.models import Partner
    from tests.factories import PartnerFactory

    contoso = PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")
    url = f"/t/acme/admin/partners/partner/{contoso.pk}/delete/"
    assert as_acme_admin.get(url).status_code == 200
    assert as_acme_admin.post(url, {"post": "yes"}).status_code == 302
    with tenant_context(tenant):
        assert not Partner.objects.filter(pk=contoso.pk).exists()


def test_a_partner_with_people_cannot_be_deleted_by_a_tenant_admin(
    as_acme_admin, rows_everywhere, partner, tenant
):
    # People are deactivated (kept in the audit trail), never deleted by a tenant admin,
    # so neither is the partner organization they belong to.
    from partners.models import Partner

    url = f"/t/acme/admin/partners/partner/{partner.pk}/delete/"
    response = as_acme_admin.post(url, {"post": "yes"})
    assert response.status_code == 403
    with tenant_context(tenant):
        assert Partner.objects.filter(pk=partner.pk).exists()


def test_history_can_be_read_but_not_reverted(as_acme_admin, partner, tenant):
    with tenant_context(tenant):
        version = partner.history.first()
    url = f"/t/acme/admin/partners/partner/{partner.pk}/history/{version.history_id}/"
    assert as_acme_admin.get(url).status_code == 200
    assert as_acme_admin.post(url, {"name": "Reverted", "domain": "x.test"}).status_code == 403


def test_another_tenants_history_version_answers_404(as_acme_admin, umbrella, other_tenant):
    with tenant_context(other_tenant):
        version = umbrella.history.first()
    url = f"/t/acme/admin/partners/partner/{umbrella.pk}/history/{version.history_id}/"
    response = as_acme_admin.get(url)
    assert response.status_code == 404
    assert b"Umbrella" not in response.content


def test_the_operator_autocompletes_users_by_email(as_operator, tenant_admin):
    response = as_operator.get(
        "/admin/autocomplete/",
        {
            "app_label": "partners",
            "model_name": "membership",
            "field_name": "user",
            "term": "admin@acme",
        },
    )
    assert response.status_code == 200
    assert [result["id"] for result in response.json()["results"]] == [str(tenant_admin.user_id)]
