"""The partner directory of the staff console: search, filters, sort, pages, the CSV export
in the bulk import's format, who sees which partners, and queries that do not grow."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners import partner_csv
from partners.models import Partner
from partners.tenancy import tenant_context
from tests.conftest import assign_partner_manager
from tests.factories import PartnerFactory
from tests.partner_console.conftest import BASE, read_csv
from tests.partners.html import main_nav, parse, text

pytestmark = pytest.mark.django_db


def listed(response) -> list[str]:
    """The partner names of the directory's rows, in order."""
    page = parse(response)
    names, in_row = [], False
    for tag, attrs in page.tags:
        if tag == "tr" and "data-partner-id" in attrs:
            in_row = True
        elif tag == "a" and in_row:
            names.append(attrs["href"])
            in_row = False
    return names


def names_of(response, tenant) -> list[str]:
    ids = [int(href.rstrip("/").rsplit("/", 1)[1]) for href in listed(response)]
    with tenant_context(tenant):
        by_id = dict(Partner.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [by_id[i] for i in ids]


@pytest.fixture
def program(tenant, partner, contoso, tiers, competencies, tenant_admin):
    """Northwind (gold, DE, EMEA, Cloud, reseller), Contoso (no tier, US, Security, MSP,
    suspended), Fabrikam (silver, FR, EMEA, distributor, enterprise)."""
    with tenant_context(tenant):
        Partner.objects.filter(pk=partner.pk).update(
            tier=tiers["gold"],
            countries=["DE"],
            regions=["EMEA"],
            competencies=["Cloud"],
            partner_type="reseller",
            segment="smb",
        )
        Partner.objects.filter(pk=contoso.pk).update(
            countries=["US"], regions=["Americas"], competencies=["Security"],
            partner_type="msp", status="suspended", segment="mid_market",
        )  # fmt: skip
    fabrikam = PartnerFactory(
        tenant=tenant, name="Fabrikam", domain="fabrikam.example", tier=tiers["silver"],
        countries=["FR"], regions=["EMEA"], partner_type="distributor", segment="enterprise",
    )  # fmt: skip
    assign_partner_manager(tenant_admin, fabrikam)
    return {"northwind": partner, "contoso": contoso, "fabrikam": fabrikam}


def test_tenant_admin_sees_every_partner_with_its_columns(login, tenant, tenant_admin, program):
    response = login(tenant_admin).get(BASE)
    assert response.status_code == 200
    assert names_of(response, tenant) == ["Contoso", "Fabrikam", "Northwind"]
    page = text(response)
    for expected in ("Gold", "Silver", "No tier", "Distributor", "Suspended", "FR", "DE"):
        assert expected in page
    assert tenant_admin.user.full_name in page  # Fabrikam's manager
    assert "3 partners" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=north", ["Northwind"]),
        ("q=fabrikam.example", ["Fabrikam"]),
        ("tier=0", ["Contoso"]),
        ("status=suspended", ["Contoso"]),
        ("status=active&status=suspended", ["Contoso", "Fabrikam", "Northwind"]),
        ("partner_type=msp&partner_type=distributor", ["Contoso", "Fabrikam"]),
        ("segment=enterprise", ["Fabrikam"]),
        ("region=EMEA", ["Fabrikam", "Northwind"]),
        ("country=de", ["Northwind"]),
        ("competency=Security", ["Contoso"]),
        ("sort=-name", ["Northwind", "Fabrikam", "Contoso"]),
        ("sort=-tier", ["Northwind", "Fabrikam", "Contoso"]),
        ("sort=type", ["Fabrikam", "Contoso", "Northwind"]),
    ],
)
def test_directory_filters_and_sorts(login, tenant, tenant_admin, program, query, expected):
    response = login(tenant_admin).get(f"{BASE}?{query}")
    assert response.status_code == 200
    assert names_of(response, tenant) == expected


def test_tier_filter_takes_tier_ids(login, tenant, tenant_admin, program, tiers):
    client = login(tenant_admin)
    response = client.get(BASE, {"tier": [tiers["gold"].pk, "0"]})
    assert names_of(response, tenant) == ["Contoso", "Northwind"]


def test_manager_filter_lists_the_partners_of_that_manager(
    login, tenant, tenant_admin, channel_manager, program
):
    client = login(tenant_admin)
    response = client.get(BASE, {"manager": channel_manager.user_id})
    assert names_of(response, tenant) == ["Northwind"]
    response = client.get(BASE, {"manager": tenant_admin.user_id})
    assert names_of(response, tenant) == ["Fabrikam"]


@pytest.mark.parametrize(
    "query",
    ["status=sleeping", "tier=banana", "country=Germany", "competency=Knitting", "manager=x",
     "sort=shoe-size", "partner_type=pirate", "region=Atlantis", "manager=999999"],
)  # fmt: skip
def test_bad_filter_values_answer_400_with_the_error_on_the_form(
    login, tenant_admin, program, query
):
    response = login(tenant_admin).get(f"{BASE}?{query}")
    assert response.status_code == 400
    assert listed(response) == []
    assert 'class="field-error"' in response.content.decode()
    assert "Correct the filters above" in text(response)
    export = login(tenant_admin).get(f"{BASE}export.csv?{query}")
    assert export.status_code == 400


