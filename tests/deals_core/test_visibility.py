"""Who sees which deals (deals.selectors), and that the services act only on what the actor
may see and own: partner admins see their organization's deals and those it co-sells on,
reps their own and those shared with them, vendor staff everything, another tenant nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from deals import selectors, services
from deals.models import Deal, DealStatus, DealUserObjectPermission
from deals.selectors import DealFilters
from deals.services import DealInput, LineInput
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory, ProductFactory
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def visible(actor) -> set[int]:
    with tenant_context(actor.tenant, actor):
        return set(selectors.deal_list(actor=actor).values_list("pk", flat=True))


@pytest.fixture
def contoso_admin(tenant, contoso):
    return MembershipFactory(
        tenant=tenant, role="partner_admin", partner=contoso, user__email="padmin@contoso.test"
    )


@pytest.fixture
def book(partner_rep, colleague_rep, contoso_rep, channel_manager, contoso):
    """Northwind's rep and colleague, Contoso's rep, a co-sell and a direct deal."""
    return {
        "mine": DealFactory(actor=partner_rep, status=DealStatus.SUBMITTED),
        "my_draft": DealFactory(actor=partner_rep),
        "colleagues": DealFactory(actor=colleague_rep, status=DealStatus.APPROVED),
        "contosos": DealFactory(actor=contoso_rep, status=DealStatus.SUBMITTED),
        "co_sell": DealFactory(
            actor=colleague_rep,
            status=DealStatus.APPROVED,
            further_partners=[
                (contoso.pk, "co_sell"),
                (PartnerFactory(tenant=contoso.tenant).pk, "influencer"),
            ],
        ),
        "direct": DealFactory(actor=channel_manager, direct=True),
    }


def ids(book, *names) -> set[int]:
    return {book[name].pk for name in names}


def test_a_partner_rep_sees_only_the_deals_they_registered(book, partner_rep):
    assert visible(partner_rep) == ids(book, "mine", "my_draft")


def test_a_partner_rep_also_sees_a_deal_shared_with_them(book, partner_rep, tenant):
    with tenant_context(tenant):
        assign_perm("deals.view_deal", partner_rep.user, book["colleagues"])
    assert DealUserObjectPermission.objects.filter(user=partner_rep.user).count() == 1

    assert visible(partner_rep) == ids(book, "mine", "my_draft", "colleagues")

    with tenant_context(tenant):
        remove_perm("deals.view_deal", partner_rep.user, book["colleagues"])
    assert visible(partner_rep) == ids(book, "mine", "my_draft")


def test_a_partner_admin_sees_the_whole_organizations_deals(book, partner_admin):
    assert visible(partner_admin) == ids(book, "mine", "my_draft", "colleagues", "co_sell")


def test_a_partner_admin_sees_deals_their_organization_is_a_further_partner_on(book, contoso_admin):
    # Once, although the deal has two further partners.
    with tenant_context(contoso_admin.tenant, contoso_admin):
        listed = list(selectors.deal_list(actor=contoso_admin).values_list("pk", flat=True))
    assert sorted(listed) == sorted(ids(book, "contosos", "co_sell"))


def test_a_rep_of_a_further_partner_does_not_see_the_deal_unless_shared(book, contoso_rep):
    assert visible(contoso_rep) == ids(book, "contosos")


@pytest.mark.parametrize(
    "role", ["tenant_admin", "channel_manager", "finance", "marketing", "analyst"]
)
def test_vendor_staff_see_every_deal_of_the_tenant(book, tenant, role):
    staff = MembershipFactory(tenant=tenant, role=role, user__email=f"{role}-x@acme.test")

    assert visible(staff) == ids(book, *book)


def test_an_outsider_of_another_tenant_sees_none_of_them(book, outsider):
    assert visible(outsider) == set()
    with tenant_context(outsider.tenant):
        assert not Deal.objects.filter(pk__in=ids(book, *book)).exists()


def test_an_inactive_member_sees_nothing(book, tenant, partner):
    leaver = MembershipFactory(
        tenant=tenant, role="partner_admin", partner=partner, is_active=False
    )

    assert visible(leaver) == set()


# ---------------------------------------------------------------- services follow visibility


def test_a_rep_cannot_act_on_a_colleagues_deal(colleague_rep, partner_rep, act):
    draft = DealFactory(actor=colleague_rep)

    with pytest.raises(Http404):
        act(partner_rep, services.deal_submit, deal=draft)


def test_a_partner_admin_can_submit_a_reps_draft(partner_rep, partner_admin, act):
    draft = DealFactory(actor=partner_rep)

    submitted = act(partner_admin, services.deal_submit, deal=draft)

    assert submitted.status == DealStatus.SUBMITTED


def test_a_further_partner_cannot_submit_or_edit_or_extend_anothers_registration(
    partner_rep, contoso, contoso_admin, act, tenant
):
    draft = DealFactory(actor=partner_rep, further_partners=[(contoso.pk, "co_sell")])
    approved = DealFactory(
        actor=partner_rep, status=DealStatus.APPROVED, further_partners=[(contoso.pk, "co_sell")]
    )
    product = ProductFactory(tenant=tenant)
    data = DealInput(
        customer_name="Renamed",
        country="US",
        currency="USD",
        expected_close_date=timezone.localdate() + timedelta(days=10),
        lines=[LineInput(product_id=product.pk, quantity=1)],
    )

    with pytest.raises(PermissionDenied):
        act(contoso_admin, services.deal_submit, deal=draft)
    with pytest.raises(PermissionDenied):
        act(contoso_admin, services.deal_update, deal=draft, data=data)
    with pytest.raises(PermissionDenied):
        act(contoso_admin, services.deal_request_extension, deal=approved, reason="Please.")
    with tenant_context(tenant):
        assert Deal.objects.get(pk=draft.pk).status == DealStatus.DRAFT
        assert Deal.objects.get(pk=draft.pk).customer_name != "Renamed"


def test_a_reviewer_of_another_tenant_gets_404_for_a_deal(partner_rep, other_tenant, act):
    deal = DealFactory(actor=partner_rep, status=DealStatus.SUBMITTED)
    globex_manager = MembershipFactory(tenant=other_tenant, role="channel_manager")

    with pytest.raises(Http404):
        act(globex_manager, services.deal_approve, deal=deal)


# ---------------------------------------------------------------- search and queue


def test_search_finds_a_customer_by_name_or_any_form_of_its_domain(
    register, partner_rep, channel_manager
):
    wanted = register(
        partner_rep, customer_name="Blue Harbor Logistics", customer_domain="blueharbor.example"
    )
    register(partner_rep, customer_name="Quillon Pharma", customer_domain="quillon.example")

    for term in ("harbor", "https://www.BlueHarbor.example/x", "blueharbor.example"):
        with tenant_context(channel_manager.tenant, channel_manager):
            found = selectors.deal_search(actor=channel_manager, filters=DealFilters(q=term))
            assert [d.pk for d in found] == [wanted.pk], term


def test_search_filters_by_status_partner_and_direct_and_sorts(
    partner_rep, contoso_rep, channel_manager, contoso, tenant
):
    small = DealFactory(
        actor=partner_rep,
        status=DealStatus.SUBMITTED,
        lines=[LineInput(ProductFactory(tenant=tenant, list_price=Decimal("10")).pk, 1)],
    )
    big = DealFactory(
        actor=contoso_rep,
        status=DealStatus.SUBMITTED,
        lines=[LineInput(ProductFactory(tenant=tenant, list_price=Decimal("99")).pk, 3)],
    )
    direct = DealFactory(actor=channel_manager, direct=True)

    def search(**filters):
        with tenant_context(tenant, channel_manager):
            found = selectors.deal_search(actor=channel_manager, filters=DealFilters(**filters))
            return [d.pk for d in found]

    assert search(status="submitted", sort="total") == [big.pk, small.pk]
    assert search(partner_id=contoso.pk) == [big.pk]
    assert search(direct=True) == [direct.pk]
    assert set(search(direct=False)) == {small.pk, big.pk}
    assert search(sort="oldest") == [small.pk, big.pk, direct.pk]


def test_the_review_queue_lists_submissions_before_more_info_oldest_first(
    partner_rep, channel_manager, tenant
):
    first = DealFactory(actor=partner_rep, status=DealStatus.SUBMITTED)
    waiting = DealFactory(actor=partner_rep, status=DealStatus.MORE_INFO)
    second = DealFactory(actor=partner_rep, status=DealStatus.SUBMITTED)
    DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    DealFactory(actor=partner_rep)

    with tenant_context(tenant, channel_manager):
        queue = [d.pk for d in selectors.review_queue(actor=channel_manager)]

    assert queue == [first.pk, second.pk, waiting.pk]


def test_the_registration_hint_finds_only_the_partners_own_open_registrations(
    register, partner_rep, partner_admin, contoso_rep
):
    own = register(partner_rep, customer_name="Blue Harbor Logistics Inc")
    theirs = register(contoso_rep, customer_name="Blue Harbor Logistics")

    with tenant_context(partner_admin.tenant, partner_admin):
        hint = selectors.own_registrations_for_customer(
            actor=partner_admin, customer_name="blue harbor logistics, llc"
        )
        assert [d.pk for d in hint] == [own.pk]
    with tenant_context(contoso_rep.tenant, contoso_rep):
        hint = selectors.own_registrations_for_customer(
            actor=contoso_rep, customer_name="Nothing Like It", customer_domain="blueharbor.example"
        )
        assert [d.pk for d in hint] == [theirs.pk]
