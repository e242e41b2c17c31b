"""CSV import of leads: every row checked, all or nothing, errors per row with its number,
limits on the file; in the service, the page (preview, then commit) and the API."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from deals import leads
from deals.models import Lead, LeadStatus
from partners.tenancy import tenant_context
from tests.partners.html import text

pytestmark = pytest.mark.django_db

GOOD = (
    "company_name,company_domain,country,region,competency,contact_name,contact_email,"
    "contact_phone,estimated_value,currency,notes\n"
    "Initech GmbH,https://www.initech.example/about,de,EMEA,Security,Peter Gibbons,"
    "peter@initech.example,+49 30 1234567,25000.00,USD,Wants a demo\n"
    'Hooli,hooli.example,US,,,"Gavin, Belson",,,"1,500",,\n'
)
BAD = (
    "company_name,country,contact_email,estimated_value,currency\n"
    "Initech,DE,peter@initech.example,100,USD\n"  # row 2: fine
    ",Germany,not-an-email,-5,XXX\n"  # row 3: five errors
    "Hooli,US,,12.345,USD\n"  # row 4: too many decimals
)


def lead_count(tenant) -> int:
    with tenant_context(tenant):
        return Lead.objects.count()


def import_as(actor, content):
    with tenant_context(actor.tenant, actor):
        return leads.lead_import_csv(actor=actor, content=content)


# ---------------------------------------------------------------- the service


def test_a_good_file_imports_every_lead_waiting_for_routing(tenant, channel_manager):
    created = import_as(channel_manager, GOOD.encode())

    assert len(created) == 2
    with tenant_context(tenant):
        initech, hooli = Lead.objects.order_by("pk")
    assert initech.company_domain == "initech.example"
    assert (initech.country, initech.region, initech.competency) == ("DE", "EMEA", "Security")
    assert str(initech.estimated_value) == "25000.00"
    assert hooli.contact_name == "Gavin, Belson"
    assert str(hooli.estimated_value) == "1500.00"
    assert hooli.currency == tenant.default_currency
    assert {initech.status, hooli.status} == {LeadStatus.NEW}
    assert initech.created_by_id == channel_manager.user_id


def test_the_import_is_routed_after_it_commits(
    tenant, channel_manager, django_capture_on_commit_callbacks, monkeypatch
):
    from deals.tasks import route_new_leads

    enqueued = []
    monkeypatch.setattr(route_new_leads, "delay", lambda tenant_id: enqueued.append(tenant_id))

    with django_capture_on_commit_callbacks(execute=True):
        import_as(channel_manager, GOOD.encode())

    assert enqueued == [tenant.pk]


def test_a_file_with_one_bad_row_imports_nothing_and_lists_every_error(tenant, channel_manager):
    with pytest.raises(ValidationError) as raised:
        import_as(channel_manager, BAD.encode())

    messages = raised.value.message_dict["rows"]
    assert [m.split(",")[0] for m in messages] == ["Row 3"] * 5 + ["Row 4"]
    assert any("Row 3, country" in m for m in messages)
    assert any("Row 3, contact_email" in m for m in messages)
    assert any("Row 3, estimated_value" in m for m in messages)
    assert any("Row 3, currency" in m for m in messages)
    assert any("Row 4, estimated_value" in m and "decimal places" in m for m in messages)
    assert lead_count(tenant) == 0


def test_the_preview_reports_rows_without_writing(tenant, channel_manager):
    with tenant_context(tenant, channel_manager):
        parsed = leads.lead_import_preview(actor=channel_manager, content=BAD.encode())

    assert not parsed.valid
    assert [row.number for row in parsed.error_rows] == [3, 4]
    assert set(parsed.error_rows[0].errors) == {
        "company_name", "country", "contact_email", "estimated_value", "currency",
    }  # fmt: skip
    assert lead_count(tenant) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"company_name,country\n", "no leads"),
        (b"company_name,contry\nInitech,DE\n", "Unknown columns: contry"),
        (b"company_name,region\nInitech,EMEA\n", "Missing required columns: country"),
        (b"company_name,country,country\nInitech,DE,DE\n", "Columns given twice: country"),
        ("company_name,country\nM\u00fcller,DE\n".encode("latin-1"), "UTF-8"),
        (b"\x00\x01binary", "not a CSV"),
    ],
)
def test_a_file_that_is_not_a_lead_list_is_refused_whole(
    tenant, channel_manager, content, expected
):
    with pytest.raises(ValidationError) as raised:
        import_as(channel_manager, content)

    assert expected in " ".join(raised.value.message_dict["file"])
    assert lead_count(tenant) == 0


def test_a_row_with_more_cells_than_columns_is_an_error(tenant, channel_manager):
    with pytest.raises(ValidationError) as raised:
        import_as(channel_manager, b"company_name,country\nInitech,DE,extra\n")

    assert "Row 2, row" in raised.value.message_dict["rows"][0]


def test_a_file_over_the_row_limit_is_refused(tenant, channel_manager, monkeypatch):
    monkeypatch.setattr(leads, "MAX_IMPORT_ROWS", 3)
    rows = "".join(f"Company {n},DE\n" for n in range(4))

    with pytest.raises(ValidationError) as raised:
        import_as(channel_manager, f"company_name,country\n{rows}".encode())

    assert "at most 3" in raised.value.message_dict["file"][0]
    assert lead_count(tenant) == 0


def test_a_file_over_the_size_limit_is_refused(tenant, channel_manager, monkeypatch):
    monkeypatch.setattr(leads, "MAX_IMPORT_BYTES", 64)

    with pytest.raises(ValidationError) as raised:
        import_as(channel_manager, b"company_name,country\n" + b"Initech,DE\n" * 10)

    assert "larger than" in raised.value.message_dict["file"][0]


@pytest.mark.parametrize("amount", ["1.500,00", "1,5", "12,34,56", "abc", "NaN", "1e999999"])
def test_an_amount_that_is_not_plainly_written_is_an_error(tenant, channel_manager, amount):
    content = f'company_name,country,estimated_value\nInitech,DE,"{amount}"\n'.encode()

    with pytest.raises(ValidationError) as raised:
        import_as(channel_manager, content)

    assert "Row 2, estimated_value" in raised.value.message_dict["rows"][0]
    assert lead_count(tenant) == 0


def test_blank_lines_and_a_byte_order_mark_are_fine(tenant, channel_manager):
    content = "\ufeffCompany Name,Country\r\n\r\nInitech,DE\r\n,\r\nHooli,US\r\n".encode()

    assert len(import_as(channel_manager, content)) == 2


# ---------------------------------------------------------------- the page


def upload(client, content, name="leads.csv"):
    return client.post(
        "/t/acme/leads/import/", {"file": SimpleUploadedFile(name, content, "text/csv")}
    )


def test_the_page_previews_a_good_file_then_imports_it(tenant, channel_manager, login):
    client = login(channel_manager)

    preview = upload(client, GOOD.encode())

    assert preview.status_code == 200
    assert "All 2 leads are ready to import." in text(preview)
    assert lead_count(tenant) == 0
    token = preview.context["commit_form"].initial["token"]

    committed = client.post("/t/acme/leads/import/commit/", {"token": token})

    assert committed.status_code == 302
    assert committed["Location"] == "/t/acme/leads/"
    assert lead_count(tenant) == 2
    again = client.post("/t/acme/leads/import/commit/", {"token": token})
    assert again.status_code == 400
    assert lead_count(tenant) == 2


def test_the_page_shows_every_rows_errors_and_offers_no_import(tenant, channel_manager, login):
    response = upload(login(channel_manager), BAD.encode())

    assert response.status_code == 400
    page = text(response)
    assert "2 of 3 rows have errors. Nothing was imported" in page
    assert "Use a two-letter ISO country code" in page
    assert "Enter a valid email address." in page
    assert response.context["commit_form"] is None
    assert lead_count(tenant) == 0


def test_the_page_refuses_a_missing_file(tenant, channel_manager, login):
    response = login(channel_manager).post("/t/acme/leads/import/", {})

    assert response.status_code == 400
    assert response.context["form"].errors["file"]


@pytest.mark.parametrize("token", ["", "nope", "A" * 30])
def test_committing_an_unknown_preview_writes_nothing(tenant, channel_manager, login, token):
    response = login(channel_manager).post("/t/acme/leads/import/commit/", {"token": token})

    assert response.status_code == 400
    assert "Upload the file again" in text(response)
    assert lead_count(tenant) == 0


def test_another_members_preview_cannot_be_committed(
    tenant, channel_manager, tenant_admin, login, client
):
    token = upload(login(channel_manager), GOOD.encode()).context["commit_form"].initial["token"]
    client.logout()

    response = login(tenant_admin).post("/t/acme/leads/import/commit/", {"token": token})

    assert response.status_code == 400
    assert lead_count(tenant) == 0


def test_the_example_file_imports_cleanly(tenant, channel_manager, login):
    example = login(channel_manager).get("/t/acme/leads/import/leads.csv")

    assert example.status_code == 200
    assert example["Content-Type"].startswith("text/csv")
    assert len(import_as(channel_manager, example.content)) == 1


# ---------------------------------------------------------------- the API


def test_the_api_imports_a_multipart_file(tenant, channel_manager, api_as):
    response = api_as(channel_manager).post(
        "/api/v1/leads/import/",
        {"file": SimpleUploadedFile("leads.csv", GOOD.encode(), "text/csv")},
        format="multipart",
    )

    assert response.status_code == 201
    assert response.json()["created"] == 2
    assert lead_count(tenant) == 2


def test_the_api_imports_a_csv_body(tenant, channel_manager, api_as):
    response = api_as(channel_manager).generic(
        "POST", "/api/v1/leads/import/", GOOD.encode(), content_type="text/csv"
    )

    assert response.status_code == 201
    assert len(response.json()["ids"]) == 2


def test_the_api_answers_every_rows_errors_with_a_400_and_writes_nothing(
    tenant, channel_manager, api_as
):
    response = api_as(channel_manager).generic(
        "POST", "/api/v1/leads/import/", BAD.encode(), content_type="text/csv"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert len(body["fields"]["rows"]) == 6
    assert lead_count(tenant) == 0


def test_the_api_dry_run_checks_without_writing(tenant, channel_manager, api_as):
    response = api_as(channel_manager).post(
        "/api/v1/leads/import/",
        {"file": SimpleUploadedFile("leads.csv", BAD.encode(), "text/csv"), "dry_run": "true"},
        format="multipart",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert body["rows"] == 3
    found = {(e["row"], e["column"]) for e in body["errors"]}
    assert found >= {(3, "country"), (4, "estimated_value")}
    assert lead_count(tenant) == 0


def test_the_api_refuses_an_import_without_a_file(tenant, channel_manager, api_as):
    response = api_as(channel_manager).post("/api/v1/leads/import/", {}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.json()["fields"]


@pytest.mark.parametrize("role", ["finance", "analyst", "partner_admin", "partner_rep"])
def test_only_lead_managers_may_import(role, tenant, partner, api_as, member_of_acme):
    from tests.factories import MembershipFactory

    member = (
        MembershipFactory(tenant=tenant, role=role, partner=partner, user__email=f"{role}@p.test")
        if role.startswith("partner")
        else member_of_acme(role)
    )

    response = api_as(member).generic(
        "POST", "/api/v1/leads/import/", GOOD.encode(), content_type="text/csv"
    )

    assert response.status_code == 403
    assert lead_count(tenant) == 0
