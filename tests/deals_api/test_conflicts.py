"""GET /api/v1/deals/{id}/conflicts/: the candidates and scores, for reviewers only."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def conflicting(make_deal, partner_rep, contoso_rep, channel_manager, globex_rep):
    """Contoso registered Kilo first, then the Northwind rep registered it again (www. and a
    legal suffix); a direct deal of the same customer exists; Globex has one too."""
    contoso = make_deal(
        contoso_rep, status="submitted", customer_name="Kilo Corp", customer_domain="kilo.example"
    )
    direct = make_deal(
        channel_manager, direct=True, customer_name="Kilo", customer_domain="kilo.example"
    )
    make_deal(
        globex_rep, status="submitted", customer_name="Kilo Corp", customer_domain="kilo.example"
    )
    mine = make_deal(
        partner_rep,
        status="submitted",
        customer_name="KILO Corporation",
        customer_domain="https://www.kilo.example/contact",
    )
    return {"contoso": contoso, "direct": direct, "mine": mine}


@pytest.mark.parametrize("role", ["channel_manager", "tenant_admin"])
def test_reviewers_see_the_candidates_with_their_scores(request, api_as, conflicting, role):
    response = api_as(request.getfixturevalue(role)).get(
        f"/api/v1/deals/{conflicting['mine'].pk}/conflicts/"
    )

    assert response.status_code == 200, response.json()
    rows = response.json()["candidates"]
    assert response.json()["found_by"] == []
    assert {row["candidate"]["id"] for row in rows} == {
        conflicting["contoso"].pk,
        conflicting["direct"].pk,
    }
    for row in rows:
        assert row["match_type"] == "domain"
        assert row["score"] == "1.000"
    by_id = {row["candidate"]["id"]: row["candidate"] for row in rows}
    assert by_id[conflicting["contoso"].pk]["partner"]["name"] == "Contoso"
    assert by_id[conflicting["contoso"].pk]["registered_by"]["email"] == "rep@contoso.test"
    assert by_id[conflicting["direct"].pk]["direct"] is True
    assert by_id[conflicting["direct"].pk]["partner"] is None
    assert by_id[conflicting["contoso"].pk]["total"] == "2000.00"


@pytest.mark.parametrize(
    "role", ["partner_rep", "partner_admin", "contoso_admin", "analyst", "finance"]
)
def test_members_without_view_dealconflict_get_403_never_the_candidates(
    request, api_as, conflicting, role
):
    response = api_as(request.getfixturevalue(role)).get(
        f"/api/v1/deals/{conflicting['mine'].pk}/conflicts/"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "Contoso" not in response.content.decode()
    assert "kilo" not in response.content.decode().lower()


def test_another_tenants_reviewer_gets_404(api_as, outsider, conflicting):
    response = api_as(outsider).get(f"/api/v1/deals/{conflicting['mine'].pk}/conflicts/")

    assert response.status_code == 404


def test_a_deal_without_conflicts_has_an_empty_list(
    api_as, channel_manager, make_deal, partner_rep
):
    deal = make_deal(partner_rep, status="submitted", customer_name="Quiet Customer")

    response = api_as(channel_manager).get(f"/api/v1/deals/{deal.pk}/conflicts/")

    assert response.json() == {"candidates": [], "found_by": []}


def test_the_earlier_registration_lists_the_later_submissions_that_found_it(
    api_as, channel_manager, conflicting
):
    response = api_as(channel_manager).get(f"/api/v1/deals/{conflicting['contoso'].pk}/conflicts/")

    assert response.json()["candidates"] == []
    (row,) = response.json()["found_by"]
    assert row["deal"]["id"] == conflicting["mine"].pk
    assert row["deal"]["partner"]["name"] == "Northwind"
    assert (row["match_type"], row["score"]) == ("domain", "1.000")


def test_the_registering_partner_sees_only_that_a_review_is_pending(
    api_as, partner_rep, partner_admin, conflicting
):
    for member in (partner_rep, partner_admin):
        client = api_as(member)
        detail = client.get(f"/api/v1/deals/{conflicting['mine'].pk}/")
        listing = client.get("/api/v1/deals/?status=submitted")

        assert detail.json()["status"] == "submitted"
        assert detail.json()["conflict_count"] is None
        for response in (detail, listing):
            text = response.content.decode()
            assert "Contoso" not in text
            assert "rep@contoso.test" not in text
            assert str(conflicting["contoso"].pk) not in [
                str(row["id"]) for row in listing.json()["results"]
            ]