def test_directory_pages_by_25(login, tenant, tenant_admin):
    for n in range(30):
        PartnerFactory(tenant=tenant, name=f"Partner {n:02d}", domain=f"p{n:02d}.example")
    client = login(tenant_admin)
    first = client.get(BASE)
    assert len(listed(first)) == 25
    assert "Page 1 of 2" in text(first)
    second = client.get(BASE, {"page": 2})
    assert names_of(second, tenant) == [f"Partner {n:02d}" for n in range(25, 30)]
    assert client.get(BASE, {"page": "nonsense"}).status_code == 200


def test_column_headings_toggle_the_sort(login, tenant_admin, program):
    response = login(tenant_admin).get(BASE, {"sort": "name", "status": "active"})
    html = response.content.decode()
    assert 'aria-sort="ascending"' in html
    assert "?sort=-name&amp;status=active" in html


def test_htmx_filter_change_renders_only_the_results(login, tenant, tenant_admin, program):
    response = login(tenant_admin).get(
        BASE, {"q": "north"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="partner-results"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="partner-results"')
    assert names_of(response, tenant) == ["Northwind"]


# ---------------------------------------------------------------- who sees whom


def test_channel_manager_sees_only_assigned_partners(login, tenant, channel_manager, program):
    response = login(channel_manager).get(BASE)
    assert response.status_code == 200
    assert names_of(response, tenant) == ["Northwind"]
    assert "The partner organizations assigned to you" in text(response)
    # Filtering by another manager does not widen the view.
    response = login(channel_manager).get(BASE, {"q": "o"})  # Contoso matches too
    assert names_of(response, tenant) == ["Northwind"]


def test_unassigned_channel_manager_sees_an_empty_directory(login, other_manager, program):
    response = login(other_manager).get(BASE)
    assert response.status_code == 200
    assert listed(response) == []
    _header, rows = read_csv(login(other_manager).get(f"{BASE}export.csv"))
    assert rows == []


def test_finance_reads_the_whole_directory(login, tenant, finance, program):
    response = login(finance).get(BASE)
    assert names_of(response, tenant) == ["Contoso", "Fabrikam", "Northwind"]
    assert "Add a partner" not in text(response)


def test_partner_users_cannot_open_the_directory(login, partner_admin, partner_rep):
    for membership in (partner_admin, partner_rep):
        client = login(membership)
        assert client.get(BASE).status_code == 403
        assert client.get(f"{BASE}export.csv").status_code == 403


def test_another_tenants_member_gets_404(login, outsider, program):
    client = login(outsider)
    assert client.get(BASE).status_code == 404
    assert client.get(f"{BASE}export.csv").status_code == 404


def test_the_main_navigation_links_the_directory_for_staff_only(
    login, tenant_admin, channel_manager, finance, partner_admin
):
    for staff in (tenant_admin, channel_manager, finance):
        assert main_nav(login(staff).get("/t/acme/console/"))["Partners"] == BASE
    assert "Partners" not in main_nav(login(partner_admin).get("/t/acme/portal/"))


# ---------------------------------------------------------------- CSV export


def test_csv_export_has_the_import_format_and_the_filters(
    login, tenant, tenant_admin, channel_manager, partner_admin, program, tiers
):
    response = login(tenant_admin).get(f"{BASE}export.csv", {"region": "EMEA", "sort": "-name"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, rows = read_csv(response)
    assert header == list(partner_csv.COLUMNS)
    assert [row["name"] for row in rows] == ["Northwind", "Fabrikam"]
    northwind = rows[0]
    assert northwind["domain"] == "northwind.test"
    assert northwind["tier"] == "Gold"
    assert northwind["countries"] == "DE"
    assert northwind["competencies"] == "Cloud"
    assert northwind["managers"] == channel_manager.user.email
    assert northwind["admin_email"] == partner_admin.user.email
    assert rows[1]["managers"] == tenant_admin.user.email


def test_channel_manager_exports_only_assigned_partners(login, channel_manager, program):
    _header, rows = read_csv(login(channel_manager).get(f"{BASE}export.csv"))
    assert [row["name"] for row in rows] == ["Northwind"]


def test_the_directory_links_the_export_with_its_filters(login, tenant_admin, program):
    html = login(tenant_admin).get(BASE, {"status": "active", "page": 1}).content.decode()
    assert f'href="{BASE}export.csv?status=active"' in html


# ---------------------------------------------------------------- queries


def _count_queries(client, url) -> int:
    client.get(url)  # warm the caches (role permissions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    # The role-permission cache lives in Redis, which a concurrent test process may flush:
    # its reload is not the page's work.
    return len([q for q in captured if "auth_group_permissions" not in q["sql"]])


@pytest.mark.parametrize("query", ["", "?status=active&sort=-tier", "?q=partner&region=EMEA"])
def test_directory_queries_do_not_grow_with_the_page(
    login, tenant, tenant_admin, channel_manager, tiers, query
):
    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            created = PartnerFactory(
                tenant=tenant, name=f"Partner {n:02d}", domain=f"p{n:02d}.example",
                tier=tiers["gold"] if n % 2 else None, regions=["EMEA"], countries=["DE"],
            )  # fmt: skip
            assign_partner_manager(channel_manager, created)
            assign_partner_manager(tenant_admin, created)

    add(2, 0)
    client = login(tenant_admin)
    baseline = _count_queries(client, f"{BASE}{query}")
    add(23, 2)
    assert _count_queries(client, f"{BASE}{query}") <= baseline
