"""Conflict detection on submit: the same customer by normalized domain, or by a company
name at least as similar as the tenant's threshold in the same country, among the tenant's
open registrations and direct deals. Names were picked by asking pg_trgm (see ``_similarity``,
which each threshold test re-checks so a changed normalization cannot silently move them)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from deals import selectors
from deals.models import DealConflict, DealStatus, MatchType
from deals.normalize import normalize_company
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _similarity(a: str, b: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT similarity(%s, %s)", [normalize_company(a), normalize_company(b)])
        return cursor.fetchone()[0]


def conflicts_of(deal) -> list[tuple[int, str, Decimal]]:
    with tenant_context(deal.tenant):
        rows = DealConflict.objects.filter(deal=deal).order_by("-score", "candidate_id")
        return [(c.candidate_id, c.match_type, c.score) for c in rows]


def stored_count(deal) -> int:
    with tenant_context(deal.tenant):
        deal.refresh_from_db()
    return deal.conflict_count


@pytest.fixture
def first(register, partner_rep):
    """Northwind's registration of Blue Harbor Logistics (blueharbor.example), in the US."""
    return register(
        partner_rep, customer_name="Blue Harbor Logistics", customer_domain="blueharbor.example"
    )


# ---------------------------------------------------------------- domains


@pytest.mark.parametrize(
    "variant",
    [
        "blueharbor.example",
        "BlueHarbor.EXAMPLE",
        "www.blueharbor.example",
        "WWW.BLUEHARBOR.EXAMPLE",
        "https://www.blueharbor.example",
        "http://blueharbor.example/about/team?ref=1#top",
        "blueharbor.example/contact",
        "blueharbor.example.",
        "https://blueharbor.example:443/",
        "procurement@blueharbor.example",
    ],
)
def test_the_same_domain_written_any_way_is_a_conflict(first, register, contoso_rep, variant):
    second = register(contoso_rep, customer_name="Totally Different Name", customer_domain=variant)

    assert conflicts_of(second) == [(first.pk, MatchType.DOMAIN, Decimal("1.000"))]
    assert stored_count(second) == 1


def test_a_different_domain_with_a_different_name_is_no_conflict(first, register, contoso_rep):
    second = register(
        contoso_rep, customer_name="Quillon Pharmaceuticals", customer_domain="blueharbour.example"
    )

    assert conflicts_of(second) == []
    assert stored_count(second) == 0


def test_a_subdomain_is_not_the_same_domain(first, register, contoso_rep):
    second = register(
        contoso_rep,
        customer_name="Quillon Pharmaceuticals",
        customer_domain="eu.blueharbor.example",
    )

    assert conflicts_of(second) == []


@pytest.mark.parametrize(
    "free_mail", ["gmail.com", "GMAIL.com", "www.gmail.com", "jane@gmail.com", "outlook.com"]
)
def test_a_free_mail_domain_never_matches(register, partner_rep, contoso_rep, free_mail):
    register(partner_rep, customer_name="Quillon Pharmaceuticals", customer_domain="gmail.com")

    second = register(contoso_rep, customer_name="Zephyr Bakeries", customer_domain=free_mail)

    assert conflicts_of(second) == []
    with tenant_context(second.tenant):
        second.refresh_from_db()
    assert second.customer_domain_normalized == ""


def test_the_domain_matches_across_countries(first, register, contoso_rep):
    second = register(
        contoso_rep,
        customer_name="BH Logistik",
        customer_domain="blueharbor.example",
        country="DE",
    )

    assert conflicts_of(second) == [(first.pk, MatchType.DOMAIN, Decimal("1.000"))]


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "variant",
    [
        "Blue Harbor Logistics",
        "BLUE HARBOR LOGISTICS",
        "blue harbor logistics",
        "Blue Harbor Logistics, Inc.",
        "Blue Harbor Logistics Inc",
        "Blue-Harbor Logistics Ltd.",
        "Blue Harbor Logistics GmbH",
        "Blue Harbor Logistics GmbH & Co. KG",
        "The Blue Harbor Logistics Company",
        "Blue Harbor Logistics LLC",
        "Blue Harbor Logistics L.L.C.",
        "Blue Harbor Logistics S.A.",
        "Blue Harbor Logistics B.V.",
        "Blue Harbor Logistics plc",
        "Blue Harbor Logistics Pty Ltd",
        "Blue Harbor Logistics Corp.",
        "Blue Harbor Logistics AG",
        "Blue  Harbor  Logistics!",
    ],
)
def test_company_names_are_compared_without_case_punctuation_or_legal_suffix(
    first, register, contoso_rep, variant
):
    second = register(contoso_rep, customer_name=variant, customer_domain="")

    assert normalize_company(variant) == "blue harbor logistics"
    assert conflicts_of(second) == [(first.pk, MatchType.NAME, Decimal("1.000"))]


