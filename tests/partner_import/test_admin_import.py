"""The import in the tenant's Django admin: the add page uploads, the change page shows the
status, the errors and the sample, and its Import button imports (all or nothing)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from partners.models import Invitation, Partner, PartnerImport
from partners.tenancy import tenant_context
from tests.factories import UserFactory
from tests.partner_import.conftest import csv_file, good_rows, latest_import
from tests.partners.html import text

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin/partners/partnerimport"


@pytest.fixture
def admin_client(login, tenant_admin, channel_manager, program):
    return login(tenant_admin)


def _post_file(client, jobs, text_: str, url=f"{ADMIN}/add/"):
    with jobs():
        return client.post(url, {"file": SimpleUploadedFile("p.csv", text_.encode(), "text/csv")})


def test_upload_preview_and_import_in_the_admin(admin_client, jobs, tenant, tenant_admin):
    add = admin_client.get(f"{ADMIN}/add/")
    assert add.status_code == 200
    assert 'type="file"' in add.content.decode()

    response = _post_file(admin_client, jobs, csv_file(good_rows()))
    job = latest_import(tenant)
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}/{job.pk}/change/"
    assert (job.status, job.created_by) == ("preview", tenant_admin.user)

    page = admin_client.get(f"{ADMIN}/{job.pk}/change/")
    assert page.status_code == 200
    content = text(page)
    assert "Ready to import" in content
    assert "Import 3 partners" in content
    assert "Fabrikam" in content  # the sample
    assert f'action="{ADMIN}/{job.pk}/commit/"' in page.content.decode()

    with jobs():
        response = admin_client.post(f"{ADMIN}/{job.pk}/commit/")
    assert response.status_code == 302
    assert latest_import(tenant).status == "done"
    with tenant_context(tenant):
        assert Partner.objects.filter(name__in=["Fabrikam", "Litware", "Proseware"]).count() == 3
        assert Invitation.objects.count() == 2
    assert len(mail.outbox) == 2
    done = text(admin_client.get(f"{ADMIN}/{job.pk}/change/"))
    assert "3 partners created, 2 partner admins invited." in done
    assert "Import 3 partners" not in done


def test_the_admin_lists_errors_and_refuses_to_import(admin_client, jobs, tenant):
    rows = [*good_rows(), {"name": "Fabrikam", "domain": "bad domain"}]
    _post_file(admin_client, jobs, csv_file(rows))
    job = latest_import(tenant)
    assert job.status == "invalid"
    page = text(admin_client.get(f"{ADMIN}/{job.pk}/change/"))
    assert "2 errors" in page
    assert "Row 2 has the same name." in page
    assert "Import 4 partners" not in page
    with jobs():
        response = admin_client.post(f"{ADMIN}/{job.pk}/commit/", follow=True)
    assert "Fix the errors in the file" in text(response)
    with tenant_context(tenant):
        assert not Partner.objects.filter(name="Fabrikam").exists()
    assert mail.outbox == []


def test_a_bad_file_is_a_form_error_in_the_admin(admin_client, jobs, tenant, monkeypatch):
    from partners import imports

    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    response = _post_file(admin_client, jobs, csv_file(good_rows()))
    assert response.status_code == 200  # the admin re-renders an invalid form
    assert "larger than" in text(response)
    with tenant_context(tenant):
        assert not PartnerImport.objects.exists()


def test_cancel_in_the_admin(admin_client, jobs, tenant):
    _post_file(admin_client, jobs, csv_file(good_rows()))
    job = latest_import(tenant)
    assert admin_client.post(f"{ADMIN}/{job.pk}/cancel/").status_code == 302
    assert latest_import(tenant).status == "cancelled"
    assert admin_client.get(f"{ADMIN}/{job.pk}/cancel/").status_code == 405


def test_import_rows_are_read_only_in_the_admin(admin_client, jobs, tenant):
    _post_file(admin_client, jobs, csv_file(good_rows()))
    job = latest_import(tenant)
    assert admin_client.post(f"{ADMIN}/{job.pk}/change/", {"filename": "x"}).status_code == 403
    assert admin_client.post(f"{ADMIN}/{job.pk}/delete/", {"post": "yes"}).status_code == 403
    assert latest_import(tenant).filename == "p.csv"


def test_other_tenants_imports_are_404_in_the_admin(
    admin_client, other_tenant, outsider, tenant, jobs
):
    with tenant_context(other_tenant):
        theirs = PartnerImport.objects.create(
            tenant=other_tenant, created_by=outsider.user, filename="globex.csv",
            content="name,domain\r\nA,a.test\r\n", status="preview", total_rows=1,
        )  # fmt: skip
    assert admin_client.get(f"{ADMIN}/{theirs.pk}/change/").status_code == 404
    assert admin_client.post(f"{ADMIN}/{theirs.pk}/commit/").status_code == 404
    assert admin_client.post(f"{ADMIN}/{theirs.pk}/cancel/").status_code == 404
    assert "globex.csv" not in admin_client.get(f"{ADMIN}/").content.decode()
    with tenant_context(other_tenant):
        assert PartnerImport.objects.get(pk=theirs.pk).status == "preview"


def test_operators_read_imports_but_import_only_from_a_tenants_admin(
    client, tenant, tenant_admin, channel_manager, program, jobs, login
):
    _post_file(login(tenant_admin), jobs, csv_file(good_rows()))
    job = latest_import(tenant)
    operator = UserFactory(email="ops@trellis.test", is_superuser=True, is_staff=True)
    client.force_login(operator, backend="partners.permissions.MembershipBackend")
    assert client.get("/admin/partners/partnerimport/").status_code == 200
    assert client.get(f"/admin/partners/partnerimport/{job.pk}/change/").status_code == 200
    assert client.get("/admin/partners/partnerimport/add/").status_code == 403
    assert client.post(f"/admin/partners/partnerimport/{job.pk}/commit/").status_code == 404
    assert latest_import(tenant).status == "preview"


def test_a_channel_manager_has_no_admin(login, channel_manager):
    response = login(channel_manager).get(f"{ADMIN}/add/")
    assert response.status_code in (302, 403)
