"""The lifecycle as actions: POST /api/v1/deals/{id}/<transition>/ and bulk approval.

Every legal move by the role that may make it, every illegal move a 400 with code "invalid",
a role without the permission a 403, and a deal out of sight a 404, with nothing written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deals.models import DealStatus
from tests.deals.factories import LostReasonFactory

pytestmark = pytest.mark.django_db

ALL_STATUSES = [status.value for status in DealStatus]

#: action -> (who performs it, the statuses it may start from)
ACTIONS = {
    "submit": ("partner_rep", {"draft", "more_info"}),
    "approve": ("channel_manager", {"submitted"}),
    "reject": ("channel_manager", {"submitted"}),
    "request-info": ("channel_manager", {"submitted"}),
    "mark-won": ("partner_rep", {"approved"}),
    "mark-lost": ("partner_rep", {"approved"}),
    "request-extension": ("partner_rep", {"approved"}),
    "decide-extension": ("channel_manager", set()),  # needs a pending request (below)
}


@pytest.fixture
def action_body(lost_reason):
    def _body(action):
        return {
            "submit": {"comment": "Ready."},
            "approve": {"comment": "Welcome."},
            "reject": {"reason": "Existing customer of ours."},
            "request-info": {"question": "Which sites?"},
            "mark-won": {"final_amount": "1800.00", "closed_on": timezone.localdate().isoformat()},
            "mark-lost": {"reason": lost_reason.pk, "comment": "Chose a competitor."},
            "request-extension": {"reason": "Procurement slipped a quarter."},
            "decide-extension": {"approve": True, "comment": "Fine."},
        }[action]

    return _body


def _post(client, deal, action, body):
    return client.post(f"/api/v1/deals/{deal.pk}/{action}/", body, format="json")


# ---------------------------------------------------------------- legal moves


def test_a_rep_submits_a_draft(api_as, partner_rep, make_deal):
    deal = make_deal(partner_rep)

    response = _post(api_as(partner_rep), deal, "submit", {})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted"
    assert response.json()["conflict_count"] is None


def test_a_channel_manager_approves_a_submission(api_as, channel_manager, partner_rep, make_deal):
    deal = make_deal(partner_rep, status="submitted")

    response = _post(api_as(channel_manager), deal, "approve", {"comment": "Welcome."})

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "approved"
    assert body["protection_ends_at"]
    assert body["timeline"][-1]["comment"] == "Welcome."
    assert body["timeline"][-1]["actor"]["email"] == "manager@acme.test"


def test_a_channel_manager_rejects_with_a_reason(api_as, channel_manager, partner_rep, make_deal):
    deal = make_deal(partner_rep, status="submitted")

    response = _post(api_as(channel_manager), deal, "reject", {"reason": "Not a fit."})

    assert response.json()["status"] == "rejected"
    assert response.json()["timeline"][-1]["comment"] == "Not a fit."


def test_a_channel_manager_asks_for_more_information(
    api_as, channel_manager, partner_rep, make_deal
):
    deal = make_deal(partner_rep, status="submitted")

    response = _post(api_as(channel_manager), deal, "request-info", {"question": "Which sites?"})

    assert response.json()["status"] == "more_info"
    assert response.json()["timeline"][-1]["comment"] == "Which sites?"


@pytest.mark.parametrize("closer", ["partner_rep", "partner_admin", "channel_manager"])
def test_the_registering_partner_or_a_reviewer_marks_a_deal_won(
    request, api_as, partner_rep, make_deal, closer
):
    deal = make_deal(partner_rep, status="approved")
    closed_on = (timezone.localdate() - timedelta(days=2)).isoformat()

    response = _post(
        api_as(request.getfixturevalue(closer)),
        deal,
        "mark-won",
        {"final_amount": "1850.5", "closed_on": closed_on},
    )

    body = response.json()
    assert response.status_code == 200, body
    assert (body["status"], body["won_amount"], body["closed_on"]) == ("won", "1850.50", closed_on)
    assert body["currency"] == "USD"


def test_a_rep_marks_a_deal_lost_with_a_reason(api_as, partner_rep, make_deal, lost_reason):
    deal = make_deal(partner_rep, status="approved")

    response = _post(api_as(partner_rep), deal, "mark-lost", {"reason": lost_reason.pk})

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "lost"
    assert body["lost_reason"] == {"id": lost_reason.pk, "name": "Price"}


def test_a_rep_requests_one_extension_and_a_manager_approves_it(
    api_as, partner_rep, channel_manager, make_deal
):
    deal = make_deal(partner_rep, status="approved")
    rep = api_as(partner_rep)

    requested = _post(rep, deal, "request-extension", {"reason": "Budget moved to Q3."})
    again = _post(rep, deal, "request-extension", {"reason": "Please?"})
    decided = _post(api_as(channel_manager), deal, "decide-extension", {"approve": True})

    assert requested.json()["extension_status"] == "requested"
    assert requested.json()["extension_reason"] == "Budget moved to Q3."
    assert again.status_code == 400
    assert again.json()["code"] == "invalid"
    assert decided.json()["extension_status"] == "approved"
    assert decided.json()["protection_ends_at"] > requested.json()["protection_ends_at"]


def test_a_manager_declines_an_extension(api_as, partner_rep, channel_manager, make_deal):
    deal = make_deal(partner_rep, status="approved")
    _post(api_as(partner_rep), deal, "request-extension", {"reason": "More time."})

    response = _post(
        api_as(channel_manager), deal, "decide-extension", {"approve": False, "comment": "No."}
    )

    assert response.json()["extension_status"] == "declined"
    assert response.json()["status"] == "approved"


def test_first_approved_wins_unless_the_reviewer_overrides_with_a_reason(
    api_as, channel_manager, partner_rep, contoso_rep, make_deal, tenant, snapshot
):
    make_deal(
        contoso_rep, status="approved", customer_name="Kilo Corp", customer_domain="kilo.example"
    )
    rival = make_deal(
        partner_rep, status="submitted", customer_name="Kilo Corp", customer_domain="kilo.example"
    )
    client = api_as(channel_manager)
    before = snapshot(tenant)

    refused = _post(client, rival, "approve", {})
    assert refused.status_code == 400
    assert "override_reason" in refused.json()["fields"]
    assert snapshot(tenant) == before

    overridden = _post(client, rival, "approve", {"override_reason": "Customer asked for them."})
    assert overridden.status_code == 200
    assert overridden.json()["status"] == "approved"
    assert "Customer asked for them." in overridden.json()["timeline"][-1]["comment"]


# ---------------------------------------------------------------- illegal moves


def _illegal_cases():
    for action, (_actor, legal) in ACTIONS.items():
        for status in ALL_STATUSES:
            if status not in legal:
                yield action, status


@pytest.mark.parametrize(("action", "status"), list(_illegal_cases()))
def test_every_illegal_transition_answers_400_invalid_and_writes_nothing(
    request, api_as, partner_rep, make_deal, action_body, tenant, snapshot, action, status
):
    deal = make_deal(partner_rep, status=status)
    client = api_as(request.getfixturevalue(ACTIONS[action][0]))
    before = snapshot(tenant)

    response = _post(client, deal, action, action_body(action))

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"]
    assert snapshot(tenant) == before


def test_a_direct_deal_cannot_be_submitted_or_approved_again(
    api_as, channel_manager, partner_rep, make_deal, tenant, snapshot
):
    deal = make_deal(channel_manager, direct=True)
    manager = api_as(channel_manager)
    before = snapshot(tenant)

    assert _post(manager, deal, "submit", {}).status_code == 403
    assert _post(manager, deal, "approve", {}).status_code == 400
    assert snapshot(tenant) == before


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("action", "status", "body", "field"),
    [
        ("reject", "submitted", {}, "reason"),
        ("reject", "submitted", {"reason": "   "}, "reason"),
        ("request-info", "submitted", {}, "question"),
        ("mark-won", "approved", {"closed_on": "2024-01-01"}, "final_amount"),
        ("mark-won", "approved", {"final_amount": "10"}, "closed_on"),
        ("mark-won", "approved", {"final_amount": "-1", "closed_on": "2024-01-01"}, "final_amount"),
        (
            "mark-won",
            "approved",
            {"final_amount": "1e13", "closed_on": "2024-01-01"},
            "final_amount",
        ),
        ("mark-won", "approved", {"final_amount": 12.5, "closed_on": "2024-01-01"}, None),
        ("mark-won", "approved", {"final_amount": "10", "closed_on": "2999-01-01"}, "closed_on"),
        ("mark-won", "approved", {"final_amount": "10", "closed_on": "soon"}, "closed_on"),
        ("mark-lost", "approved", {}, "reason"),
        ("mark-lost", "approved", {"reason": 987654321}, "reason"),
        ("mark-lost", "approved", {"reason": "Price"}, "reason"),
        ("request-extension", "approved", {"reason": ""}, "reason"),
        ("decide-extension", "approved", {}, "approve"),
        ("decide-extension", "approved", {"approve": "perhaps"}, "approve"),
    ],
)
def test_bad_transition_input_answers_400_and_writes_nothing(
    request, api_as, partner_rep, make_deal, tenant, snapshot, action, status, body, field
):
    deal = make_deal(partner_rep, status=status)
    if action == "decide-extension":
        _post(api_as(partner_rep), deal, "request-extension", {"reason": "More time."})
    client = api_as(request.getfixturevalue(ACTIONS[action][0]))
    before = snapshot(tenant)

    response = _post(client, deal, action, body)

    if field is None:  # a JSON number is a valid amount too: never a float in storage
        assert response.status_code == 200
        assert response.json()["won_amount"] == "12.50"
        return
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert snapshot(tenant) == before


@pytest.mark.parametrize("reason_kind", ["retired", "another tenant's"])
def test_a_lost_reason_must_be_an_active_one_of_the_program(
    api_as, partner_rep, make_deal, tenant, other_tenant, snapshot, reason_kind
):
    if reason_kind == "retired":
        reason = LostReasonFactory(tenant=tenant, name="Old reason", active=False)
    else:
        reason = LostReasonFactory(tenant=other_tenant, name="Globex reason")
    deal = make_deal(partner_rep, status="approved")
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = _post(client, deal, "mark-lost", {"reason": reason.pk})

    assert response.status_code == 400
    assert "reason" in response.json()["fields"]
    assert snapshot(tenant) == before


def test_malformed_json_in_a_transition_answers_400(
    api_as, channel_manager, partner_rep, make_deal, tenant, snapshot
):
    deal = make_deal(partner_rep, status="submitted")
    client = api_as(channel_manager)
    before = snapshot(tenant)

    response = client.generic(
        "POST", f"/api/v1/deals/{deal.pk}/reject/", '{"reason": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert snapshot(tenant) == before


# ---------------------------------------------------------------- who may


FORBIDDEN = [
    ("submit", "draft", "channel_manager"),
    ("submit", "draft", "analyst"),
    ("approve", "submitted", "partner_rep"),
    ("approve", "submitted", "partner_admin"),
    ("approve", "submitted", "finance"),
    ("approve", "submitted", "analyst"),
    ("reject", "submitted", "partner_admin"),
    ("reject", "submitted", "analyst"),
    ("request-info", "submitted", "partner_rep"),
    ("request-info", "submitted", "finance"),
    ("mark-won", "approved", "analyst"),
    ("mark-won", "approved", "finance"),
    ("mark-lost", "approved", "analyst"),
    ("request-extension", "approved", "channel_manager"),
    ("request-extension", "approved", "finance"),
    ("decide-extension", "approved", "partner_admin"),
    ("decide-extension", "approved", "analyst"),
]


@pytest.mark.parametrize(("action", "status", "role"), FORBIDDEN)
def test_a_role_without_the_permission_gets_403_and_nothing_changes(
    request, api_as, partner_rep, make_deal, action_body, tenant, snapshot, action, status, role
):
    deal = make_deal(partner_rep, status=status)
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = _post(client, deal, action, action_body(action))

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert snapshot(tenant) == before


#: Who may attempt an action at all (else 403 before any lookup): partner users, reviewers.
MAY_ATTEMPT = {
    "submit": {"partner"},
    "request-extension": {"partner"},
    "mark-won": {"partner", "reviewer"},
    "mark-lost": {"partner", "reviewer"},
    "approve": {"reviewer"},
    "reject": {"reviewer"},
    "request-info": {"reviewer"},
    "decide-extension": {"reviewer"},
}
OUT_OF_SIGHT = {  # role -> kind; the outsider is a tenant admin of Globex
    "outsider": "reviewer",
    "globex_rep": "partner",
    "colleague_rep": "partner",
    "contoso_admin": "partner",
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("role", sorted(OUT_OF_SIGHT))
def test_a_deal_out_of_sight_answers_404_to_every_action(
    request, api_as, partner_rep, make_deal, action_body, tenant, snapshot, action, role
):
    deal = make_deal(partner_rep, status="approved")
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = _post(client, deal, action, action_body(action))

    expected = 404 if OUT_OF_SIGHT[role] in MAY_ATTEMPT[action] else 403
    assert response.status_code == expected, response.json()
    assert snapshot(tenant) == before


@pytest.mark.parametrize("action", ["submit", "mark-won", "mark-lost", "request-extension"])
def test_a_further_partner_cannot_move_the_registrants_deal(
    api_as, partner_admin, contoso_rep, partner, make_deal, action_body, tenant, snapshot, action
):
    status = "draft" if action == "submit" else "approved"
    deal = make_deal(contoso_rep, status=status, further_partners=[(partner.pk, "co_sell")])
    client = api_as(partner_admin)
    before = snapshot(tenant)

    response = _post(client, deal, action, action_body(action))

    assert response.status_code == 403
    assert snapshot(tenant) == before


def test_unknown_and_huge_ids_answer_404(api_as, channel_manager):
    client = api_as(channel_manager)

    for deal_id in ["0", "987654321", "9" * 30]:
        response = client.post(f"/api/v1/deals/{deal_id}/approve/", {}, format="json")
        assert response.status_code == 404


# ---------------------------------------------------------------- bulk approval


def test_bulk_approve_approves_only_the_conflict_free_submissions(
    api_as, channel_manager, partner_rep, contoso_rep, globex_rep, make_deal
):
    clean = make_deal(partner_rep, status="submitted", customer_name="Lima Clean")
    make_deal(contoso_rep, status="submitted", customer_name="Mike Twice", customer_domain="m.ex")
    conflicted = make_deal(
        partner_rep, status="submitted", customer_name="Mike Twice", customer_domain="m.ex"
    )
    draft = make_deal(partner_rep, customer_name="November Draft")
    foreign = make_deal(globex_rep, status="submitted")
    ids = [clean.pk, conflicted.pk, draft.pk, foreign.pk, 987654321, clean.pk]

    response = api_as(channel_manager).post(
        "/api/v1/deals/bulk-approve/", {"ids": ids}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "approved": [clean.pk],
        "skipped": [conflicted.pk, draft.pk, foreign.pk, 987654321],
    }
    client = api_as(channel_manager)
    assert client.get(f"/api/v1/deals/{clean.pk}/").json()["status"] == "approved"
    assert client.get(f"/api/v1/deals/{conflicted.pk}/").json()["status"] == "submitted"


@pytest.mark.parametrize("role", ["partner_admin", "partner_rep", "analyst", "finance"])
def test_bulk_approve_is_for_reviewers(
    request, api_as, partner_rep, make_deal, tenant, snapshot, role
):
    deal = make_deal(partner_rep, status="submitted")
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/bulk-approve/", {"ids": [deal.pk]}, format="json")

    assert response.status_code == 403
    assert snapshot(tenant) == before


def test_an_outsider_bulk_approving_acme_ids_approves_nothing(
    api_as, outsider, partner_rep, make_deal, tenant, snapshot
):
    deal = make_deal(partner_rep, status="submitted")
    client = api_as(outsider)
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/bulk-approve/", {"ids": [deal.pk]}, format="json")

    assert response.json() == {"approved": [], "skipped": [deal.pk]}
    assert snapshot(tenant) == before


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": "1,2"}, {"ids": [0]}, {"ids": ["a"]}, {"ids": list(range(1, 502))}],
)
def test_bulk_approve_bad_input_answers_400(api_as, channel_manager, body):
    response = api_as(channel_manager).post("/api/v1/deals/bulk-approve/", body, format="json")

    assert response.status_code == 400
    assert "ids" in response.json()["fields"]


def test_the_partner_never_reads_the_reviewers_override_reason(
    api_as, channel_manager, partner_rep, contoso_rep, make_deal
):
    make_deal(
        contoso_rep, status="approved", customer_name="Lima Corp", customer_domain="lima.example"
    )
    rival = make_deal(
        partner_rep, status="submitted", customer_name="Lima Corp", customer_domain="lima.example"
    )
    reason = "Contoso's registration is stale."
    approved = _post(api_as(channel_manager), rival, "approve", {"override_reason": reason})
    assert approved.status_code == 200

    seen = api_as(partner_rep).get(f"/api/v1/deals/{rival.pk}/")
    assert seen.status_code == 200
    assert reason not in seen.content.decode()
    assert "Contoso" not in seen.content.decode()
