"""The commit is all or nothing: a failure anywhere writes no partner, no invitation and
sends no email, and the import ends failed with the reason. Progress, cancel, re-runs."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import IntegrityError

from partners import imports, services, tasks
from partners.models import Invitation, Partner, PartnerImport
from partners.tenancy import tenant_context
from partners.tiers import TierChange
from tests.factories import MembershipFactory, PartnerFactory
from tests.partner_import.conftest import IMPORTS, csv_file, good_rows, latest_import
from tests.partners.html import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(login, tenant_admin, channel_manager, program):
    return login(tenant_admin)


@pytest.fixture
def previewed(admin_client, upload, tenant):
    """An import of the good rows, checked and waiting for Import."""
    upload(admin_client, csv_file(good_rows()))
    job = latest_import(tenant)
    assert job.status == "preview"
    return job


def _nothing_written(tenant) -> None:
    with tenant_context(tenant):
        assert sorted(Partner.objects.values_list("name", flat=True)) == ["Northwind"]
        assert not Invitation.objects.exists()
        assert not TierChange.objects.exists()
    assert mail.outbox == []


def test_a_failure_midway_rolls_back_every_row_already_made(
    admin_client, previewed, jobs, tenant, monkeypatch
):
    monkeypatch.setattr(imports, "COMMIT_BATCH", 1)
    real = services.invitations_bulk_create
    calls = []

    def failing_on_the_second_invitation(**kwargs):
        calls.append([email for email, _partner in kwargs["invitees"]])
        if len(calls) == 2:  # the second row's invitation: the first row is already in
            raise services.ValidationError({"email": "The mail server said no."})
        return real(**kwargs)

    monkeypatch.setattr(services, "invitations_bulk_create", failing_on_the_second_invitation)
    with jobs():
        admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    assert calls == [["boss@fabrikam.com"], ["owner@litware.test"]]
    job = latest_import(tenant)
    assert job.status == "failed"
    assert job.errors == [{"row": 0, "field": "email", "message": "The mail server said no."}]
    assert (job.created_count, job.invited_count, job.processed_rows) == (0, 0, 0)
    _nothing_written(tenant)
    page = text(admin_client.get(f"{IMPORTS}{previewed.pk}/"))
    assert "The import failed and nothing was imported" in page
    assert "The mail server said no." in page


def _member_joins(tenant) -> None:
    MembershipFactory(tenant=tenant, role="finance", user__email="Owner@Litware.test")


def _domain_taken(tenant) -> None:
    PartnerFactory(tenant=tenant, name="Proseware Inc", domain="proseware.test")


@pytest.mark.parametrize(
    ("service", "meanwhile", "error"),
    [
        (
            "invitations_bulk_create",
            _member_joins,
            {
                "row": 3,
                "field": "admin_email",
                "message": "This person is already a member of this tenant.",
            },
        ),
        (
            "partners_bulk_create",
            _domain_taken,
            {
                "row": 4,
                "field": "domain",
                "message": "Another partner of this program has this domain.",
            },
        ),
    ],
)
def test_a_row_the_services_refuse_as_they_write_fails_the_import_at_that_row(
    admin_client, previewed, jobs, tenant, monkeypatch, service, meanwhile, error
):
    """The services check the rows again as they write them (the tenant changed after the
    commit's own check); their refusal names the file's row and column."""
    real = getattr(services, service)

    def changed_just_before(**kwargs):
        meanwhile(tenant)
        return real(**kwargs)

    monkeypatch.setattr(services, service, changed_just_before)
    with jobs():
        admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    job = latest_import(tenant)
    assert (job.status, job.errors) == ("failed", [error])
    with tenant_context(tenant):
        assert not Partner.objects.filter(name__in=["Fabrikam", "Litware"]).exists()
        assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_an_unexpected_error_mid_commit_rolls_back_and_says_so(
    admin_client, previewed, jobs, tenant, monkeypatch
):
    monkeypatch.setattr(imports, "COMMIT_BATCH", 1)
    real = services.partners_bulk_create
    made = []

    def breaking_on_the_last_row(**kwargs):
        names = [new.name for new in kwargs["partners"]]
        made.extend(names)
        if "Proseware" in names:
            raise IntegrityError("connection hiccup")
        return real(**kwargs)

    monkeypatch.setattr(services, "partners_bulk_create", breaking_on_the_last_row)
    with jobs():
        admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    job = latest_import(tenant)
    assert made == ["Fabrikam", "Litware", "Proseware"]
    assert job.status == "failed"
    assert job.errors[0]["message"] == "The import failed (IntegrityError); nothing was imported."
    _nothing_written(tenant)


def test_a_domain_taken_between_preview_and_commit_fails_the_whole_import(
    admin_client, previewed, jobs, tenant
):
    PartnerFactory(tenant=tenant, name="Proseware Inc", domain="proseware.test")
    with jobs():
        admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    job = latest_import(tenant)
    assert job.status == "failed"
    assert job.errors == [
        {"row": 4, "field": "domain", "message": "A partner with this domain already exists."}
    ]
    with tenant_context(tenant):
        assert not Partner.objects.filter(name__in=["Fabrikam", "Litware"]).exists()
        assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_a_second_import_press_is_refused_and_a_rerun_job_does_nothing(
    admin_client, previewed, jobs, tenant, tenant_admin
):
    with jobs():
        admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    assert latest_import(tenant).status == "done"
    again = admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    assert again.status_code == 400
    with jobs():  # the job delivered twice: finds the import done, changes nothing
        tasks.commit_partner_import.delay(tenant.pk, previewed.pk, tenant_admin.pk)
    with tenant_context(tenant):
        assert Partner.objects.count() == 4
        assert Invitation.objects.count() == 2
    assert len(mail.outbox) == 2


def test_the_commit_stops_when_cancelled_and_writes_nothing(
    admin_client, previewed, jobs, tenant, monkeypatch
):
    monkeypatch.setattr(imports, "COMMIT_BATCH", 1)
    real = services.partners_bulk_create
    batches = []

    def cancel_after_the_first(**kwargs):
        batches.append(len(kwargs["partners"]))
        partners = real(**kwargs)
        with tenant_context(tenant):
            job = PartnerImport.objects.get(pk=previewed.pk)
        # the Cancel button, pressed while the job runs (the row is locked: the cache)
        cache.set(imports._cancel_key(job, tenant.pk), True)
        return partners

    monkeypatch.setattr(services, "partners_bulk_create", cancel_after_the_first)
    with jobs():
        admin_client.post(f"{IMPORTS}{previewed.pk}/commit/")
    assert batches == [1]  # stopped after the first batch
    assert latest_import(tenant).status == "cancelled"
    _nothing_written(tenant)


def test_cancel_while_importing_asks_the_job_through_the_cache(
    admin_client, previewed, tenant, tenant_admin
):
    with tenant_context(tenant, tenant_admin):
        job = imports.partner_import_commit_request(actor=tenant_admin, job=previewed)
    assert job.status == "importing"
    response = admin_client.post(f"{IMPORTS}{job.pk}/cancel/")
    assert response.status_code == 302
    assert imports.cancel_requested(latest_import(tenant))
    page = text(admin_client.get(f"{IMPORTS}{job.pk}/"))
    assert "Cancelling" in page


def test_progress_of_the_check_is_saved_on_the_row_every_few_rows(
    admin_client, upload, tenant, monkeypatch
):
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    seen = []
    real = imports._RowChecker.check

    def check(self, number, columns, cells):
        seen.append(PartnerImport.objects.get().processed_rows)
        return real(self, number, columns, cells)

    monkeypatch.setattr(imports._RowChecker, "check", check)
    rows = [{"name": f"P{n}", "domain": f"p{n}.test"} for n in range(5)]
    upload(admin_client, csv_file(rows))
    assert seen == [0, 0, 2, 2, 4]
    job = latest_import(tenant)
    assert (job.processed_rows, job.total_rows) == (5, 5)


def test_progress_of_the_commit_is_kept_in_the_cache(
    admin_client, upload, jobs, tenant, monkeypatch
):
    monkeypatch.setattr(imports, "COMMIT_BATCH", 2)
    rows = [{"name": f"P{n}", "domain": f"p{n}.test"} for n in range(5)]
    upload(admin_client, csv_file(rows))
    job = latest_import(tenant)
    seen = []
    real = services.partners_bulk_create

    def create(**kwargs):
        with tenant_context(tenant):
            current = PartnerImport.objects.get(pk=job.pk)
        seen.append((imports.partner_import_progress(current), len(kwargs["partners"])))
        return real(**kwargs)

    monkeypatch.setattr(services, "partners_bulk_create", create)
    with jobs():
        admin_client.post(f"{IMPORTS}{job.pk}/commit/")
    assert [(p.processed, batch) for p, batch in seen] == [(0, 2), (2, 2), (4, 1)]
    assert {p.total for p, _batch in seen} == {5}
    done = latest_import(tenant)
    assert imports.partner_import_progress(done).processed == 5
    assert cache.get(imports._progress_key(done, tenant.pk)) is None  # cleaned up


def test_the_progress_fragment_reads_the_cache_while_importing(
    admin_client, previewed, tenant, tenant_admin
):
    with tenant_context(tenant, tenant_admin):
        imports.partner_import_commit_request(actor=tenant_admin, job=previewed)
    url = f"{IMPORTS}{previewed.pk}/progress/"
    assert "Imported 0 of 3 rows." in text(admin_client.get(url))
    cache.set(imports._progress_key(previewed, tenant.pk), 2)
    fragment = admin_client.get(url, {"seen": "importing"})
    assert "Imported 2 of 3 rows." in text(fragment)
    assert 'value="2"' in fragment.content.decode()
    cache.clear()  # no cache: the row's count
    assert "Imported 0 of 3 rows." in text(admin_client.get(url))


def test_the_import_runs_as_the_member_who_pressed_import(
    admin_client, previewed, jobs, tenant, tenant_admin
):
    """An import admin who has lost the role by the time the job runs imports nothing."""
    with tenant_context(tenant, tenant_admin):
        imports.partner_import_commit_request(actor=tenant_admin, job=previewed)
        tenant_admin.role = "channel_manager"
        tenant_admin.save()
    with jobs():
        tasks.commit_partner_import.delay(tenant.pk, previewed.pk, tenant_admin.pk)
    job = latest_import(tenant)
    assert job.status == "failed"
    assert job.errors[0]["message"] == "Your role does not allow this."
    _nothing_written(tenant)
