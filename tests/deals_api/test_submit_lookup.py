"""POST /deals/{id}/submit/ lets deal_submit read the deal (under its lock, through the actor's
scope) instead of reading it first in the view: the answers stay those of every other action,
a 404 for a deal out of sight whatever the body, a 400 for a bad body on one's own deal."""

import pytest

from deals.models import DealStatus

pytestmark = pytest.mark.django_db

TOO_LONG = {"comment": "x" * 2001}


@pytest.mark.parametrize("role", ["colleague_rep", "contoso_admin", "globex_rep"])
@pytest.mark.parametrize("body", [{}, TOO_LONG])
def test_a_draft_out_of_sight_answers_404_whatever_the_body(
    request, api_as, partner_rep, make_deal, tenant, snapshot, role, body
):
    deal = make_deal(partner_rep)
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = client.post(f"/api/v1/deals/{deal.pk}/submit/", body, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot(tenant) == before


def test_a_bad_body_on_ones_own_draft_answers_400(api_as, partner_rep, make_deal, tenant, snapshot):
    deal = make_deal(partner_rep)
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.post(f"/api/v1/deals/{deal.pk}/submit/", TOO_LONG, format="json")

    assert response.status_code == 400
    assert "comment" in response.json()["fields"]
    assert snapshot(tenant) == before


@pytest.mark.parametrize("deal_id", ["0", "987654321", "9" * 30, "-3"])
def test_unknown_and_impossible_ids_answer_404(api_as, partner_rep, deal_id):
    response = api_as(partner_rep).post(f"/api/v1/deals/{deal_id}/submit/", {}, format="json")

    assert response.status_code == 404


def test_the_answer_is_the_deal_as_written(api_as, partner_rep, make_deal, in_tenant, tenant):
    """The response renders the row deal_submit locked and wrote, with its lines and timeline
    read afresh: the same body as a GET of the deal right after."""
    deal = make_deal(partner_rep)
    client = api_as(partner_rep)

    submitted = client.post(f"/api/v1/deals/{deal.pk}/submit/", {"comment": "Go"}, format="json")

    assert submitted.status_code == 200
    assert submitted.json()["status"] in {DealStatus.SUBMITTED, DealStatus.APPROVED}
    assert submitted.json() == client.get(f"/api/v1/deals/{deal.pk}/").json()
