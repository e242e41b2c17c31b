"""Who may import: tenant admins (``partners.import_partner``). Channel managers and partner
users are refused (403); another tenant's member, and another tenant's import, are a 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from partners.models import Partner, PartnerImport
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory
from tests.partner_import.conftest import IMPORTS, csv_file, good_rows

pytestmark = pytest.mark.django_db


def _import(tenant, member, status="preview") -> PartnerImport:
    with tenant_context(tenant):
        return PartnerImport.objects.create(
            tenant=tenant,
            created_by=member.user,
            filename="partners.csv",
            content=csv_file(good_rows()[2:]),
            status=status,
            total_rows=1,
            processed_rows=1,
        )


def _urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", IMPORTS),
        ("post", IMPORTS),
        ("get", f"{IMPORTS}template.csv"),
        ("get", f"{IMPORTS}export.csv"),
        ("get", f"{IMPORTS}{pk}/"),
        ("get", f"{IMPORTS}{pk}/progress/"),
        ("get", f"{IMPORTS}{pk}/errors.csv"),
        ("post", f"{IMPORTS}{pk}/commit/"),
        ("post", f"{IMPORTS}{pk}/cancel/"),
    ]


def _statuses(client, pk: int) -> dict[str, int]:
    out = {}
    for method, url in _urls(pk):
        data = {"file": SimpleUploadedFile("p.csv", b"name,domain\r\nA,a.test\r\n")}
        response = getattr(client, method)(url, data) if method == "post" else client.get(url)
        out[f"{method} {url}"] = response.status_code
    return out


def _assert_untouched(tenant, job) -> None:
    with tenant_context(tenant):
        assert PartnerImport.objects.get(pk=job.pk).status == job.status
        assert PartnerImport.objects.count() == 1
        assert not Partner.objects.filter(name="Proseware").exists()


@pytest.mark.parametrize("role", ["channel_manager", "partner_admin", "partner_rep", "finance"])
def test_members_without_the_import_permission_are_refused(
    login, tenant, partner, tenant_admin, role
):
    job = _import(tenant, tenant_admin)
    extra = {"partner": partner} if role.startswith("partner_") else {}
    member = MembershipFactory(tenant=tenant, role=role, user__email=f"{role}@acme.test", **extra)
    statuses = _statuses(login(member), job.pk)
    assert set(statuses.values()) == {403}, statuses
    _assert_untouched(tenant, job)


def test_an_unassigned_channel_manager_is_refused_too(login, tenant, tenant_admin):
    job = _import(tenant, tenant_admin)
    loner = MembershipFactory(tenant=tenant, role="channel_manager", user__email="cm2@acme.test")
    assert set(_statuses(login(loner), job.pk).values()) == {403}
    _assert_untouched(tenant, job)


def test_a_member_of_another_tenant_gets_404_everywhere(login, tenant, tenant_admin, outsider):
    job = _import(tenant, tenant_admin)
    statuses = _statuses(login(outsider), job.pk)
    assert set(statuses.values()) == {404}, statuses
    _assert_untouched(tenant, job)


def test_another_tenants_import_is_a_404_for_a_tenant_admin(
    login, tenant, other_tenant, tenant_admin, outsider
):
    theirs = _import(other_tenant, outsider)
    client = login(tenant_admin)
    for method, url in _urls(theirs.pk)[4:]:
        assert getattr(client, method)(url).status_code == 404, url
    with tenant_context(other_tenant):
        assert PartnerImport.objects.get(pk=theirs.pk).status == "preview"
    with tenant_context(tenant):
        assert not PartnerImport.objects.exists()


def test_the_import_admin_sees_every_page(login, tenant, tenant_admin):
    job = _import(tenant, tenant_admin, status="invalid")
    client = login(tenant_admin)
    for _method, url in _urls(job.pk)[:7]:
        if _method == "get":
            assert client.get(url).status_code == 200, url