NAME_CASES = [
    # (registered, submitted, similarity as pg_trgm computes it)
    pytest.param("Meridian", "Meridian Robot", 0.6, id="exactly-at-0.6"),
    pytest.param("Cobalt Mining", "Cobalt Mine", 0.625, id="just-above"),
    pytest.param("Lakeside Dental", "Lakeside Dentistry", 0.5909, id="just-below"),
    pytest.param("Summit Bank", "Summit Bancorp", 0.5882, id="below"),
]


@pytest.mark.parametrize(("registered", "submitted", "expected"), NAME_CASES)
def test_a_similar_name_conflicts_at_or_above_the_default_threshold(
    register, partner_rep, contoso_rep, rules, registered, submitted, expected
):
    assert rules.name_similarity_threshold == Decimal("0.60")
    assert _similarity(registered, submitted) == pytest.approx(expected, abs=1e-4)
    earlier = register(partner_rep, customer_name=registered, customer_domain="")

    later = register(contoso_rep, customer_name=submitted, customer_domain="")

    if expected >= 0.6:
        [(candidate, match, score)] = conflicts_of(later)
        assert (candidate, match) == (earlier.pk, MatchType.NAME)
        assert score == Decimal(str(round(expected, 3)))
    else:
        assert conflicts_of(later) == []


@pytest.mark.parametrize(
    ("submitted", "expected", "conflicts"),
    [
        pytest.param("Kestrels", 0.7, True, id="exactly-at-0.7"),
        pytest.param("Kestrelia", 0.6364, False, id="below-0.7"),
    ],
)
def test_the_threshold_is_the_tenants_own(
    register, partner_rep, contoso_rep, set_rules, submitted, expected, conflicts
):
    # 0.7 is 0.699999988 in single precision, like pg_trgm's similarity: exactly at the
    # threshold must still count.
    set_rules(name_similarity_threshold=Decimal("0.70"))
    assert _similarity("Kestrel", submitted) == pytest.approx(expected, abs=1e-4)
    earlier = register(partner_rep, customer_name="Kestrel", customer_domain="")

    later = register(contoso_rep, customer_name=submitted, customer_domain="")

    assert [c[0] for c in conflicts_of(later)] == ([earlier.pk] if conflicts else [])


def test_a_similar_name_in_another_country_is_no_conflict(register, partner_rep, contoso_rep):
    register(partner_rep, customer_name="Blue Harbor Logistics", customer_domain="", country="US")

    later = register(
        contoso_rep, customer_name="Blue Harbor Logistics", customer_domain="", country="CA"
    )

    assert conflicts_of(later) == []


def test_a_match_by_domain_and_name_is_one_candidate_scored_as_the_domain_match(
    first, register, contoso_rep
):
    later = register(
        contoso_rep, customer_name="Blue Harbour Logistics", customer_domain="blueharbor.example"
    )

    assert conflicts_of(later) == [(first.pk, MatchType.DOMAIN, Decimal("1.000"))]


def test_all_candidates_are_stored_best_first(register, partner_rep, contoso_rep, colleague_rep):
    by_domain = register(
        partner_rep, customer_name="Zephyr Quill", customer_domain="cobalt.example"
    )
    by_name = register(colleague_rep, customer_name="Cobalt Mine", customer_domain="")

    later = register(contoso_rep, customer_name="Cobalt Mining", customer_domain="cobalt.example")

    assert conflicts_of(later) == [
        (by_domain.pk, MatchType.DOMAIN, Decimal("1.000")),
        (by_name.pk, MatchType.NAME, Decimal("0.625")),
    ]
    assert stored_count(later) == 2


# ---------------------------------------------------------------- which deals are candidates


@pytest.mark.parametrize(
    ("status", "is_candidate"),
    [
        (DealStatus.DRAFT, False),
        (DealStatus.SUBMITTED, True),
        (DealStatus.MORE_INFO, True),
        (DealStatus.APPROVED, True),
        (DealStatus.REJECTED, False),
        (DealStatus.WON, False),
        (DealStatus.LOST, False),
        (DealStatus.EXPIRED, False),
    ],
)
def test_only_open_registrations_are_candidates(
    partner_rep, register, contoso_rep, status, is_candidate
):
    earlier = DealFactory(
        actor=partner_rep,
        status=status,
        customer_name="Blue Harbor Logistics",
        customer_domain="blueharbor.example",
    )

    later = register(
        contoso_rep, customer_name="Blue Harbor Logistics", customer_domain="blueharbor.example"
    )

    assert [c[0] for c in conflicts_of(later)] == ([earlier.pk] if is_candidate else [])


