"""The import through the staff console: upload, check, preview, import, and what it made."""

from __future__ import annotations

import pytest
from django.core import mail

from partners import partner_csv
from partners.models import Invitation, Partner, PartnerImport, PartnerStatusChange
from partners.selectors import partner_managers
from partners.tenancy import tenant_context
from partners.tiers import TierChange
from tests.partner_import.conftest import IMPORTS, csv_file, good_rows, latest_import
from tests.partners.html import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(login, tenant_admin, channel_manager, program):
    return login(tenant_admin)


def test_a_valid_file_is_checked_previewed_and_imported_with_invitations(
    admin_client, upload, jobs, tenant, tenant_admin, program
):
    response = upload(admin_client, csv_file(good_rows()))
    job = latest_import(tenant)
    assert response.status_code == 302
    assert response["Location"] == f"{IMPORTS}{job.pk}/".replace("/t/acme", "/t/acme")
    assert job.status == "preview"
    assert (job.total_rows, job.processed_rows, job.errors) == (3, 3, [])
    assert job.created_by == tenant_admin.user

    preview = admin_client.get(f"{IMPORTS}{job.pk}/")
    assert preview.status_code == 200
    page = text(preview)
    assert "Import 3 partners" in page
    assert "Fabrikam" in page and "Proseware" in page  # the sample of valid rows
    with tenant_context(tenant):
        assert not Partner.objects.filter(name="Fabrikam").exists()  # nothing before Import

    with jobs():
        response = admin_client.post(f"{IMPORTS}{job.pk}/commit/")
    assert response.status_code == 302
    job = latest_import(tenant)
    assert job.status == "done"
    assert (job.created_count, job.invited_count) == (3, 2)
    assert job.finished_at is not None

    with tenant_context(tenant):
        fabrikam = Partner.objects.get(name="Fabrikam")
        assert fabrikam.domain == "fabrikam.com"
        assert fabrikam.legal_name == "Fabrikam Ltd"
        assert fabrikam.partner_type == "distributor"
        assert fabrikam.segment == "enterprise"
        assert fabrikam.employee_count == 250
        assert fabrikam.countries == ["DE", "US"]
        assert fabrikam.regions == ["EMEA", "North America"]
        assert fabrikam.competencies == ["Cloud", "Security"]
        assert fabrikam.lead_capacity == 20
        assert fabrikam.tier == program["Gold"]
        assert TierChange.objects.filter(partner=fabrikam, to_tier=program["Gold"]).exists()
        managers = partner_managers(partner_ids=[fabrikam.pk])[fabrikam.pk]
        assert [u.email for u in managers] == ["manager@acme.test"]
        litware = Partner.objects.get(name="Litware")
        assert (litware.status, litware.partner_type) == ("onboarding", "msp")
        assert PartnerStatusChange.objects.filter(partner=litware, to_status="onboarding").exists()
        proseware = Partner.objects.get(name="Proseware")
        assert (proseware.status, proseware.partner_type, proseware.tier) == (
            "active",
            "reseller",
            None,
        )
        invitations = {
            i.email: (i.role, i.partner.name, i.invited_by)
            for i in Invitation.objects.select_related("partner")
        }
    assert invitations == {
        "boss@fabrikam.com": ("partner_admin", "Fabrikam", tenant_admin.user),
        "owner@litware.test": ("partner_admin", "Litware", tenant_admin.user),
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["boss@fabrikam.com", "owner@litware.test"]

    done = text(admin_client.get(f"{IMPORTS}{job.pk}/"))
    assert "3 partners created, 2 partner admins invited" in done


def test_the_upload_page_lists_recent_imports_and_offers_the_template_and_export(
    admin_client, upload, tenant
):
    upload(admin_client, csv_file(good_rows()), filename="first-batch.csv")
    page = admin_client.get(IMPORTS)
    assert page.status_code == 200
    assert "first-batch.csv" in text(page)
    content = page.content.decode()
    assert f"{IMPORTS}template.csv" in content
    assert f"{IMPORTS}export.csv" in content


def test_the_template_is_the_header_of_the_format(admin_client):
    response = admin_client.get(f"{IMPORTS}template.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == ",".join(partner_csv.COLUMNS) + "\r\n"


def test_a_file_with_a_byte_order_mark_is_read(admin_client, upload, tenant):
    data = "\ufeff".encode() + csv_file(good_rows()).encode()
    upload(admin_client, data)
    job = latest_import(tenant)
    assert (job.status, job.errors, job.total_rows) == ("preview", [], 3)
    assert not job.content.startswith("\ufeff")


def test_blank_lines_are_skipped_but_keep_the_row_numbers(admin_client, upload, tenant):
    lines = csv_file([{"name": "Litware", "domain": "litware.test"}]).splitlines()
    text_ = "\r\n".join([lines[0], "", lines[1], ",,,", "Bad,not a domain"]) + "\r\n"
    upload(admin_client, text_)
    job = latest_import(tenant)
    assert job.total_rows == 2
    assert [(e["row"], e["field"]) for e in job.errors] == [(5, "domain")]


def test_the_progress_fragment_asks_the_page_to_reload_once_the_status_moved_on(
    admin_client, upload, tenant
):
    upload(admin_client, csv_file(good_rows()))
    job = latest_import(tenant)
    url = f"{IMPORTS}{job.pk}/progress/"
    moved = admin_client.get(url, {"seen": "validating"}, HTTP_HX_REQUEST="true")
    assert moved.status_code == 200
    assert moved["HX-Refresh"] == "true"
    same = admin_client.get(url, {"seen": "preview"}, HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in same
    assert "hx-trigger" not in same.content.decode()  # nothing left to poll


def test_a_page_in_progress_polls_its_progress_fragment(admin_client, tenant, tenant_admin):
    with tenant_context(tenant):
        job = PartnerImport.objects.create(
            tenant=tenant,
            created_by=tenant_admin.user,
            filename="big.csv",
            content=csv_file(good_rows()),
            total_rows=3,
            processed_rows=1,
        )
    page = admin_client.get(f"{IMPORTS}{job.pk}/")
    content = page.content.decode()
    assert f'hx-get="{IMPORTS}{job.pk}/progress/?seen=validating"' in content
    assert 'hx-trigger="every 1s"' in content
    assert "Checked 1 of 3 rows." in text(page)
    assert "<progress" in content


def test_cancelling_a_previewed_import_leaves_nothing_to_import(admin_client, upload, tenant):
    upload(admin_client, csv_file(good_rows()))
    job = latest_import(tenant)
    assert admin_client.post(f"{IMPORTS}{job.pk}/cancel/").status_code == 302
    assert latest_import(tenant).status == "cancelled"
    refused = admin_client.post(f"{IMPORTS}{job.pk}/commit/")
    assert refused.status_code == 400
    assert latest_import(tenant).status == "cancelled"
    with tenant_context(tenant):
        assert not Partner.objects.filter(name="Fabrikam").exists()
    # and a cancelled import cannot be cancelled again
    assert admin_client.post(f"{IMPORTS}{job.pk}/cancel/").status_code == 400


def test_commit_and_cancel_answer_only_post(admin_client, upload, tenant):
    upload(admin_client, csv_file(good_rows()))
    job = latest_import(tenant)
    assert admin_client.get(f"{IMPORTS}{job.pk}/commit/").status_code == 405
    assert admin_client.get(f"{IMPORTS}{job.pk}/cancel/").status_code == 405
    assert latest_import(tenant).status == "preview"


def test_the_errors_download_lists_every_error(admin_client, upload, tenant):
    upload(admin_client, csv_file([{"name": "", "domain": "x"}, {"name": "Ok", "domain": ""}]))
    job = latest_import(tenant)
    response = admin_client.get(f"{IMPORTS}{job.pk}/errors.csv")
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0] == "row,column,message"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["2", "name"],
        ["2", "domain"],
        ["3", "domain"],
    ]
