"""The deal list renders each row with a hand-built dict (deals.api.serializers.DealSerializer);
it must render exactly what DRF's generic ModelSerializer would, key order included."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers
from rest_framework.utils.encoders import JSONEncoder

from deals.api.serializers import DealSerializer
from deals.models import Deal
from partners.tenancy import tenant_context


def _generic(serializer: DealSerializer, deal: Deal) -> dict:
    return serializers.ModelSerializer.to_representation(serializer, deal)


def test_the_list_row_is_byte_identical_to_the_generic_rendering(
    tenant, acme_deals, make_deal, partner_rep, channel_manager, lost_reason
):
    make_deal(
        partner_rep,
        status="won",
        won_amount=Decimal("1234.5"),
        closed_on=timezone.localdate() - timedelta(days=1),
        external_id="CRM-7",
        notes="Ünïcode notes",
    )
    make_deal(partner_rep, status="lost", lost_reason=lost_reason)
    make_deal(channel_manager, direct=True, customer_domain="")
    for zone in ["UTC", "Asia/Kolkata", "America/St_Johns"]:
        tenant.time_zone = zone  # dates and times render in the tenant's zone
        with tenant_context(tenant):
            deals = list(
                Deal.objects.select_related("partner", "registered_by", "lost_reason").order_by(
                    "id"
                )
            )
            serializer = DealSerializer()
            assert len(deals) >= 8
            for deal in deals:
                fast = json.dumps(serializer._list_representation(deal), cls=JSONEncoder)
                generic = json.dumps(_generic(serializer, deal), cls=JSONEncoder)
                assert fast == generic


def test_the_list_page_renders_what_the_serializer_renders_for_each_viewer(
    tenant,
    acme_deals,
    make_deal,
    partner_rep,
    partner_admin,
    channel_manager,
    lost_reason,
    api_as,
):
    """The list endpoint reads plain rows (deals.api.serializers.LIST_COLUMNS) and renders
    them with deal_list_rows: the same body DealSerializer gives the same deals, for staff
    and for partner users (conflicts hidden, another organization's registrant left out)."""
    make_deal(
        partner_rep,
        status="won",
        won_amount=Decimal("1234.5"),
        closed_on=timezone.localdate() - timedelta(days=1),
    )
    make_deal(partner_rep, status="lost", lost_reason=lost_reason)
    for zone in ["UTC", "America/St_Johns"]:
        tenant.time_zone = zone
        tenant.save(update_fields=["time_zone"])
        for viewer in [channel_manager, partner_admin, partner_rep]:
            body = api_as(viewer).get("/api/v1/deals/?page_size=200").json()
            with tenant_context(tenant, viewer):
                from deals import selectors

                deals = {
                    deal.pk: deal
                    for deal in selectors.deal_list(actor=viewer).select_related("lost_reason")
                }
                serializer = DealSerializer(context={"viewer": viewer})
                expected = [
                    json.loads(
                        json.dumps(serializer.to_representation(deals[row["id"]]), cls=JSONEncoder)
                    )
                    for row in body["results"]
                ]
            assert len(body["results"]) == len(deals) > 0
            assert body["results"] == expected
            assert [list(row) for row in body["results"]] == [list(row) for row in expected]


def test_the_detail_is_byte_identical_to_the_generic_rendering(
    tenant, acme_deals, make_deal, partner_rep, channel_manager, lost_reason, product
):
    """DealDetailSerializer renders the list row plus its own fields through fields built
    once: the same bytes as DRF's generic rendering, lines, partners and timeline included."""
    from deals import selectors
    from deals.api.serializers import DealDetailSerializer
    from deals.api.views import DealViewSet
    from deals.services import LineInput

    make_deal(
        partner_rep,
        status="won",
        won_amount=Decimal("99.5"),
        closed_on=timezone.localdate() - timedelta(days=1),
        lines=[
            LineInput(product_id=product.pk, quantity=3),
            LineInput(product_id=product.pk, quantity=1),
        ],
    )
    make_deal(partner_rep, status="lost", lost_reason=lost_reason)
    with tenant_context(tenant):  # one approved by the system: a timeline entry with no actor
        from deals.models import EngagementRules

        EngagementRules.objects.update_or_create(
            tenant=tenant, defaults={"auto_approve_max_total": Decimal("1000000")}
        )
    make_deal(partner_rep, status="submitted", customer_name="Quiet Auto Corp")
    for zone in ["UTC", "Asia/Kolkata"]:
        tenant.time_zone = zone
        with tenant_context(tenant):
            deals = list(
                DealViewSet._with_details(
                    Deal.objects.select_related("partner", "registered_by", "lost_reason")
                ).order_by("id")
            )
            serializer = DealDetailSerializer()
            assert any(deal.transitions.all() for deal in deals)
            assert any(deal.further_partners.all() for deal in deals)
            assert any(t.actor_id is None for deal in deals for t in deal.transitions.all())
            for deal in deals:
                fast = json.dumps(serializer._detail_representation(deal), cls=JSONEncoder)
                generic = json.dumps(_generic(serializer, deal), cls=JSONEncoder)
                assert fast == generic
                # From plain rows (what a submit answers with): the same bytes again.
                from_rows = DealDetailSerializer(
                    context={"detail_rows": selectors.deal_detail_rows(deal=deal)}
                )._detail_representation(deal)
                assert json.dumps(from_rows, cls=JSONEncoder) == generic
