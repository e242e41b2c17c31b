"""Every row's errors, with the row number a spreadsheet shows; header errors; the limits
of an upload. A file with errors is never imported, and nothing is written."""

from __future__ import annotations

import pytest
from django.core import mail

from partners import imports
from partners.models import Invitation, Partner, PartnerImport
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, PartnerFactory
from tests.partner_import.conftest import IMPORTS, csv_file, good_rows, latest_import
from tests.partners.html import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(login, tenant_admin, channel_manager, program):
    return login(tenant_admin)


def _errors(job) -> list[tuple[int, str]]:
    return [(e["row"], e["field"]) for e in job.errors]


def _snapshot(tenant):
    with tenant_context(tenant):
        return (
            sorted(Partner.objects.values_list("name", flat=True)),
            Invitation.objects.count(),
        )


def test_every_row_error_is_listed_with_its_row_and_the_import_is_refused(
    admin_client, upload, jobs, tenant, partner, partner_rep
):
    rows = [
        {"name": "Fabrikam", "domain": "fabrikam.test"},  # 2: fine
        {"name": "", "domain": "", "legal_name": "Nameless"},  # 3: both required
        {"name": "Kind", "domain": "kind.test", "partner_type": "wholesaler"},  # 4
        {"name": "Seg", "domain": "seg.test", "segment": "huge"},  # 5
        {"name": "Stat", "domain": "stat.test", "status": "dormant"},  # 6
        {"name": "Emp", "domain": "emp.test", "employee_count": "-3"},  # 7
        {"name": "Cap", "domain": "cap.test", "lead_capacity": "ten"},  # 8
        {"name": "Dom", "domain": "not a domain"},  # 9
        {"name": "fabrikam", "domain": "FABRIKAM.test"},  # 10: same name and domain as 2
        {"name": "Northwind", "domain": "www.northwind.test"},  # 11: existing partner
        {"name": "Tier", "domain": "tier.test", "tier": "Diamond"},  # 12
        {"name": "Comp", "domain": "comp.test", "competencies": "Cloud;Basket weaving"},  # 13
        {"name": "Mgr", "domain": "mgr.test", "managers": "rep@northwind.test;x@y.test"},  # 14
        {"name": "Mail", "domain": "mail.test", "admin_email": "not-an-email"},  # 15
        {"name": "Member", "domain": "member.test", "admin_email": "REP@northwind.test"},  # 16
        {"name": "Twice", "domain": "twice.test", "admin_email": "new@twice.test"},  # 17
        {"name": "Again", "domain": "again.test", "admin_email": "new@twice.test"},  # 18
        {"name": "Cc", "domain": "cc.test", "countries": "USA"},  # 19
        {"name": "x" * 201, "domain": "long.test"},  # 20
    ]
    before = _snapshot(tenant)
    upload(admin_client, csv_file(rows))
    job = latest_import(tenant)
    assert job.status == "invalid"
    assert job.total_rows == job.processed_rows == 19
    assert _errors(job) == [
        (3, "name"),
        (3, "domain"),
        (4, "partner_type"),
        (5, "segment"),
        (6, "status"),
        (7, "employee_count"),
        (8, "lead_capacity"),
        (9, "domain"),
        (10, "name"),
        (10, "domain"),
        (11, "name"),
        (11, "domain"),
        (12, "tier"),
        (13, "competencies"),
        (14, "managers"),
        (15, "admin_email"),
        (16, "admin_email"),
        (18, "admin_email"),
        (19, "countries"),
        (20, "name"),
    ]
    messages = {(e["row"], e["field"]): e["message"] for e in job.errors}
    assert messages[(10, "name")] == "Row 2 has the same name."
    assert messages[(11, "domain")] == "A partner with this domain already exists."
    assert "Basket weaving" in messages[(13, "competencies")]
    assert "rep@northwind.test" in messages[(14, "managers")]
    assert "x@y.test" in messages[(14, "managers")]
    assert messages[(16, "admin_email")] == "This person is already a member of this program."
    assert messages[(18, "admin_email")] == "Row 17 invites the same person."
    assert "Gold" in messages[(12, "tier")] and "Silver" in messages[(12, "tier")]

    page = admin_client.get(f"{IMPORTS}{job.pk}/")
    assert page.status_code == 200
    assert "20 errors" in text(page)
    assert "Import 19 partners" not in text(page)
    assert "Row 17 invites the same person." in text(page)

    with jobs():
        refused = admin_client.post(f"{IMPORTS}{job.pk}/commit/")
    assert refused.status_code == 400
    assert "nothing was imported" in text(refused)
    assert latest_import(tenant).status == "invalid"
    assert _snapshot(tenant) == before
    assert mail.outbox == []