def test_an_open_direct_deal_is_a_candidate_and_a_closed_one_is_not(
    channel_manager, register, contoso_rep, act, tenant
):
    from deals import services

    direct = DealFactory(
        actor=channel_manager,
        direct=True,
        customer_name="Blue Harbor Logistics",
        customer_domain="blueharbor.example",
    )
    closed = DealFactory(
        actor=channel_manager,
        direct=True,
        customer_name="Orchard Health",
        customer_domain="orchard.example",
    )
    act(
        channel_manager,
        services.deal_mark_won,
        deal=closed,
        final_amount=Decimal("10"),
        closed_on=closed.expected_close_date.replace(year=2020),
    )

    open_match = register(
        contoso_rep, customer_name="Blue Harbor", customer_domain="blueharbor.example"
    )
    closed_match = register(
        contoso_rep, customer_name="Orchard Health", customer_domain="orchard.example"
    )

    assert direct.is_direct and direct.status == DealStatus.APPROVED
    assert [c[0] for c in conflicts_of(open_match)] == [direct.pk]
    assert conflicts_of(closed_match) == []


def test_another_tenants_deal_never_matches(other_tenant, register, contoso_rep):
    globex_rep = MembershipFactory(
        tenant=other_tenant,
        role="partner_rep",
        partner=PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test"),
        user__email="rep@umbrella.test",
    )
    DealFactory(
        actor=globex_rep,
        status=DealStatus.APPROVED,
        country="US",
        currency="USD",
        customer_name="Blue Harbor Logistics",
        customer_domain="blueharbor.example",
    )

    later = register(
        contoso_rep, customer_name="Blue Harbor Logistics", customer_domain="blueharbor.example"
    )

    assert conflicts_of(later) == []


def test_the_selector_never_returns_another_tenants_deal_even_when_asked_for_its_id(
    other_tenant, tenant, register, partner_rep
):
    globex_rep = MembershipFactory(
        tenant=other_tenant,
        role="partner_rep",
        partner=PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test"),
    )
    foreign = DealFactory(
        actor=globex_rep,
        status=DealStatus.SUBMITTED,
        customer_name="Blue Harbor Logistics",
        customer_domain="blueharbor.example",
    )
    # The raw SQL names the tenant explicitly; row-level security is the net under it.
    with tenant_context(tenant):
        found = selectors.conflict_candidates(
            tenant_id=other_tenant.pk,
            deal_id=None,
            domain="blueharbor.example",
            name="blue harbor logistics",
            country="US",
            threshold=Decimal("0.6"),
        )
    assert foreign.pk not in [row[0] for row in found]
    assert found == []


def test_a_resubmission_replaces_the_stored_candidates(
    first, register, contoso_rep, channel_manager, act, reload
):
    from deals import services
    from deals.services import DealInput

    later = register(contoso_rep, customer_name="Blue Harbor", customer_domain="blueharbor.example")
    act(channel_manager, services.deal_request_info, deal=later, question="Which site?")
    current = reload(later)
    act(
        contoso_rep,
        services.deal_update,
        deal=current,
        data=DealInput(
            customer_name="Quillon Pharmaceuticals",
            customer_domain="quillon.example",
            country=current.country,
            currency=current.currency,
            expected_close_date=current.expected_close_date,
            lines=[
                services.LineInput(product_id=line.product_id, quantity=line.quantity)
                for line in _lines(current)
            ],
        ),
    )

    act(contoso_rep, services.deal_submit, deal=current, comment="It was another customer.")

    assert conflicts_of(later) == []
    assert stored_count(later) == 0


def _lines(deal):
    with tenant_context(deal.tenant):
        return list(deal.lines.all())


def test_the_partner_cannot_see_the_conflicting_registration(first, register, contoso_rep):
    later = register(contoso_rep, customer_name="Blue Harbor", customer_domain="blueharbor.example")

    with tenant_context(contoso_rep.tenant, contoso_rep):
        visible = set(selectors.deal_list(actor=contoso_rep).values_list("pk", flat=True))
    assert visible == {later.pk}
    assert first.pk not in visible
