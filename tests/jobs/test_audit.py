"""The audit trail: django-simple-history rows for memberships and tenant settings, with the
acting user when the change came through a request, and kept apart per tenant by RLS."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import HttpResponse
from simple_history.middleware import HistoryRequestMiddleware

from partners import services
from partners.models import Membership, Partner
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HistoricalMembership = Membership.history.model
HistoricalPartner = Partner.history.model


def latest_history(obj):
    return obj.history.order_by("-history_id").first()


def test_a_role_changed_on_the_people_page_is_recorded_with_who_changed_it(
    login, tenant, tenant_admin, channel_manager
):
    client = login(tenant_admin)

    response = client.post(
        f"/t/{tenant.slug}/people/{channel_manager.pk}/edit/",
        {"role": "finance", "is_active": "on"},
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        record = latest_history(channel_manager)
        assert (record.role, record.history_type) == ("finance", "~")
        assert record.history_user == tenant_admin.user
        assert record.prev_record.role == "channel_manager"


def test_tenant_settings_changed_in_a_request_are_recorded_with_who_changed_them(
    rf, tenant, tenant_admin
):
    def settings_view(request):
        with tenant_context(tenant, tenant_admin):
            services.tenant_update_settings(
                actor=tenant_admin,
                values={"time_zone": "Europe/London", "fiscal_year_start_month": 4},
            )
        return HttpResponse()

    request = rf.post(f"/t/{tenant.slug}/console/settings/")
    request.user = tenant_admin.user
    HistoryRequestMiddleware(settings_view)(request)

    record = latest_history(tenant)
    assert record.history_user == tenant_admin.user
    assert record.history_change_reason == "settings updated"
    assert record.time_zone == "Europe/London"
    assert record.settings == {"fiscal_year_start_month": 4}
    assert record.prev_record.time_zone == "UTC"
    delta = record.diff_against(record.prev_record)
    assert set(delta.changed_fields) == {"time_zone", "settings"}


def test_a_role_changed_by_operator_code_is_still_recorded(tenant, channel_manager):
    with tenant_context(tenant):
        services.membership_update(actor=None, membership=channel_manager, role="analyst")
        record = latest_history(channel_manager)

    assert (record.role, record.history_type) == ("analyst", "~")
    assert record.history_user is None


def test_history_rows_of_one_tenant_are_invisible_in_another_tenants_context(
    tenant, tenant_admin, channel_manager, outsider
):
    # channel_manager brings Acme's Northwind (the partner it manages).
    PartnerFactory(tenant=outsider.tenant, name="Umbrella", domain="umbrella.test")
    MembershipFactory(tenant=outsider.tenant, role="analyst")
    with tenant_context(tenant, tenant_admin):
        services.membership_update(actor=tenant_admin, membership=channel_manager, role="finance")

    with tenant_context(outsider.tenant):
        assert set(HistoricalMembership.objects.values_list("tenant_id", flat=True)) == {
            outsider.tenant_id
        }
        assert list(HistoricalPartner.objects.values_list("name", flat=True)) == ["Umbrella"]
        assert not HistoricalMembership.objects.filter(id=channel_manager.pk).exists()
        with connection.cursor() as cursor:
            # No WHERE on the tenant: row-level security alone keeps acme's rows out.
            cursor.execute("SELECT DISTINCT tenant_id FROM partners_historicalmembership")
            assert cursor.fetchall() == [(outsider.tenant_id,)]
            cursor.execute("SELECT name FROM partners_historicalpartner")
            assert cursor.fetchall() == [("Umbrella",)]

    with tenant_context(tenant):
        assert HistoricalMembership.objects.filter(id=channel_manager.pk).count() == 2
        assert list(HistoricalPartner.objects.values_list("name", flat=True)) == ["Northwind"]


def test_history_rows_are_invisible_outside_any_tenant_context(channel_manager):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM partners_historicalmembership")
        assert cursor.fetchone() == (0,)
