"""Pinning a partner's tier until a date, and unpinning it, everywhere it can be done: the
service (permission), the partner admin's "Pin tier…" and "Remove tier pin" actions, the
staff console's partner page and the API. Bad input answers 400 and writes nothing; only
tenant admins (``partners.change_tier``) pin; another tenant's partner is a 404."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from partners import services
from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from partners.tier_engine import UNPINNED_EVENT, tier_pin, tier_unpin
from partners.tiers import TierChange
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_PARTNERS = "/t/acme/admin/partners/partner/"
CONSOLE = "/t/acme/console/partners/"
API = "/api/v1/partners/"


def _today():
    return timezone.localdate()


def _stored(partner) -> Partner:
    with tenant_context(partner.tenant):
        return Partner.objects.select_related("tier").get(pk=partner.pk)


def _pins(tenant) -> list[tuple[int, int | None]]:
    with tenant_context(tenant):
        return list(TierChange.objects.filter(kind="pin").values_list("partner_id", "to_tier_id"))


def _unpin_events(tenant) -> list[dict]:
    with tenant_context(tenant):
        return list(
            OutboxEvent.objects.filter(name=UNPINNED_EVENT).values_list("payload", flat=True)
        )


def _pin(partner, tier, *, days=30):
    with tenant_context(partner.tenant):
        tier_pin(partner=partner, tier=tier, until=_today() + timedelta(days=days))


@pytest.fixture
def umbrella(other_tenant):
    return PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")


@pytest.fixture
def globex_tier(other_tenant, make_tier):
    return make_tier(other_tenant, 1, "Globex Gold")


@pytest.fixture
def api_as():
    def _as(membership):
        with tenant_context(membership.tenant, membership):
            key = services.api_token_issue(actor=membership, name="test").key
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return _as


# ---------------------------------------------------------------- the service


def test_only_members_who_may_change_tiers_pin_or_unpin(
    tenant, ladder, partner, tenant_admin, channel_manager, outsider
):
    until = _today() + timedelta(days=5)
    with tenant_context(tenant, channel_manager), pytest.raises(PermissionDenied):
        tier_pin(actor=channel_manager, partner=partner, tier=ladder["gold"], until=until)
    with tenant_context(tenant), pytest.raises(PermissionDenied):
        tier_pin(actor=outsider, partner=partner, tier=ladder["gold"], until=until)
    assert _pins(tenant) == []

    with tenant_context(tenant, tenant_admin):
        change = tier_pin(actor=tenant_admin, partner=partner, tier=ladder["gold"], until=until)
    assert "admin@acme.test" in change.reason
    with tenant_context(tenant, channel_manager), pytest.raises(PermissionDenied):
        tier_unpin(actor=channel_manager, partner=partner)
    assert _stored(partner).tier_pinned_until == until


def test_unpinning_keeps_the_tier_records_an_event_and_refuses_a_partner_not_pinned(
    tenant, ladder, partner, tenant_admin
):
    _pin(partner, ladder["silver"])
    with tenant_context(tenant, tenant_admin):
        tier_unpin(actor=tenant_admin, partner=partner, reason="Contract renewed")

    stored = _stored(partner)
    assert (stored.tier, stored.tier_pinned_until) == (ladder["silver"], None)
    [payload] = _unpin_events(tenant)
    assert payload["partner_id"] == partner.pk and payload["reason"] == "Contract renewed"
    assert _pins(tenant) == [(partner.pk, ladder["silver"].pk)]  # no tier change recorded

    with tenant_context(tenant, tenant_admin), pytest.raises(ValidationError):
        tier_unpin(actor=tenant_admin, partner=partner)
    assert len(_unpin_events(tenant)) == 1


def test_the_engine_leaves_a_pinned_partner_alone_until_the_date_and_after_unpinning_evaluates_it(
    tenant, ladder, scores, partner, tenant_admin, run
):
    scores[partner.pk] = Decimal("60")  # earns Gold
    _pin(partner, ladder["silver"], days=10)

    assert run(tenant) == []
    assert run(tenant, now=timezone.now() + timedelta(days=10)) == []
    assert _stored(partner).tier == ladder["silver"]

    with tenant_context(tenant, tenant_admin):
        tier_unpin(actor=tenant_admin, partner=partner)
    [promotion] = run(tenant)

    assert (promotion.kind, promotion.to_tier) == ("promotion", ladder["gold"])
    assert _stored(partner).tier == ladder["gold"]


# ---------------------------------------------------------------- admin actions


def _action(client, action, partners, url=ADMIN_PARTNERS, **extra):
    data = {"action": action, "_selected_action": [p.pk for p in partners], **extra}
    return client.post(url, data)


def test_tenant_admins_pin_the_selected_partners_in_admin(
    login, tenant, tenant_admin, ladder, partner, contoso
):
    client = login(tenant_admin)
    until = _today() + timedelta(days=14)

    page = _action(client, "pin_tier", [partner, contoso])
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="until"' in content and "Silver" in content and "Northwind" in content

    response = _action(
        client, "pin_tier", [partner, contoso], apply="1", tier=ladder["silver"].pk,
        until=until.isoformat(), reason="Strategic account",
    )  # fmt: skip

    assert response.status_code == 302
    for pinned in (_stored(partner), _stored(contoso)):
        assert (pinned.tier, pinned.tier_pinned_until) == (ladder["silver"], until)
    assert sorted(_pins(tenant)) == sorted(
        [(partner.pk, ladder["silver"].pk), (contoso.pk, ladder["silver"].pk)]
    )
    with tenant_context(tenant):
        assert set(TierChange.objects.values_list("reason", flat=True)) == {"Strategic account"}


def test_a_pin_in_the_past_or_to_another_tenants_tier_is_a_form_error_in_admin(
    login, tenant, tenant_admin, ladder, partner, globex_tier
):
    client = login(tenant_admin)
    past = _action(
        client, "pin_tier", [partner], apply="1", tier=ladder["gold"].pk,
        until=(_today() - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    foreign = _action(
        client, "pin_tier", [partner], apply="1", tier=globex_tier.pk,
        until=_today().isoformat(),
    )  # fmt: skip
    no_date = _action(client, "pin_tier", [partner], apply="1", tier=ladder["gold"].pk)

    assert past.status_code == 400 and "until" in past.context["form"].errors
    assert foreign.status_code == 400 and "tier" in foreign.context["form"].errors
    assert no_date.status_code == 400 and "until" in no_date.context["form"].errors
    stored = _stored(partner)
    assert (stored.tier, stored.tier_pinned_until) == (None, None)
    assert _pins(tenant) == []


def test_pinning_to_no_tier_in_admin(login, tenant, tenant_admin, ladder, partner):
    _pin(partner, ladder["gold"])
    response = _action(
        login(tenant_admin), "pin_tier", [partner], apply="1", tier="",
        until=_today().isoformat(),
    )  # fmt: skip

    assert response.status_code == 302
    assert (_stored(partner).tier, _stored(partner).tier_pinned_until) == (None, _today())


def test_removing_the_tier_pin_in_admin_says_which_partners_were_not_pinned(
    login, tenant, tenant_admin, ladder, partner, contoso
):
    _pin(partner, ladder["gold"])
    client = login(tenant_admin)

    response = _action(client, "unpin_tier", [partner, contoso])

    assert response.status_code == 302
    assert _stored(partner).tier_pinned_until is None
    assert _stored(partner).tier == ladder["gold"]
    assert [e["partner_id"] for e in _unpin_events(tenant)] == [partner.pk]
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert any("Removed the tier pin of 1 partner" in m for m in messages)
    assert any("Contoso" in m for m in messages)


def test_the_admin_actions_cannot_reach_another_tenants_partner(
    login, tenant_admin, other_tenant, umbrella, globex_tier, ladder
):
    _pin(umbrella, globex_tier)
    client = login(tenant_admin)
    _action(
        client, "pin_tier", [umbrella], apply="1", tier=ladder["gold"].pk,
        until=_today().isoformat(),
    )  # fmt: skip
    _action(client, "unpin_tier", [umbrella])

    stored = _stored(umbrella)
    assert (stored.tier, stored.tier_pinned_until) == (globex_tier, _today() + timedelta(30))


def test_operators_pin_partners_of_one_tenant_at_a_time(
    client, tenant, ladder, partner, umbrella, globex_tier
):
    operator = UserFactory(email="ops@trellis.test", is_superuser=True, is_staff=True)
    client.force_login(operator, backend="partners.permissions.MembershipBackend")
    until = _today().isoformat()
    url = "/admin/partners/partner/"

    mixed = _action(
        client, "pin_tier", [partner, umbrella], url=url, apply="1", tier="", until=until
    )
    assert mixed.status_code == 400 and mixed.context["form"].non_field_errors()
    assert _pins(tenant) == [] and _pins(umbrella.tenant) == []

    response = _action(
        client, "pin_tier", [umbrella], url=url, apply="1", tier=globex_tier.pk, until=until
    )
    assert response.status_code == 302
    assert _stored(umbrella).tier == globex_tier


# ---------------------------------------------------------------- staff console


def test_tenant_admins_pin_and_unpin_on_the_partner_page(
    login, tenant, tenant_admin, ladder, partner
):
    client = login(tenant_admin)
    until = _today() + timedelta(days=7)

    page = client.get(f"{CONSOLE}{partner.pk}/")
    assert page.status_code == 200
    assert f'action="{CONSOLE}{partner.pk}/pin/"' in page.content.decode()

    response = client.post(
        f"{CONSOLE}{partner.pk}/pin/",
        {"tier": ladder["gold"].pk, "until": until.isoformat(), "reason": "Launch partner"},
    )
    assert response.status_code == 302
    stored = _stored(partner)
    assert (stored.tier, stored.tier_pinned_until) == (ladder["gold"], until)
    assert (
        f'action="{CONSOLE}{partner.pk}/unpin/"'
        in client.get(f"{CONSOLE}{partner.pk}/").content.decode()
    )

    response = client.post(f"{CONSOLE}{partner.pk}/unpin/")
    assert response.status_code == 302
    assert _stored(partner).tier_pinned_until is None
    assert _stored(partner).tier == ladder["gold"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"until": "yesterday"}, "until"),
        ({"until": "past"}, "until"),
        ({"until": ""}, "until"),
        ({"tier": "globex"}, "tier"),
        ({"tier": "999999999"}, "tier"),
    ],
)
def test_bad_pins_on_the_partner_page_are_form_errors_and_write_nothing(
    login, tenant, tenant_admin, ladder, partner, globex_tier, body, field
):
    data = {"tier": ladder["gold"].pk, "until": _today().isoformat(), "reason": "", **body}
    if data["until"] == "past":
        data["until"] = (_today() - timedelta(days=1)).isoformat()
    if data["tier"] == "globex":
        data["tier"] = globex_tier.pk

    response = login(tenant_admin).post(f"{CONSOLE}{partner.pk}/pin/", data)

    assert response.status_code == 400
    assert field in response.context["pin_form"].errors
    assert 'class="field-error"' in response.content.decode()
    assert (_stored(partner).tier, _stored(partner).tier_pinned_until) == (None, None)
    assert _pins(tenant) == []


def test_unpinning_a_partner_not_pinned_is_a_form_error(login, tenant, tenant_admin, partner):
    response = login(tenant_admin).post(f"{CONSOLE}{partner.pk}/unpin/")

    assert response.status_code == 400
    assert "not pinned" in response.content.decode()
    assert _unpin_events(tenant) == []


def test_the_pin_pages_answer_post_only(login, tenant_admin, partner):
    client = login(tenant_admin)
    assert client.get(f"{CONSOLE}{partner.pk}/pin/").status_code == 405
    assert client.get(f"{CONSOLE}{partner.pk}/unpin/").status_code == 405


def test_only_tenant_admins_pin_on_the_partner_page(
    login, tenant, ladder, partner, channel_manager, partner_admin, outsider, tenant_admin,
    umbrella,
):  # fmt: skip
    _pin(partner, ladder["silver"])
    body = {"tier": ladder["gold"].pk, "until": _today().isoformat()}

    as_manager = login(channel_manager)
    assert "/pin/" not in as_manager.get(f"{CONSOLE}{partner.pk}/").content.decode()
    assert as_manager.post(f"{CONSOLE}{partner.pk}/pin/", body).status_code in (403, 404)
    assert as_manager.post(f"{CONSOLE}{partner.pk}/unpin/").status_code in (403, 404)
    assert login(partner_admin).post(f"{CONSOLE}{partner.pk}/pin/", body).status_code in (
        403,
        404,
    )
    # Another tenant's member, and Acme's admin for another tenant's partner: 404.
    as_outsider = login(outsider)
    assert as_outsider.post(f"{CONSOLE}{partner.pk}/pin/", body).status_code == 404
    assert as_outsider.post(f"{CONSOLE}{partner.pk}/unpin/").status_code == 404
    as_admin = login(tenant_admin)
    assert as_admin.post(f"{CONSOLE}{umbrella.pk}/pin/", body).status_code == 404
    assert as_admin.post(f"{CONSOLE}{umbrella.pk}/unpin/").status_code == 404

    stored = _stored(partner)
    assert (stored.tier, stored.tier_pinned_until) == (ladder["silver"], _today() + timedelta(30))
    assert _unpin_events(tenant) == []


# ---------------------------------------------------------------- API


def test_tenant_admins_pin_and_unpin_through_the_api(api_as, tenant, tenant_admin, ladder, partner):
    client = api_as(tenant_admin)
    until = _today() + timedelta(days=3)

    response = client.post(
        f"{API}{partner.pk}/pin-tier/",
        {"tier": ladder["gold"].pk, "until": until.isoformat(), "reason": "Launch"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["tier"]["id"] == ladder["gold"].pk
    assert response.json()["tier_pinned_until"] == until.isoformat()
    assert _pins(tenant) == [(partner.pk, ladder["gold"].pk)]

    response = client.post(f"{API}{partner.pk}/unpin-tier/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["tier_pinned_until"] is None
    assert response.json()["tier"]["id"] == ladder["gold"].pk

    again = client.post(f"{API}{partner.pk}/unpin-tier/", {}, format="json")
    assert again.status_code == 400


def test_a_pin_to_no_tier_through_the_api(api_as, tenant_admin, ladder, partner):
    _pin(partner, ladder["gold"])
    response = api_as(tenant_admin).post(
        f"{API}{partner.pk}/pin-tier/", {"tier": None, "until": _today().isoformat()},
        format="json",
    )  # fmt: skip

    assert response.status_code == 200, response.json()
    assert response.json()["tier"] is None
    assert _stored(partner).tier is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"until": "past"}, "until"),
        ({"until": "not a date"}, "until"),
        ({"until": None}, "until"),
        ({"tier": "globex"}, "tier"),
        ({"tier": 999999999}, "tier"),
        ({"tier": "missing"}, "tier"),
        ({"status": "active"}, "status"),
    ],
)
def test_bad_pins_through_the_api_answer_400_and_write_nothing(
    api_as, tenant, tenant_admin, ladder, partner, globex_tier, body, field
):
    data = {"tier": ladder["gold"].pk, "until": _today().isoformat(), **body}
    if data["until"] == "past":
        data["until"] = (_today() - timedelta(days=1)).isoformat()
    if data["tier"] == "globex":
        data["tier"] = globex_tier.pk
    if data["tier"] == "missing":
        del data["tier"]

    response = api_as(tenant_admin).post(f"{API}{partner.pk}/pin-tier/", data, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert (_stored(partner).tier, _stored(partner).tier_pinned_until) == (None, None)
    assert _pins(tenant) == []


def test_only_tenant_admins_pin_through_the_api_and_only_their_tenants_partners(
    api_as, tenant, ladder, partner, channel_manager, partner_admin, outsider, tenant_admin,
    umbrella, globex_tier,
):  # fmt: skip
    _pin(partner, ladder["silver"])
    body = {"tier": ladder["gold"].pk, "until": _today().isoformat()}

    for member in (channel_manager, partner_admin):
        client = api_as(member)
        assert client.post(f"{API}{partner.pk}/pin-tier/", body, format="json").status_code == 403
        assert client.post(f"{API}{partner.pk}/unpin-tier/", {}, format="json").status_code == 403
    # Another tenant's admin for Acme's partner, Acme's admin for Globex's partner: 404.
    globex = api_as(outsider)
    assert globex.post(f"{API}{partner.pk}/pin-tier/", body, format="json").status_code == 404
    assert globex.post(f"{API}{partner.pk}/unpin-tier/", {}, format="json").status_code == 404
    acme = api_as(tenant_admin)
    assert acme.post(f"{API}{umbrella.pk}/pin-tier/", body, format="json").status_code == 404
    assert acme.post(f"{API}{umbrella.pk}/unpin-tier/", {}, format="json").status_code == 404

    stored = _stored(partner)
    assert (stored.tier, stored.tier_pinned_until) == (ladder["silver"], _today() + timedelta(30))
    assert _stored(umbrella).tier is None
    assert _unpin_events(tenant) == [] and _unpin_events(umbrella.tenant) == []


def test_the_pin_routes_are_in_the_schema(tmp_path):
    out = tmp_path / "schema.json"
    call_command("spectacular", "--file", str(out), "--format", "openapi-json", "--validate")
    paths = json.loads(out.read_text())["paths"]
    for route in ("pin-tier", "unpin-tier"):
        operation = paths[f"/api/v1/partners/{{id}}/{route}/"]["post"]
        assert {"200", "400", "403", "404"} <= set(operation["responses"])
    pin = paths["/api/v1/partners/{id}/pin-tier/"]["post"]
    assert pin["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PartnerTierPinRequest"
    )
