"""The commit writes in bulk (``services.partners_bulk_create`` and
``invitations_bulk_create``): a constant number of queries a batch however many rows, and
every row gets what ``partner_create`` and ``invitation_create`` give one partner."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import imports, services
from partners.models import (
    Invitation,
    OutboxEvent,
    Partner,
    PartnerImport,
    PartnerStatusChange,
)
from partners.selectors import hash_secret, partner_managers
from partners.tenancy import tenant_context
from partners.tiers import TierChange
from tests.factories import PartnerFactory
from tests.partner_import.conftest import IMPORTS, csv_file, good_rows, latest_import

pytestmark = pytest.mark.django_db


def _rows(count: int, prefix: str) -> list[dict]:
    """Rows with every kind of write: tiers, managers, invitations, several statuses."""
    statuses = ["active", "onboarding", "applicant", "suspended"]
    return [
        {
            "name": f"{prefix} {n}",
            "domain": f"{prefix.lower()}{n}.test",
            "status": statuses[n % len(statuses)],
            "countries": "US;DE",
            "competencies": "Cloud",
            "tier": "Gold" if n % 2 else "",
            "managers": "manager@acme.test" if n % 3 == 0 else "",
            "admin_email": f"admin{n}@{prefix.lower()}{n}.test" if n % 2 == 0 else "",
        }
        for n in range(count)
    ]


def _commit_queries(tenant, actor, rows: list[dict]) -> int:
    """Check and commit ``rows`` as an import (without the jobs' hand-offs); the commit's
    number of queries."""
    with tenant_context(tenant, actor):
        job = imports.partner_import_start(actor=actor, filename="f.csv", text=csv_file(rows))
    imports.partner_import_check(tenant=tenant, import_id=job.pk)
    with tenant_context(tenant, actor):
        job = PartnerImport.objects.get(pk=job.pk)
        imports.partner_import_commit_request(actor=actor, job=job)
    with CaptureQueriesContext(connection) as queries, tenant_context(tenant):
        job = imports.partner_import_commit(tenant=tenant, import_id=job.pk, actor_id=actor.pk)
    assert (job.status, job.errors, job.created_count) == ("done", [], len(rows))
    return len(queries)


def test_the_commits_queries_do_not_grow_with_the_rows(
    tenant, tenant_admin, channel_manager, program, monkeypatch
):
    few = _commit_queries(tenant, tenant_admin, _rows(5, "Few"))
    many = _commit_queries(tenant, tenant_admin, _rows(50, "Many"))
    assert many == few
    # In batches, each batch adds the same handful of queries.
    monkeypatch.setattr(imports, "COMMIT_BATCH", 25)
    two_batches = _commit_queries(tenant, tenant_admin, _rows(50, "Two"))
    monkeypatch.setattr(imports, "COMMIT_BATCH", 10)
    five_batches = _commit_queries(tenant, tenant_admin, _rows(50, "Five"))
    per_batch = two_batches - few
    assert 0 < per_batch <= 25
    assert five_batches == few + 4 * per_batch


def test_every_imported_row_gets_what_partner_create_gives_one_partner(
    login, upload, jobs, tenant, tenant_admin, channel_manager, program
):
    client = login(tenant_admin)
    upload(client, csv_file(good_rows()))
    with jobs():
        client.post(f"{IMPORTS}{latest_import(tenant).pk}/commit/")
    assert latest_import(tenant).status == "done"
    today = timezone.localdate()
    with tenant_context(tenant):
        fabrikam = Partner.objects.get(name="Fabrikam")
        litware = Partner.objects.get(name="Litware")
        imported = [fabrikam, litware, Partner.objects.get(name="Proseware")]
        # The activation date of an active partner; none for one still onboarding.
        assert (fabrikam.activated_on, litware.activated_on) == (today, None)
        assert fabrikam.status_changed_at is not None
        # The status history: one dated row each, by the member who imported.
        changes = PartnerStatusChange.objects.filter(partner__in=imported)
        assert sorted((c.partner.name, c.from_status, c.to_status) for c in changes) == [
            ("Fabrikam", "", "active"),
            ("Litware", "", "onboarding"),
            ("Proseware", "", "active"),
        ]
        assert {c.changed_by for c in changes} == {tenant_admin.user}
        # The tier given: a manual tier change, as partner_create records it.
        tier_change = TierChange.objects.get(partner=fabrikam)
        assert (tier_change.kind, tier_change.from_tier, tier_change.to_tier) == (
            "manual",
            None,
            program["Gold"],
        )
        assert tier_change.reason == "Tier given when the partner was added."
        # The audit history, by the member who imported.
        history = fabrikam.history.get()
        assert (history.history_type, history.history_user) == ("+", tenant_admin.user)
        assert history.domain == "fabrikam.com"
        # Managers as guardian grants.
        assert [u.email for u in partner_managers(partner_ids=[fabrikam.pk])[fabrikam.pk]] == [
            "manager@acme.test"
        ]
        assert partner_managers(partner_ids=[litware.pk])[litware.pk] == []
        # One outbox event a partner and an invitation.
        created = OutboxEvent.objects.filter(name="partner.created")
        assert sorted(e.payload["partner_id"] for e in created) == sorted(p.pk for p in imported)
        assert OutboxEvent.objects.filter(name="invitation.created").count() == 2
        invitation = Invitation.objects.get(email="boss@fabrikam.com")
    assert invitation.state == "pending"
    assert invitation.invited_by == tenant_admin.user
    assert invitation.expires_at - invitation.created_at == timedelta(
        days=settings.INVITATION_TTL_DAYS
    )
    # The email carries the token; the database only its hash.
    (message,) = [m for m in mail.outbox if m.to == ["boss@fabrikam.com"]]
    token = re.search(r"/accounts/invite/([^/\s]+)/", message.body).group(1)
    assert invitation.token_hash == hash_secret(token) != token
    assert "Fabrikam" in message.body and "Trellis" in message.subject


def test_an_imported_invitation_replaces_an_older_pending_one(
    login, upload, jobs, tenant, tenant_admin, channel_manager, program
):
    with tenant_context(tenant, tenant_admin):
        older = services.invitation_create(
            actor=tenant_admin, email="boss@fabrikam.com", role="finance"
        ).invitation
    mail.outbox.clear()
    client = login(tenant_admin)
    upload(client, csv_file(good_rows()))
    with jobs():
        client.post(f"{IMPORTS}{latest_import(tenant).pk}/commit/")
    with tenant_context(tenant):
        older.refresh_from_db()
    assert older.state == "revoked"
    assert len(mail.outbox) == 2


# ---------------------------------------------------------------- the bulk services


def _new(name: str, domain: str, **fields) -> services.NewPartner:
    return services.NewPartner(name=name, domain=domain, **fields)


def test_partners_bulk_create_names_every_refused_partner_and_writes_nothing(
    tenant, tenant_admin, channel_manager, partner_rep, program
):
    rows = [
        _new("Fine", "fine.test"),
        _new("northwind", "elsewhere.test"),  # the name of an existing partner, in any case
        _new("Twin", "twin.test"),
        _new("Twin", "twin.test"),  # the same as the row before
        _new("Abroad", "abroad.test", profile={"countries": ["USA"]}),
        _new("Managed", "managed.test", managers=[partner_rep]),  # not staff
        _new("Odd", "odd.test", status="sleeping", profile={"competencies": ["Knitting"]}),
    ]
    with tenant_context(tenant, tenant_admin), pytest.raises(services.RowsInvalid) as refused:
        services.partners_bulk_create(actor=tenant_admin, partners=rows)
    errors = {i: sorted(e.message_dict) for i, e in refused.value.errors_by_row.items()}
    assert errors == {
        1: ["name"],
        3: ["domain", "name"],
        4: ["countries"],
        5: ["managers"],
        6: ["competencies", "status"],
    }
    assert refused.value.errors_by_row[3].message_dict["domain"] == [
        "Another partner of this program has this domain."
    ]
    with tenant_context(tenant):
        assert list(Partner.objects.values_list("name", flat=True)) == ["Northwind"]
        assert not PartnerStatusChange.objects.exists()
        assert not OutboxEvent.objects.exists()


def test_partners_bulk_create_and_partner_create_write_the_same_rows(
    tenant, tenant_admin, channel_manager, program
):
    fields = {
        "status": "suspended",
        "status_reason": "  Unpaid invoices  ",
        "tier": program["Silver"],
        "managers": [channel_manager],
    }
    profile = {"legal_name": "X Ltd", "countries": ["de", "US"], "competencies": ["Cloud"]}
    with tenant_context(tenant, tenant_admin):
        one = services.partner_create(
            actor=tenant_admin, name="One", domain="https://One.test/", **fields, **profile
        )
        (bulk,) = services.partners_bulk_create(
            actor=tenant_admin,
            partners=[_new("Bulk", "https://Bulk.test/", **fields, profile=profile)],
        )
        made = {}
        for partner in (one, bulk):
            partner = Partner.objects.get(pk=partner.pk)
            status = partner.status_changes.get()
            tier = partner.tier_changes.get()
            made[partner.name] = (
                partner.domain.split(".")[1],
                partner.legal_name,
                partner.countries,
                partner.competencies,
                partner.status,
                partner.status_reason,
                partner.activated_on,
                partner.tier,
                (status.from_status, status.to_status, status.changed_by, status.reason),
                (tier.kind, tier.from_tier, tier.to_tier, tier.reason),
                [u.email for u in partner_managers(partner_ids=[partner.pk])[partner.pk]],
                partner.history.count(),
                OutboxEvent.objects.filter(
                    name="partner.created", payload__partner_id=partner.pk
                ).count(),
            )
    assert made["One"] == made["Bulk"]
    assert made["Bulk"][:7] == (
        "test",
        "X Ltd",
        ["DE", "US"],
        ["Cloud"],
        "suspended",
        "Unpaid invoices",
        None,
    )


def test_partners_bulk_create_needs_the_right_to_add_partners(tenant, channel_manager):
    with tenant_context(tenant, channel_manager), pytest.raises(PermissionDenied):
        services.partners_bulk_create(actor=channel_manager, partners=[_new("A", "a.test")])
    with tenant_context(tenant):
        assert Partner.objects.count() == 1


def test_invitations_bulk_create_refuses_members_repeats_and_partners_not_managed(
    tenant, channel_manager, partner, partner_rep, contoso
):
    invitees = [
        ("new@northwind.test", partner),
        ("REP@northwind.test", partner),  # a member already
        ("new@northwind.test", partner),  # twice
        ("someone@contoso.test", contoso),  # the manager is assigned to Northwind only
    ]
    with tenant_context(tenant, channel_manager), pytest.raises(services.RowsInvalid) as refused:
        services.invitations_bulk_create(
            actor=channel_manager, role="partner_admin", invitees=invitees
        )
    messages = {i: e.message_dict for i, e in refused.value.errors_by_row.items()}
    assert messages == {
        1: {"email": ["This person is already a member of this tenant."]},
        2: {"email": ["This person is invited twice."]},
        3: {"partner": ["You do not manage this partner."]},
    }
    with tenant_context(tenant):
        assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_invitations_bulk_create_refuses_a_role_the_actor_cannot_invite_to(tenant, channel_manager):
    with tenant_context(tenant, channel_manager), pytest.raises(ValidationError) as refused:
        services.invitations_bulk_create(
            actor=channel_manager, role="tenant_admin", invitees=[("x@acme.test", None)]
        )
    assert "role" in refused.value.message_dict


def test_a_channel_manager_invites_into_their_own_partner_in_bulk(
    tenant, channel_manager, partner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant, channel_manager):
        issued = services.invitations_bulk_create(
            actor=channel_manager,
            role="partner_rep",
            invitees=[("One@Northwind.test", partner), ("two@northwind.test", partner)],
        )
    assert [one.invitation.email for one in issued] == ["one@northwind.test", "two@northwind.test"]
    assert sorted(m.to[0] for m in mail.outbox) == ["one@northwind.test", "two@northwind.test"]


def test_a_partner_taken_between_check_and_write_is_refused_by_the_service(tenant, tenant_admin):
    PartnerFactory(tenant=tenant, name="Late", domain="late.test")
    with tenant_context(tenant, tenant_admin), pytest.raises(services.RowsInvalid) as refused:
        services.partners_bulk_create(
            actor=tenant_admin, partners=[_new("Early", "early.test"), _new("LATE", "x.test")]
        )
    assert list(refused.value.errors_by_row) == [1]
