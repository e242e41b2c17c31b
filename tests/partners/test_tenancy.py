"""Tenancy at both layers: the scoped manager and PostgreSQL row-level security."""

import pytest
from django.db import connection

from partners.models import Partner
from partners.tenancy import TenantContextMissing, dangerously_all_tenants, tenant_context
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_query_on_tenant_model_without_tenant_raises(partner):
    with pytest.raises(TenantContextMissing):
        list(Partner.objects.all())


def test_queryset_declared_without_tenant_is_scoped_when_evaluated(partner, other_tenant):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    declared = Partner.objects.all()  # built with no tenant: compiling is what needs one
    with tenant_context(partner.tenant):
        assert [p.name for p in declared] == ["Northwind"]


def test_raw_sql_as_runtime_role_without_tenant_returns_no_rows(partner):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, count(*) FROM partners_partner GROUP BY 1")
        rows = cursor.fetchall()
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        superuser, bypass = cursor.fetchone()
    assert rows == []
    assert not superuser and not bypass


def test_raw_sql_with_tenant_set_returns_only_that_tenants_rows(partner, other_tenant):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    with tenant_context(partner.tenant), connection.cursor() as cursor:
        cursor.execute("SELECT name FROM partners_partner ORDER BY name")
        assert cursor.fetchall() == [("Northwind",)]
    with tenant_context(other_tenant), connection.cursor() as cursor:
        cursor.execute("SELECT name FROM partners_partner ORDER BY name")
        assert cursor.fetchall() == [("Umbrella",)]


def test_tenant_setting_does_not_outlive_the_block(partner):
    with tenant_context(partner.tenant):
        pass
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchone()[0] in ("", None)
        cursor.execute("SELECT count(*) FROM partners_partner")
        assert cursor.fetchone()[0] == 0


def test_insert_into_another_tenant_is_refused_by_the_database(partner, other_tenant):
    from django.db import DatabaseError, transaction

    with tenant_context(other_tenant), pytest.raises(DatabaseError), transaction.atomic():
        Partner.objects.create(tenant=partner.tenant, name="Sneaky", domain="sneaky.test")


def test_cross_tenant_foreign_key_is_refused_by_the_database(partner, other_tenant):
    from django.db import IntegrityError, transaction

    from partners.models import Membership
    from tests.factories import UserFactory

    user = UserFactory()
    with tenant_context(other_tenant), pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            tenant=other_tenant, user=user, role="partner_rep", partner_id=partner.pk
        )
        connection.check_constraints()


def test_escape_hatch_sees_every_tenant(partner, other_tenant):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    with dangerously_all_tenants():
        assert Partner.objects.count() == 2
    with pytest.raises(TenantContextMissing):
        Partner.objects.count()


def test_every_tenant_table_has_forced_row_level_security(db):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
            WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
            """
        )
        rows = cursor.fetchall()
    assert rows, "no tenant tables found"
    unprotected = [name for name, rls, forced, policy in rows if not (rls and forced and policy)]
    assert unprotected == []


def test_scoped_queryset_used_as_a_subquery_stays_scoped(partner, other_tenant):
    from partners.models import Membership
    from tests.factories import MembershipFactory

    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    MembershipFactory(tenant=partner.tenant, role="partner_rep", partner=partner)
    MembershipFactory(tenant=other_tenant, role="partner_rep", partner=umbrella)
    with tenant_context(partner.tenant):
        inner = Partner.objects.filter(status="active")
        rows = list(Membership.objects.filter(partner__in=inner))
    assert [m.partner_id for m in rows] == [partner.pk]


def test_tenant_context_renders_times_in_the_tenants_time_zone(db):
    from django.utils import timezone

    from tests.factories import TenantFactory

    berlin = TenantFactory(slug="berlin", time_zone="Europe/Berlin")
    with tenant_context(berlin):
        assert timezone.get_current_timezone_name() == "Europe/Berlin"
    assert timezone.get_current_timezone_name() == "UTC"


def test_tenant_context_inside_the_escape_hatch_is_guarded_by_rls_again(partner, other_tenant):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    with dangerously_all_tenants():
        with tenant_context(other_tenant), connection.cursor() as cursor:
            cursor.execute("SELECT name FROM partners_partner ORDER BY name")
            assert cursor.fetchall() == [("Umbrella",)]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM partners_partner")
            assert cursor.fetchone()[0] == 2


def test_bypass_for_index_scans_needs_a_tenant_and_puts_the_role_back(partner):
    from partners.tenancy import dangerously_bypass_rls

    with pytest.raises(TenantContextMissing), dangerously_bypass_rls():
        pass
    with tenant_context(partner.tenant), connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        runtime = cursor.fetchone()[0]
        with dangerously_bypass_rls():
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == "trellis_ops"
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == runtime


@pytest.mark.django_db(transaction=True)
def test_outermost_tenant_context_ends_with_its_commit_on_the_same_connection():
    from tests.factories import TenantFactory

    tenant = TenantFactory(slug="pooled")
    PartnerFactory(tenant=tenant, name="Pooled", domain="pooled.test")
    with tenant_context(tenant), dangerously_all_tenants():
        pass
    with connection.cursor() as cursor:  # the same (pooled) connection, after COMMIT
        cursor.execute("SELECT current_user, current_setting('app.tenant_id', true)")
        role, setting = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM partners_partner")
        count = cursor.fetchone()[0]
    assert role == "trellis_app"
    assert setting in ("", None)
    assert count == 0
