"""Export, then import into another program: the same rows come back."""

from __future__ import annotations

import csv
import io

import pytest

from partners import partner_csv
from partners.models import Competency, Invitation
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
