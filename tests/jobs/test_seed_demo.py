"""``manage.py seed_demo``: the documented demo logins, idempotent, development only."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import override_settings

from deals.models import (
    Deal,
    DealConflict,
    DealTransition,
    EngagementRules,
    Lead,
    LeadOffer,
    LostReason,
    Product,
)
from partners.models import Invitation, Membership, OutboxEvent, Partner, Tenant, User
from partners.tenancy import dangerously_all_tenants, tenant_context
from partners.tiers import Tier, TierChange, TierCriterion

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "trellis-demo"
LOGIN_URL = "http://127.0.0.1:8000/accounts/login/"

STAFF_ROLES = {
    "admin": "tenant_admin",
    "manager": "channel_manager",
    "finance": "finance",
    "marketing": "marketing",
    "analyst": "analyst",
}
PARTNERS = {
    "acme": {"northwind.test": "Northwind", "contoso.test": "Contoso", "initech.test": "Initech"},
    "globex": {"umbrella.test": "Umbrella", "hooli.test": "Hooli", "vandelay.test": "Vandelay"},
}
# Partners without people or deals, in the other statuses of the partner lifecycle.
OTHER_PARTNERS = {
    "acme": {
        "piedpiper.test": ("Pied Piper", "applicant"),
        "hoolixyz.test": ("Hooli XYZ", "onboarding"),
        "soylent.test": ("Soylent", "suspended"),
    },
    "globex": {"kramerica.test": ("Kramerica", "applicant")},
}

# (email, tenant slug, role, partner domain)
DOCUMENTED_LOGINS = [
    *(
        (f"{local}@{slug}.test", slug, role, None)
        for slug in ("acme", "globex")
        for local, role in STAFF_ROLES.items()
    ),
    *(
        (f"{local}@{domain}", slug, role, domain)
        for slug, partners in PARTNERS.items()
        for domain in partners
        for local, role in (("padmin", "partner_admin"), ("rep", "partner_rep"))
    ),
    ("consultant@both.test", "acme", "analyst", None),
    ("consultant@both.test", "globex", "channel_manager", None),
]


def seed_demo(*args: str) -> str:
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    with dangerously_all_tenants():
        return {
            model.__name__: model.objects.count()
            for model in (
                *(Tenant, User, Partner, Membership, Invitation, OutboxEvent),
                *(Product, LostReason, EngagementRules, Deal, DealTransition, DealConflict),
                *(Lead, LeadOffer),
                *(Tier, TierCriterion, TierChange),
            )
        }


def test_seed_demo_creates_the_tenants_as_documented():
    seed_demo("--quiet")

    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    assert (acme.name, acme.default_currency, acme.time_zone) == (
        "Acme Cloud",
        "USD",
        "America/New_York",
    )
    assert (globex.name, globex.default_currency, globex.time_zone) == (
        "Globex Corporation",
        "EUR",
        "Europe/Berlin",
    )
    for tenant in (acme, globex):
        with tenant_context(tenant):
            assert dict(Partner.objects.values_list("domain", "name")) == {
                **PARTNERS[tenant.slug],
                **{d: name for d, (name, _s) in OTHER_PARTNERS[tenant.slug].items()},
            }
            for domain, (_name, status) in OTHER_PARTNERS[tenant.slug].items():
                assert Partner.objects.get(domain=domain).status == status


def test_each_documented_login_signs_in_with_the_demo_password_and_has_its_role(rf):
    seed_demo("--quiet")  # once for all the logins: the seed has a few hundred rows

    for email, slug, role, partner_domain in DOCUMENTED_LOGINS:
        user = authenticate(rf.post("/accounts/login/"), username=email, password=DEMO_PASSWORD)

        assert user is not None and user.email == email, email
        assert len(user.full_name.split()) >= 2, email  # a realistic name, not the email
        with tenant_context(Tenant.objects.get(slug=slug)):
            membership = Membership.objects.select_related("partner").get(user=user)
        assert membership.role == role, email
        assert membership.is_active, email
        assert (membership.partner.domain if membership.partner else None) == partner_domain


def test_the_consultant_is_a_member_of_both_tenants_and_nobody_else_is():
    seed_demo("--quiet")

    with dangerously_all_tenants():
        multi_tenant = {
            m.user.email
            for m in Membership.objects.select_related("user")
            if Membership.objects.filter(user=m.user).count() > 1
        }
    assert multi_tenant == {"consultant@both.test"}


def test_seed_demo_leaves_pending_invitations_for_the_people_page_without_emailing(mailoutbox):
    output = seed_demo()

    for slug in ("acme", "globex"):
        with tenant_context(Tenant.objects.get(slug=slug)):
            pending = [i for i in Invitation.objects.all() if i.state == "pending"]
            assert pending, f"no pending invitation in {slug}"
            assert all(i.invited_by is not None for i in pending)
    assert mailoutbox == []
    assert "/accounts/invite/" in output  # the accept links are printed instead


def test_seed_demo_prints_the_demo_logins():
    output = seed_demo()

    assert LOGIN_URL in output
    for email, slug, role, _partner in DOCUMENTED_LOGINS:
        assert any(
            email in line and slug in line and role in line for line in output.splitlines()
        ), f"{email} ({slug}, {role}) is missing from the table"


def test_seed_demo_quiet_prints_no_table():
    assert "admin@acme.test" not in seed_demo("--quiet")


def test_running_seed_demo_twice_creates_nothing_new():
    seed_demo("--quiet")
    after_first_run = row_counts()

    output = seed_demo()

    assert row_counts() == after_first_run
    assert after_first_run["Tenant"] == 2
    assert after_first_run["User"] == 5 * 2 + 2 * 3 * 2 + 1
    assert after_first_run["Product"] == 7 * 2
    assert after_first_run["LostReason"] == 5 * 2
    assert after_first_run["EngagementRules"] == 2
    # 26 + 22 seeded deals, and one registration each from an accepted lead
    assert after_first_run["Deal"] == 26 + 22 + 2
    assert after_first_run["Lead"] == 4 * 2
    assert after_first_run["Tier"] == 4 * 2
    assert "admin@acme.test" in output


def test_seed_demo_refuses_to_run_with_debug_off():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", "--quiet")

    assert row_counts() == dict.fromkeys(row_counts(), 0)


# ---------------------------------------------------------------- deal registration


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_seed_demo_gives_every_deals_page_something_to_show(slug):
    seed_demo("--quiet")
    tenant = Tenant.objects.get(slug=slug)

    with tenant_context(tenant):
        demo = Deal.objects.filter(external_id__startswith=f"demo-{slug}-")
        demo_count = demo.count()
        statuses = set(demo.values_list("status", flat=True))
        products = list(Product.objects.all())
        reasons = set(LostReason.objects.values_list("name", flat=True))
        direct_count = demo.filter(partner__isnull=True).count()
        waiting_conflicts = list(
            DealConflict.objects.filter(deal__status="submitted").select_related(
                "deal", "candidate"
            )
        )
        partners = list(Partner.objects.filter(status="active"))
        lead_states = set(Lead.objects.values_list("status", flat=True))
        accepted = Lead.objects.filter(status="accepted").select_related("deal").first()
        extension_asked = demo.filter(status="approved", extension_status="requested").exists()
        timelines = DealTransition.objects.filter(deal__in=demo).count()

    assert 20 <= demo_count <= 30
    assert statuses >= {
        "draft", "submitted", "more_info", "approved", "rejected", "won", "lost", "expired"
    }  # fmt: skip
    assert 6 <= len(products) <= 8
    assert all(p.sku and p.category and p.currency == tenant.default_currency for p in products)
    assert reasons == {"Price", "Competitor", "No budget", "Timing", "Went direct"}
    assert direct_count == 1
    # Conflicting registrations of different partners wait in the review queue, found by
    # domain and by name.
    between_partners = [
        c for c in waiting_conflicts
        if c.candidate.partner_id and c.candidate.partner_id != c.deal.partner_id
    ]  # fmt: skip
    assert len(between_partners) >= 2
    assert {c.match_type for c in between_partners} == {"domain", "name"}
    assert all(p.countries and p.competencies and p.lead_capacity for p in partners)
    assert {"offered", "accepted", "unrouted"} <= lead_states
    assert accepted.deal is not None and accepted.deal.status == "approved"
    assert extension_asked
    assert timelines > demo_count


def test_seed_demo_sets_each_tenants_rules_of_engagement():
    seed_demo("--quiet")

    with tenant_context(Tenant.objects.get(slug="acme")):
        acme = EngagementRules.objects.get()
        auto_approved = Deal.objects.filter(auto_approved=True).count()
    with tenant_context(Tenant.objects.get(slug="globex")):
        globex = EngagementRules.objects.get()

    assert (acme.auto_approve_max_total, acme.auto_approve_currency) == (5000, "USD")
    assert acme.allowed_currencies == ["USD", "EUR", "GBP"]
    assert auto_approved >= 1
    assert globex.allowed_currencies == ["EUR", "CHF"]


# ---------------------------------------------------------------- partner tiers


def tiers_of_partners(slug: str) -> dict[str, str | None]:
    with tenant_context(Tenant.objects.get(slug=slug)):
        active = Partner.objects.filter(status="active")
        return dict(active.values_list("domain", "tier__name"))


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_seed_demo_gives_each_tenant_four_tiers_with_their_benefits(slug):
    seed_demo("--quiet")

    with tenant_context(Tenant.objects.get(slug=slug)):
        tiers = list(
            Tier.objects.order_by("rank").values_list(
                "rank",
                "name",
                "deal_protection_days",
                "lead_routing_priority",
                "commission_multiplier",
            )
        )
        entry_criteria = TierCriterion.objects.filter(tier__rank=1).count()
        silver_metrics = set(
            TierCriterion.objects.filter(tier__rank=2).values_list("metric", flat=True)
        )

    assert tiers == [
        (1, "Registered", 90, 0, Decimal("1.000")),
        (2, "Silver", 90, 1, Decimal("1.050")),
        (3, "Gold", 120, 2, Decimal("1.100")),
        (4, "Platinum", 180, 3, Decimal("1.200")),
    ]
    assert entry_criteria == 0
    assert "deals_registered_90d" in silver_metrics


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_seed_demo_spreads_the_partners_across_at_least_two_tiers(slug):
    seed_demo("--quiet")

    placed = tiers_of_partners(slug)

    assert None not in placed.values()
    assert len(set(placed.values())) >= 2


def test_seed_demo_places_acmes_partners_by_their_demo_deals():
    seed_demo("--quiet")

    assert tiers_of_partners("acme") == {
        "northwind.test": "Gold",
        "contoso.test": "Silver",
        "initech.test": "Registered",
    }


def test_a_second_seed_changes_no_partners_tier():
    seed_demo("--quiet")
    placed = {slug: tiers_of_partners(slug) for slug in ("acme", "globex")}
    with dangerously_all_tenants():
        changes = TierChange.objects.count()

    seed_demo("--quiet")

    assert {slug: tiers_of_partners(slug) for slug in ("acme", "globex")} == placed
    with dangerously_all_tenants():
        assert TierChange.objects.count() == changes
        assert not Partner.objects.filter(tier_shortfall_since__isnull=False).exists()


# ---------------------------------------------------------------- partner management


def test_seed_demo_gives_partners_profiles_managers_and_a_status_history():
    from partners import selectors
    from partners.models import Competency, PartnerStatusChange

    seed_demo("--quiet")

    with tenant_context(Tenant.objects.get(slug="acme")):
        partners = {p.domain: p for p in Partner.objects.all()}
        managers = selectors.partner_managers(partner_ids=[p.pk for p in partners.values()])
        emails = {d: sorted(u.email for u in managers[p.pk]) for d, p in partners.items()}
        competencies = set(Competency.objects.values_list("name", flat=True))
        soylent = partners["soylent.test"]
        soylent_history = list(
            PartnerStatusChange.objects.filter(partner=soylent).values_list(
                "from_status", "to_status"
            )
        )

    assert partners["northwind.test"].legal_name == "Northwind Traders LLC"
    assert partners["contoso.test"].partner_type == "systems_integrator"
    assert all(p.employee_count for d, p in partners.items() if d in PARTNERS["acme"])
    assert all(p.activated_on for d, p in partners.items() if d in PARTNERS["acme"])
    assert emails["northwind.test"] == ["manager@acme.test"]
    assert emails["initech.test"] == ["admin@acme.test"]
    assert emails["piedpiper.test"] == []
    assert set(partners["contoso.test"].competencies) <= competencies
    assert soylent.status_reason.startswith("Unpaid invoices")
    assert soylent_history == [("active", "suspended"), ("", "active")]