def test_choices_are_read_by_value_or_label_in_any_case(admin_client, upload, tenant):
    rows = [
        {
            "name": "Label",
            "domain": "label.test",
            "partner_type": "Systems Integrator",
            "segment": "MID_MARKET",
            "status": "Applicant",
        }
    ]
    upload(admin_client, csv_file(rows))
    assert latest_import(tenant).status == "preview"


def test_a_header_without_a_required_column_is_one_error(admin_client, upload, tenant):
    columns = [c for c in imports.partner_csv.COLUMNS if c != "domain"]
    upload(admin_client, csv_file([{"name": "A"}, {"name": "B"}], columns=columns))
    job = latest_import(tenant)
    assert job.status == "invalid"
    assert _errors(job) == [(1, "domain")]
    assert job.errors[0]["message"] == "The header has no “domain” column."


def test_unknown_and_repeated_columns_are_header_errors(admin_client, upload, tenant):
    upload(admin_client, "name,domain,Notes,name\r\nA,a.test,x,A\r\n")
    job = latest_import(tenant)
    assert _errors(job) == [(1, "notes"), (1, "name")]


def test_a_file_with_only_some_columns_is_fine(admin_client, upload, tenant):
    upload(admin_client, "Domain , NAME\r\nlitware.test,Litware\r\n")
    job = latest_import(tenant)
    assert (job.status, job.errors) == ("preview", [])


def test_a_row_with_more_cells_than_the_header_is_an_error(admin_client, upload, tenant):
    upload(admin_client, "name,domain\r\nLitware,litware.test,surprise\r\n")
    assert _errors(latest_import(tenant)) == [(2, "")]


def test_a_header_without_rows_is_an_error(admin_client, upload, tenant):
    upload(admin_client, "name,domain\r\n")
    job = latest_import(tenant)
    assert job.status == "invalid"
    assert job.errors[0]["message"] == "The file has a header but no partner rows."


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The submitted file is empty."),
        (b"\r\n\r\n", "The file is empty."),
        ("name,domain\r\nCafé,cafe.test\r\n".encode("latin-1"), "not UTF-8"),
        (b"name,domain\x00\r\n", "not a CSV text file"),
        (b'name,domain\r\n"unterminated,x.test\r\n', None),
    ],
)
def test_files_that_are_not_utf8_csv_are_refused_with_a_form_error(
    admin_client, upload, tenant, data, message
):
    response = upload(admin_client, data)
    if message is None:  # the csv module reads an unterminated quote to the end: one row
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert message in text(response)
    with tenant_context(tenant):
        assert not PartnerImport.objects.exists()


def test_a_file_over_the_size_limit_is_refused(admin_client, upload, tenant, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 1024)
    response = upload(admin_client, csv_file(good_rows() * 10))
    assert response.status_code == 400
    assert "larger than" in text(response)
    with tenant_context(tenant):
        assert not PartnerImport.objects.exists()


def test_a_file_over_the_row_limit_is_refused(admin_client, upload, tenant, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    response = upload(admin_client, csv_file(good_rows()))
    assert response.status_code == 400
    assert "3 partner rows; at most 2" in text(response)
    with tenant_context(tenant):
        assert not PartnerImport.objects.exists()
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    assert upload(admin_client, csv_file(good_rows())).status_code == 302


def test_posting_without_a_file_is_a_form_error(admin_client, tenant):
    response = admin_client.post(IMPORTS, {})
    assert response.status_code == 400
    assert "This field is required." in text(response)


def test_an_email_invited_but_not_yet_a_member_can_be_invited_again(
    admin_client, upload, tenant, tenant_admin, invite_pending
):
    upload(admin_client, csv_file([{"name": "L", "domain": "l.test", "admin_email": "p@l.test"}]))
    assert latest_import(tenant).errors == []


@pytest.fixture
def invite_pending(tenant, tenant_admin):
    from partners import services

    with tenant_context(tenant, tenant_admin):
        services.invitation_create(actor=tenant_admin, email="p@l.test", role="finance")


def test_inactive_managers_are_not_managers(admin_client, upload, tenant):
    MembershipFactory(
        tenant=tenant, role="channel_manager", user__email="gone@acme.test", is_active=False
    )
    upload(
        admin_client, csv_file([{"name": "L", "domain": "l.test", "managers": "gone@acme.test"}])
    )
    assert _errors(latest_import(tenant)) == [(2, "managers")]


def test_another_tenants_partners_do_not_count_as_duplicates(
    admin_client, upload, tenant, other_tenant
):
    PartnerFactory(tenant=other_tenant, name="Litware", domain="litware.test")
    upload(admin_client, csv_file([{"name": "Litware", "domain": "litware.test"}]))
    assert latest_import(tenant).status == "preview"
