"""The partner admin (profile through the services, status actions, CSV export), the
competency list, the read-only proposal and status logs, and the tier-program settings."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners import services
from partners.models import Competency, OutboxEvent, Partner, PartnerStatusChange, Tenant
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierChangeKind, TierProposal
from tests.conftest import assign_partner_manager
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin"
PARTNERS = f"{ADMIN}/partners/partner/"


@pytest.fixture
def competencies(tenant):
    with tenant_context(tenant):
        for name in ("Cloud", "Security"):
            Competency.objects.create(tenant=tenant, name=name)


def _partner_form(**fields):
    data = {
        "name": "Contoso",
        "legal_name": "Contoso Ltd.",
        "domain": "contoso.test",
        "partner_type": "msp",
        "segment": "enterprise",
        "employee_count": "250",
        "countries": "de,fr",
        "regions": "EMEA",
        "competencies": ["Cloud"],
        "lead_capacity": "15",
        "status": "active",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def _change_form(partner, **fields):
    data = _partner_form(
        name=partner.name,
        legal_name=partner.legal_name,
        domain=partner.domain,
        partner_type=partner.partner_type,
        segment=partner.segment,
        employee_count=partner.employee_count or "",
        countries=",".join(partner.countries),
        regions=",".join(partner.regions),
        competencies=list(partner.competencies),
        lead_capacity=str(partner.lead_capacity),
        status=None,
    )
    data.update(
        {
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
            "status_changes-MIN_NUM_FORMS": "0",
            "status_changes-MAX_NUM_FORMS": "1000",
        }
    )
    data.update(fields)
    return data


def _get(tenant, **lookup):
    with tenant_context(tenant):
        return Partner.objects.get(**lookup)


def _partner_count(tenant):
    with tenant_context(tenant):
        return Partner.objects.count()


# ---------------------------------------------------------------- add and edit


def test_a_tenant_admin_adds_a_partner_with_its_profile(as_acme_admin, tenant, competencies):
    response = as_acme_admin.post(f"{PARTNERS}add/", _partner_form())

    assert response.status_code == 302
    contoso = _get(tenant, name="Contoso")
    assert (contoso.legal_name, contoso.partner_type, contoso.segment) == (
        "Contoso Ltd.",
        "msp",
        "enterprise",
    )
    assert (contoso.employee_count, contoso.lead_capacity) == (250, 15)
    assert contoso.countries == ["DE", "FR"]  # normalized by the service
    assert (contoso.regions, contoso.competencies) == (["EMEA"], ["Cloud"])
    assert contoso.activated_on is not None
    with tenant_context(tenant):
        # The service wrote the first status change and the event.
        assert PartnerStatusChange.objects.filter(partner=contoso, to_status="active").exists()
        assert OutboxEvent.objects.filter(name="partner.created").count() == 1


def test_the_competencies_offered_are_the_tenants_list(as_acme_admin, competencies, other_tenant):
    with tenant_context(other_tenant):
        Competency.objects.create(tenant=other_tenant, name="Globex Magic")

    response = as_acme_admin.get(f"{PARTNERS}add/")

    choices = dict(response.context["adminform"].form.fields["competencies"].choices)
    assert set(choices) == {"Cloud", "Security"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"competencies": ["Blockchain"]}, "competencies"),  # not in the tenant's list
        ({"domain": "not a domain"}, "domain"),  # the service's domain rule
        ({"domain": "NORTHWIND.test"}, "domain"),  # unique once normalized by the service
        ({"name": "northwind"}, "name"),  # unique names, whatever the case
        ({"countries": "1A"}, "countries"),  # not a two-letter code
        ({"employee_count": "many"}, "employee_count"),
    ],
)
def test_bad_input_on_add_is_a_form_error_and_writes_nothing(
    as_acme_admin, tenant, partner, competencies, fields, field
):
    before = _partner_count(tenant)
    with tenant_context(tenant):
        events_before = OutboxEvent.objects.count()

    response = as_acme_admin.post(f"{PARTNERS}add/", _partner_form(**fields))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert _partner_count(tenant) == before
    with tenant_context(tenant):
        assert OutboxEvent.objects.count() == events_before  # the dry run left nothing


def test_a_tenant_admin_edits_a_partner_through_the_service(
    as_acme_admin, tenant, partner, competencies
):
    response = as_acme_admin.post(
        f"{PARTNERS}{partner.pk}/change/",
        _change_form(partner, legal_name="Northwind Traders GmbH", competencies=["Security"]),
    )

    assert response.status_code == 302
    edited = _get(tenant, pk=partner.pk)
    assert (edited.legal_name, edited.competencies) == ("Northwind Traders GmbH", ["Security"])
    with tenant_context(tenant):
        event = OutboxEvent.objects.get(name="partner.updated")
    assert event.payload["fields"] == ["competencies", "legal_name"]


def test_bad_input_on_edit_is_a_form_error_and_changes_nothing(
    as_acme_admin, tenant, partner, contoso, competencies
):
    response = as_acme_admin.post(
        f"{PARTNERS}{partner.pk}/change/",
        _change_form(partner, domain="contoso.test", legal_name="Changed"),
    )

    assert response.status_code == 200
    assert "domain" in response.context["adminform"].form.errors
    unchanged = _get(tenant, pk=partner.pk)
    assert (unchanged.domain, unchanged.legal_name) == ("northwind.test", "")


def test_status_and_tier_are_read_only_on_the_change_form(
    as_acme_admin, tenant, partner, competencies
):
    page = as_acme_admin.get(f"{PARTNERS}{partner.pk}/change/")
    form = page.context["adminform"].form
    assert "status" not in form.fields and "tier" not in form.fields
    assert "activated_on" not in form.fields

    as_acme_admin.post(f"{PARTNERS}{partner.pk}/change/", _change_form(partner, status="suspended"))
    assert _get(tenant, pk=partner.pk).status == "active"


def test_the_change_form_shows_managers_and_the_status_history(
    as_acme_admin, tenant, tenant_admin, partner, channel_manager
):
    with tenant_context(tenant, tenant_admin):
        services.partner_suspend(actor=tenant_admin, partner=partner, reason="Overdue audit")

    response = as_acme_admin.get(f"{PARTNERS}{partner.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "manager@acme.test" in content
    assert "Overdue audit" in content  # the inline status history
    assert response.context["inline_admin_formsets"]


def test_the_list_shows_managers_without_a_query_per_row(
    as_acme_admin, tenant, partner, channel_manager
):
    as_acme_admin.get(PARTNERS)  # the role's permissions are cached after the first page
    with CaptureQueriesContext(connection) as few:
        assert as_acme_admin.get(PARTNERS).status_code == 200
    for n in range(6):
        extra = PartnerFactory(tenant=tenant, name=f"Extra {n}", domain=f"extra{n}.test")
        assign_partner_manager(channel_manager, extra)
    with CaptureQueriesContext(connection) as many:
        response = as_acme_admin.get(PARTNERS)

    assert len(many.captured_queries) == len(few.captured_queries)
    assert response.content.decode().count("manager@acme.test") >= 7


def test_the_list_filters_and_searches_the_new_fields(as_acme_admin, tenant, partner):
    PartnerFactory(
        tenant=tenant, name="Fabrikam", domain="fabrikam.test", legal_name="Fabrikam Holdings",
        partner_type="distributor", segment="smb",
    )  # fmt: skip

    by_type = as_acme_admin.get(PARTNERS, {"partner_type__exact": "distributor"})
    by_legal_name = as_acme_admin.get(PARTNERS, {"q": "Holdings"})

    assert [p.name for p in by_type.context["cl"].result_list] == ["Fabrikam"]
    assert [p.name for p in by_legal_name.context["cl"].result_list] == ["Fabrikam"]


# ---------------------------------------------------------------- actions


def _action(client, action, partners, **extra):
    data = {"action": action, "_selected_action": [p.pk for p in partners], **extra}
    return client.post(PARTNERS, data)


def test_suspending_asks_for_a_reason_first(as_acme_admin, tenant, partner):
    page = _action(as_acme_admin, "suspend_partners", [partner])

    assert page.status_code == 200
    assert b"Northwind" in page.content and b'name="reason"' in page.content
    assert _get(tenant, pk=partner.pk).status == "active"


def test_suspending_without_a_reason_is_refused(as_acme_admin, tenant, partner):
    response = _action(as_acme_admin, "suspend_partners", [partner], apply="1", reason="  ")

    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert _get(tenant, pk=partner.pk).status == "active"
    with tenant_context(tenant):
        assert not PartnerStatusChange.objects.filter(to_status="suspended").exists()


def test_suspending_with_a_reason_goes_through_the_service(as_acme_admin, tenant, partner, contoso):
    response = _action(
        as_acme_admin, "suspend_partners", [partner, contoso], apply="1", reason="Overdue audit"
    )

    assert response.status_code == 302
    for suspended in (_get(tenant, pk=partner.pk), _get(tenant, pk=contoso.pk)):
        assert (suspended.status, suspended.status_reason) == ("suspended", "Overdue audit")
    with tenant_context(tenant):
        assert PartnerStatusChange.objects.filter(to_status="suspended").count() == 2
        assert OutboxEvent.objects.filter(name="partner.status_changed").count() == 2


def test_reactivating_needs_a_reason_and_skips_partners_not_suspended(
    as_acme_admin, tenant, tenant_admin, partner, contoso
):
    with tenant_context(tenant, tenant_admin):
        services.partner_suspend(actor=tenant_admin, partner=partner, reason="Overdue audit")

    refused = _action(as_acme_admin, "reactivate_partners", [partner], apply="1", reason="")
    assert refused.status_code == 400
    assert _get(tenant, pk=partner.pk).status == "suspended"

    response = _action(
        as_acme_admin, "reactivate_partners", [partner, contoso], apply="1", reason="Audit done"
    )
    assert response.status_code == 302
    assert _get(tenant, pk=partner.pk).status == "active"
    followed = as_acme_admin.get(response["Location"])
    messages = [str(m) for m in followed.context["messages"]]
    assert any("Reactivated 1 partner" in m for m in messages)
    assert any("Contoso" in m for m in messages)  # not suspended: refused, said why


def test_the_actions_cannot_reach_another_tenants_partner(as_acme_admin, umbrella, other_tenant):
    _action(as_acme_admin, "suspend_partners", [umbrella], apply="1", reason="Hostile")
    assert _get(other_tenant, pk=umbrella.pk).status == "active"


def test_exporting_the_selected_partners_as_csv(
    as_acme_admin, tenant, partner, contoso, channel_manager, partner_admin, umbrella
):
    response = _action(as_acme_admin, "export_partners_csv", [partner, umbrella])

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["name"] for row in rows] == ["Northwind"]  # Umbrella is not Acme's
    assert rows[0]["managers"] == "manager@acme.test"
    assert rows[0]["admin_email"] == "padmin@northwind.test"


# ---------------------------------------------------------------- competencies and logs


def test_a_tenant_admin_keeps_the_competency_list(as_acme_admin, tenant, other_tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/competency/add/", {"name": "Cloud", "description": "Cloud migrations"}
    )
    assert response.status_code == 302
    duplicate = as_acme_admin.post(f"{ADMIN}/partners/competency/add/", {"name": "Cloud"})
    assert duplicate.status_code == 200
    with tenant_context(other_tenant):
        theirs = Competency.objects.create(tenant=other_tenant, name="Globex Magic")
    assert as_acme_admin.get(f"{ADMIN}/partners/competency/{theirs.pk}/change/").status_code == 404
    with tenant_context(tenant):
        assert list(Competency.objects.values_list("name", "tenant_id")) == [("Cloud", tenant.pk)]


def test_tier_proposals_and_status_changes_are_read_only_lists(
    as_acme_admin, tenant, tenant_admin, partner, other_tenant, outsider, umbrella
):
    with tenant_context(tenant, tenant_admin):
        gold = Tier.objects.create(tenant=tenant, rank=3, name="Gold")
        proposal = TierProposal.objects.create(
            tenant=tenant, partner=partner, to_tier=gold, kind=TierChangeKind.PROMOTION
        )
        services.partner_suspend(actor=tenant_admin, partner=partner, reason="Overdue audit")
    with tenant_context(other_tenant, outsider):
        services.partner_suspend(actor=outsider, partner=umbrella, reason="Globex reason")

    proposals = as_acme_admin.get(f"{ADMIN}/partners/tierproposal/")
    changes = as_acme_admin.get(f"{ADMIN}/partners/partnerstatuschange/")

    assert [p.pk for p in proposals.context["cl"].result_list] == [proposal.pk]
    assert b"Overdue audit" in changes.content and b"Globex reason" not in changes.content
    assert as_acme_admin.get(f"{ADMIN}/partners/tierproposal/add/").status_code == 403
    assert as_acme_admin.get(f"{ADMIN}/partners/partnerstatuschange/add/").status_code == 403


# ---------------------------------------------------------------- tier-program settings


def _tenant_form(**fields):
    data = {
        "name": "Acme",
        "default_currency": "USD",
        "time_zone": "UTC",
        "settings": '{"auto_approve_below": 5000}',
    }
    data.update(fields)
    return data


def test_the_tier_settings_are_form_fields_saved_into_the_tenant_settings(as_acme_admin, tenant):
    response = as_acme_admin.post(
        f"{ADMIN}/partners/tenant/{tenant.pk}/change/",
        _tenant_form(tier_demotion_grace_days="30", tier_changes_need_approval="on"),
    )

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings == {
        "auto_approve_below": 5000,
        "tier_demotion_grace_days": 30,
        "tier_changes_need_approval": True,
    }
    page = as_acme_admin.get(f"{ADMIN}/partners/tenant/{tenant.pk}/change/")
    form = page.context["adminform"].form
    assert form.initial["tier_demotion_grace_days"] == 30
    assert form.initial["tier_changes_need_approval"] is True
    # The raw JSON no longer carries them: they are edited in their own fields.
    assert form.initial["settings"] == {"auto_approve_below": 5000}


def test_clearing_the_tier_settings_returns_to_the_defaults(as_acme_admin, tenant):
    tenant.settings = {"tier_demotion_grace_days": 30, "tier_changes_need_approval": True}
    tenant.save()

    response = as_acme_admin.post(
        f"{ADMIN}/partners/tenant/{tenant.pk}/change/",
        # The JSON tries to set them too: the fields win.
        _tenant_form(settings='{"tier_demotion_grace_days": 7}'),
    )

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.settings == {}


@pytest.mark.parametrize("value", ["-1", "3651", "ninety", "1.5"])
def test_a_bad_grace_period_is_a_form_error(as_acme_admin, tenant, value):
    tenant.settings = {"tier_demotion_grace_days": 45}
    tenant.save()

    response = as_acme_admin.post(
        f"{ADMIN}/partners/tenant/{tenant.pk}/change/",
        _tenant_form(tier_demotion_grace_days=value),
    )

    assert response.status_code == 200
    assert "tier_demotion_grace_days" in response.context["adminform"].form.errors
    assert Tenant.objects.get(pk=tenant.pk).settings == {"tier_demotion_grace_days": 45}


def test_the_tier_engine_schedule_is_editable_by_operators(as_operator, login, tenant_admin):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    crontab = CrontabSchedule.objects.create(minute="0", hour="2")
    task = PeriodicTask.objects.create(
        name="tier-engine", task="partners.run_tier_engine", crontab=crontab
    )

    assert (
        as_operator.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").status_code
        == 200
    )
    tenant_page = login(tenant_admin).get(
        f"{ADMIN}/django_celery_beat/periodictask/{task.pk}/change/"
    )
    assert tenant_page.status_code in (403, 404)


def test_an_operator_sets_a_tenants_tier_settings_too(as_operator, other_tenant):
    response = as_operator.post(
        f"/admin/partners/tenant/{other_tenant.pk}/change/",
        {
            "name": "Globex",
            "slug": "globex",
            "default_currency": "USD",
            "time_zone": "UTC",
            "is_active": "on",
            "settings": "{}",
            "tier_demotion_grace_days": "0",
            "tier_changes_need_approval": "on",
        },
    )

    assert response.status_code == 302
    other_tenant.refresh_from_db()
    assert other_tenant.settings == {
        "tier_demotion_grace_days": 0,
        "tier_changes_need_approval": True,
    }


def test_an_operator_adds_a_partner_whose_competencies_the_tenant_knows(as_operator, other_tenant):
    with tenant_context(other_tenant):
        Competency.objects.create(tenant=other_tenant, name="Chemicals")
    form = {
        **_partner_form(name="Initech", domain="initech.test", countries="US"),
        "owner_tenant": other_tenant.pk,
    }

    unknown = as_operator.post("/admin/partners/partner/add/", {**form, "competencies": "Cloud"})
    known = as_operator.post("/admin/partners/partner/add/", {**form, "competencies": "Chemicals"})

    assert unknown.status_code == 200
    assert "competencies" in unknown.context["adminform"].form.errors
    assert known.status_code == 302
    assert _get(other_tenant, name="Initech").competencies == ["Chemicals"]


def test_a_new_partner_cannot_start_suspended(as_acme_admin, tenant):
    before = _partner_count(tenant)
    response = as_acme_admin.post(f"{PARTNERS}add/", _partner_form(status="suspended"))

    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    assert _partner_count(tenant) == before
