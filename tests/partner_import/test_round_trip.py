"""Export, then import into another program: the same rows come back."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partners import partner_csv, services
from partners.models import Competency, Invitation, Partner
from partners.tenancy import tenant_context
from partners.tiers import Tier
from tests.factories import MembershipFactory
from tests.partner_import.conftest import IMPORTS, csv_file, good_rows, latest_import

pytestmark = pytest.mark.django_db

GLOBEX_IMPORTS = IMPORTS.replace("/t/acme/", "/t/globex/")
ADMIN_COLUMNS = 2  # admin_email, admin_name: members on export, invitations on import


def _rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_an_export_imports_into_another_tenant_as_the_same_rows(
    login,
    upload,
    jobs,
    tenant,
    other_tenant,
    tenant_admin,
    channel_manager,
    program,
    outsider,
    partner_admin,
):
    acme = login(tenant_admin)
    upload(acme, csv_file(good_rows()))
    with jobs():
        acme.post(f"{IMPORTS}{latest_import(tenant).pk}/commit/")
    exported = acme.get(f"{IMPORTS}export.csv")
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    acme_rows = _rows(exported)
    assert acme_rows[0] == list(partner_csv.COLUMNS)
    assert [row[0] for row in acme_rows[1:]] == ["Fabrikam", "Litware", "Northwind", "Proseware"]
    # Northwind's partner admin is a member: exported; the invited ones are not members yet.
    assert [row[13] for row in acme_rows[1:]] == ["", "", "padmin@northwind.test", ""]

    # Globex has the same tiers and competencies, and the same manager on its staff.
    with tenant_context(other_tenant):
        for rank, name in ((1, "Silver"), (2, "Gold")):
            Tier.objects.create(tenant=other_tenant, rank=rank, name=name)
        for name in ("Cloud", "Security"):
            Competency.objects.create(tenant=other_tenant, name=name)
    MembershipFactory(tenant=other_tenant, role="channel_manager", user=channel_manager.user)
    globex = login(outsider)
    upload(globex, partner_csv.to_csv_text(acme_rows), url=GLOBEX_IMPORTS)
    job = latest_import(other_tenant)
    assert (job.status, job.errors) == ("preview", [])
    with jobs():
        globex.post(f"{GLOBEX_IMPORTS}{job.pk}/commit/")
    assert latest_import(other_tenant).status == "done"

    globex_rows = _rows(globex.get(f"{GLOBEX_IMPORTS}export.csv"))
    cut = -ADMIN_COLUMNS
    assert [row[:cut] for row in globex_rows] == [row[:cut] for row in acme_rows]
    with tenant_context(other_tenant):
        invited = {(i.email, i.partner.name) for i in Invitation.objects.select_related("partner")}
    assert invited == {("padmin@northwind.test", "Northwind")}


def test_the_export_is_for_import_admins_only(login, channel_manager, partner_admin):
    assert login(channel_manager).get(f"{IMPORTS}export.csv").status_code == 403
    assert login(partner_admin).get(f"{IMPORTS}export.csv").status_code == 403


def test_cells_a_spreadsheet_would_run_export_as_text_and_import_as_they_were(
    login, upload, jobs, tenant, other_tenant, tenant_admin, outsider, partner
):
    formula = '=HYPERLINK("http://evil.test","click")'
    with tenant_context(tenant, tenant_admin):
        services.partner_create(
            actor=tenant_admin,
            name=formula,
            domain="formula.test",
            legal_name="+1 Holdings",
            regions=["-EMEA", "@APAC", "Plain"],
        )
    MembershipFactory(
        tenant=tenant,
        role="partner_admin",
        partner=partner,
        user__email="padmin@northwind.test",
        user__full_name="@SUM(1+1)",
    )
    exported = _rows(login(tenant_admin).get(f"{IMPORTS}export.csv"))
    by_name = {row[0]: row for row in exported[1:]}
    guarded = by_name["'" + formula]
    assert guarded[1] == "'+1 Holdings"
    assert guarded[8] == "'-EMEA;@APAC;Plain"
    assert by_name["Northwind"][14] == "'@SUM(1+1)"
    assert not any(cell.startswith(partner_csv.FORMULA_STARTS) for row in exported for cell in row)

    globex = login(outsider)
    upload(globex, partner_csv.to_csv_text(exported), url=GLOBEX_IMPORTS)
    job = latest_import(other_tenant)
    assert (job.status, job.errors) == ("preview", [])
    preview = globex.get(f"{GLOBEX_IMPORTS}{job.pk}/").content.decode()
    assert "HYPERLINK" in preview and "&#x27;=HYPERLINK" not in preview
    with jobs():
        globex.post(f"{GLOBEX_IMPORTS}{job.pk}/commit/")
    with tenant_context(other_tenant):
        imported = Partner.objects.get(domain="formula.test")
    assert (imported.name, imported.legal_name, imported.regions) == (
        formula,
        "+1 Holdings",
        ["-EMEA", "@APAC", "Plain"],
    )


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("'=1+1", "=1+1"),
        ("'+1", "+1"),
        ("'-1", "-1"),
        ("'@x", "@x"),
        ("'\tx", "\tx"),
        ("'\rx", "\rx"),
        ("'quoted'", "'quoted'"),  # an apostrophe the export did not add stays
        ("''=x", "''=x"),
        ("'", "'"),
        ("=x", "=x"),  # a file someone else wrote: taken as it is
    ],
)
def test_the_import_takes_off_only_the_apostrophe_the_export_puts_in_front(cell, value):
    assert partner_csv.formula_unguarded(cell) == value


@given(st.text())
def test_a_guarded_cell_never_starts_a_formula_and_reads_back_as_it_was(value):
    cell = partner_csv.formula_safe(value)
    assert not cell.startswith(partner_csv.FORMULA_STARTS)
    if not (value.startswith("'") and value[1:].startswith(partner_csv.FORMULA_STARTS)):
        assert partner_csv.formula_unguarded(cell) == value
