"""Demo data of deal registration, for ``manage.py seed_demo`` (which finds ``seed_tenant``
here: partners does not import deals).

For each demo tenant: a product catalog, lost reasons, the rules of engagement, where each
partner sells (for lead routing), some 25 deals in every status, conflicting registrations
waiting in the review queue, a direct deal, the partner tiers (Registered, Silver, Gold,
Platinum) with the partners placed by the tier engine, and leads offered, accepted, declined
and unrouted. Everything goes through the services, as a partner user or a channel manager would
do it; only the timestamps are then moved back (``_backdate``), so that the queue shows ages,
protection runs out at different times, and a few registrations have expired.

Idempotent: deals are found by ``external_id`` (``demo-<tenant>-NNN``), products by SKU, lost
reasons by name, tiers by rank and leads by company name, so a second run creates nothing
(and the tier engine, run again, changes nothing).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from deals import catalog, leads, services
from deals import metrics as deal_metrics
from deals.models import (
    Deal,
    DealConflict,
    DealStatus,
    DealTransition,
    Lead,
    LeadOffer,
    LostReason,
    OfferStatus,
    Product,
)
from deals.services import DealInput, FurtherPartnerInput, LineInput
from partners import services as partner_services
from partners.models import Membership, Partner, Tenant
from partners.tier_engine import tiers_evaluate
from partners.tiers import Tier, TierCriterion

S = DealStatus
DIRECT = "direct"


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    category: str
    price: str


@dataclass(frozen=True)
class DemoLine:
    sku: str
    quantity: int
    unit_price: str | None = None  # needed when the deal's currency is not the product's


@dataclass(frozen=True)
class DemoDeal:
    number: int
    by: str  # the registering partner user's email (the manager's, for a direct deal)
    customer: str
    domain: str
    country: str
    currency: str
    lines: tuple[DemoLine, ...]
    status: str  # a DealStatus value, or DIRECT
    age_days: int = 0  # how long ago it was registered (and reviewed)
    stage: str = "qualification"
    deal_type: str = "resell"
    note: str = ""  # the question (more info), the reason (rejected, lost), the extension ask
    won_amount: str | None = None
    further: tuple[tuple[str, str], ...] = ()  # (partner domain, role)
    close_in_days: int = 60


@dataclass(frozen=True)
class DemoLead:
    company: str
    domain: str
    country: str
    value: str
    region: str = ""
    competency: str = ""
    answer: str = ""  # "accept", or a decline reason
    contact: str = ""


@dataclass(frozen=True)
class DemoTier:
    rank: int
    name: str
    description: str
    protection_days: int
    routing_priority: int
    commission_multiplier: str
    criteria: tuple[tuple[str, str], ...] = ()  # (metric key, threshold), operator >=


@dataclass(frozen=True)
class DemoProgram:
    rules: dict
    products: tuple[DemoProduct, ...]
    profiles: dict[str, tuple[list[str], list[str], list[str], int]]  # domain -> where/what
    deals: tuple[DemoDeal, ...]
    leads: tuple[DemoLead, ...]
    tiers: tuple[DemoTier, ...] = ()


LOST_REASONS = ("Price", "Competitor", "No budget", "Timing", "Went direct")
CONTACTS = (
    "Dana Whitfield", "Marco Bianchi", "Aisha Karimi", "Lena Fischer", "Tomás Ortega",
    "Grace Liu", "Henrik Sørensen", "Priya Desai", "Oliver Grant", "Chiara Romano",
)  # fmt: skip

L = DemoLine

REVENUE = deal_metrics.WON_REVENUE_12M
WON = deal_metrics.WON_DEALS_12M
REGISTERED = deal_metrics.DEALS_REGISTERED_90D


def _tiers(silver, gold, platinum) -> tuple[DemoTier, ...]:
    """The four demo tiers; the criteria (thresholds fitted to each tenant's demo deals) vary."""
    return (
        DemoTier(1, "Registered", "Every active partner.", 90, 0, "1.00"),
        DemoTier(2, "Silver", "Partners with a recent win and a steady pipeline.", 90, 1,
                 "1.05", silver),
        DemoTier(3, "Gold", "Partners with significant won revenue.", 120, 2, "1.10", gold),
        DemoTier(4, "Platinum", "The program's top partners.", 180, 3, "1.20", platinum),
    )  # fmt: skip


ACME_DEALS = (
    DemoDeal(1, "rep@northwind.test", "Pinecrest Dental Group", "pinecrestdental.example",
             "US", "USD", (L("ACME-CLD-STD", 5),), S.DRAFT, 2, stage="prospecting"),
    DemoDeal(2, "rep@contoso.test", "Ashford & Wren Solicitors", "ashfordwren.example",
             "GB", "GBP", (L("ACME-SEC-ADV", 3, "1900.00"),), S.DRAFT, 1),
    # Conflict: the same customer domain, registered by Northwind and then by Contoso.
    DemoDeal(3, "rep@northwind.test", "Blue Harbor Logistics", "blueharbor.example", "US",
             "USD", (L("ACME-CLD-ENT", 2), L("ACME-SVC-ONB", 1)), S.SUBMITTED, 4,
             stage="proposal"),
    DemoDeal(4, "rep@contoso.test", "Blue Harbor Logistics Inc.",
             "https://www.blueharbor.example/", "US", "USD", (L("ACME-CLD-ENT", 1),),
             S.SUBMITTED, 3),
    # Conflict: similar company names in the same country, no domain on the second.
    DemoDeal(5, "padmin@initech.test", "Meridian Robotics Ltd", "meridian-robotics.example",
             "GB", "GBP", (L("ACME-EDGE-GW", 10, "1500.00"),), S.SUBMITTED, 2),
    DemoDeal(6, "rep@contoso.test", "Meridian Robotic", "", "GB", "GBP",
             (L("ACME-DATA-WH", 2, "2900.00"),), S.SUBMITTED, 1, stage="prospecting"),
    DemoDeal(7, "rep@northwind.test", "Quillon Pharmaceuticals", "quillon.example", "CA",
             "USD", (L("ACME-SEC-ADV", 4), L("ACME-SUP-PREM", 4)), S.SUBMITTED, 3),
    DemoDeal(8, "rep@initech.test", "Vogel Maschinenbau GmbH", "vogel-maschinenbau.example",
             "DE", "EUR", (L("ACME-EDGE-GW", 6, "1700.00"),), S.SUBMITTED, 0),
    DemoDeal(9, "rep@contoso.test", "Sterling & Pike Insurance", "sterlingpike.example", "IE",
             "EUR", (L("ACME-DATA-WH", 3, "3300.00"),), S.MORE_INFO, 6,
             note="Who is the economic buyer, and is the budget approved for this year?"),
    DemoDeal(10, "padmin@northwind.test", "Cascade Outdoor Supply", "cascadeoutdoor.example",
             "US", "USD", (L("ACME-CLD-STD", 10),), S.MORE_INFO, 5,
             note="Please add the number of stores that will run the platform."),
    # Conflict-free and under 5,000 USD: approved automatically on submit.
    DemoDeal(11, "rep@northwind.test", "Lumen Street Bakery", "lumenstreet.example", "US",
             "USD", (L("ACME-CLD-STD", 2), L("ACME-SUP-PREM", 1)), S.APPROVED, 12),
    DemoDeal(12, "rep@contoso.test", "Orbital Freight Co", "orbitalfreight.example", "US",
             "USD", (L("ACME-CLD-ENT", 3),), S.APPROVED, 20, stage="proposal"),
    # Protection ends within the warning days, and the partner asks for more time.
    DemoDeal(13, "rep@initech.test", "Harrow & Finch Architects", "harrowfinch.example",
             "GB", "GBP", (L("ACME-CLD-STD", 8, "950.00"),), S.APPROVED, 86,
             stage="negotiation", note="The customer's board signs off next month."),
    DemoDeal(14, "rep@northwind.test", "Tidewater Health System", "tidewater-health.example",
             "US", "USD", (L("ACME-SEC-ADV", 10), L("ACME-SVC-ONB", 1)), S.APPROVED, 35,
             deal_type="co_sell", further=(("contoso.test", "co_sell"),),
             stage="negotiation"),
    DemoDeal(15, "padmin@contoso.test", "Granite Peak Capital", "granitepeak.example", "US",
             "USD", (L("ACME-DATA-WH", 4),), S.APPROVED, 10),
    DemoDeal(16, "rep@northwind.test", "Sunrise Yoga Studio", "", "US", "USD",
             (L("ACME-CLD-STD", 5),), S.REJECTED, 15, deal_type="referral",
             note="Already a direct customer of Acme (account 4471)."),
    DemoDeal(17, "rep@contoso.test", "Delta Municipal Water", "deltawater.example", "US",
             "USD", (L("ACME-EDGE-GW", 4),), S.REJECTED, 9,
             note="Public-sector deals go through our federal reseller."),
    DemoDeal(18, "rep@northwind.test", "Evergreen Credit Union", "evergreencu.example", "US",
             "USD", (L("ACME-CLD-ENT", 2), L("ACME-SEC-ADV", 2)), S.WON, 70,
             won_amount="13900.00", stage="closing"),
    DemoDeal(19, "rep@contoso.test", "Kingsbridge Retail Ltd", "kingsbridge.example", "GB",
             "GBP", (L("ACME-CLD-STD", 20, "900.00"),), S.WON, 88, won_amount="17250.00",
             stage="closing"),
    DemoDeal(20, "padmin@initech.test", "Falcon Ridge Logistics", "falconridge.example",
             "DE", "EUR", (L("ACME-EDGE-GW", 12, "1650.00"),), S.WON, 40, stage="closing"),
    DemoDeal(21, "rep@northwind.test", "Maple & Stone Realty", "maplestone.example", "CA",
             "USD", (L("ACME-CLD-STD", 6),), S.LOST, 50, note="Competitor"),
    DemoDeal(22, "rep@contoso.test", "Brightline Media", "brightline.example", "US", "USD",
             (L("ACME-DATA-WH", 2),), S.LOST, 45, note="Price"),
    DemoDeal(23, "rep@initech.test", "Oakmont Biotech", "oakmont-bio.example", "GB", "GBP",
             (L("ACME-SEC-ADV", 5, "1950.00"),), S.EXPIRED, 100),
    DemoDeal(24, "rep@northwind.test", "Silverline Foods", "silverline.example", "US", "USD",
             (L("ACME-CLD-ENT", 2),), S.EXPIRED, 120),
    DemoDeal(25, "manager@acme.test", "Orchard Health Systems", "orchardhealth.example",
             "US", "USD", (L("ACME-CLD-ENT", 5), L("ACME-SVC-ONB", 2)), DIRECT, 25,
             stage="negotiation"),
    # Conflict with the vendor's own direct deal.
    DemoDeal(26, "rep@initech.test", "Orchard Health", "orchardhealth.example", "US", "USD",
             (L("ACME-SEC-ADV", 3),), S.SUBMITTED, 1),
)  # fmt: skip

ACME_LEADS = (
    DemoLead("Harborview Analytics", "harborview.example", "US", "18000.00",
             competency="data analytics", contact="Nadia Brooks"),
    DemoLead("Pinecrest Credit Union", "pinecrestcu.example", "CA", "42000.00",
             competency="security", answer="accept", contact="Paul Tremblay"),
    DemoLead("Brightwater Energy", "brightwater.example", "GB", "26000.00",
             competency="managed services", contact="Fiona Hale",
             answer="Our managed-services team is fully booked this quarter."),
    DemoLead("Kiwi Orchards", "kiwiorchards.example", "NZ", "9000.00", contact="Aroha Ngata"),
)  # fmt: skip

ACME = DemoProgram(
    rules={
        "auto_approve_max_total": Decimal("5000.00"),
        "auto_approve_currency": "USD",
        "allowed_currencies": ["USD", "EUR", "GBP"],
        "review_sla_hours": 48,
    },
    products=(
        DemoProduct("ACME-CLD-STD", "Cloud Platform Standard", "Subscriptions", "1200.00"),
        DemoProduct("ACME-CLD-ENT", "Cloud Platform Enterprise", "Subscriptions", "4800.00"),
        DemoProduct("ACME-SEC-ADV", "Advanced Threat Protection", "Security", "2400.00"),
        DemoProduct("ACME-DATA-WH", "Data Warehouse Add-on", "Data", "3600.00"),
        DemoProduct("ACME-EDGE-GW", "Edge Gateway Appliance", "Hardware", "1850.00"),
        DemoProduct("ACME-SVC-ONB", "Onboarding Services", "Services", "7500.00"),
        DemoProduct("ACME-SUP-PREM", "Premium Support", "Support", "950.00"),
    ),
    profiles={
        "northwind.test": (["US", "CA"], ["north america"], ["cloud migration", "security"], 10),
        "contoso.test": (
            ["US", "GB", "IE"],
            ["north america", "emea"],
            ["data analytics", "cloud migration", "managed services"],
            8,
        ),
        "initech.test": (["GB", "DE", "FR"], ["emea"], ["security", "managed services"], 5),
    },
    deals=ACME_DEALS,
    leads=ACME_LEADS,
    # Revenue counts won deals in USD only: Northwind is Gold, 1,100 short of Platinum;
    # Contoso (its win is in GBP) is Silver; Initech is one registration short of Silver.
    tiers=_tiers(
        silver=((WON, "1"), (REGISTERED, "6")),
        gold=((REVENUE, "10000"), (REGISTERED, "6")),
        platinum=((REVENUE, "15000"), (REGISTERED, "8")),
    ),
)

GLOBEX_DEALS = (
    DemoDeal(1, "rep@umbrella.test", "Bergkristall Hotels", "bergkristall.example", "AT",
             "EUR", (L("GLX-REACT-S", 1),), S.DRAFT, 1, stage="prospecting"),
    # Conflict: the same domain written two ways, Umbrella first, then Hooli.
    DemoDeal(2, "rep@umbrella.test", "Kestrel Analytics GmbH", "kestrel-analytics.example",
             "CH", "CHF", (L("GLX-ANL-PRO", 4, "2300.00"),), S.SUBMITTED, 5),
    DemoDeal(3, "rep@hooli.test", "Kestrel Analytics AG",
             "https://www.kestrel-analytics.example/de/kontakt", "CH", "CHF",
             (L("GLX-TWIN", 1, "5800.00"),), S.SUBMITTED, 2),
    # Conflict: similar names in Germany, no shared domain.
    DemoDeal(4, "rep@vandelay.test", "Lakeside Dental Care", "", "DE", "EUR",
             (L("GLX-SENS-KIT", 10),), S.SUBMITTED, 4),
    DemoDeal(5, "padmin@umbrella.test", "Lakeside Dental", "lakeside-dental.example", "DE",
             "EUR", (L("GLX-ANL-PRO", 2),), S.SUBMITTED, 1),
    DemoDeal(6, "rep@hooli.test", "Trattoria Bellavista", "bellavista.example", "IT", "EUR",
             (L("GLX-ANL-PRO", 1),), S.SUBMITTED, 3, deal_type="referral"),
    DemoDeal(7, "rep@vandelay.test", "Van Dijk Transport B.V.", "vandijk-transport.example",
             "NL", "EUR", (L("GLX-REACT-L", 1), L("GLX-SVC-DPL", 1)), S.MORE_INFO, 7,
             note="Is the deployment for one depot or for all five?"),
    DemoDeal(8, "padmin@hooli.test", "Rossi Ceramiche", "rossiceramiche.example", "IT",
             "EUR", (L("GLX-SENS-KIT", 25),), S.MORE_INFO, 4,
             note="Please attach the customer's request for quotation."),
    DemoDeal(9, "rep@umbrella.test", "Stahlwerk Nord", "stahlwerk-nord.example", "DE", "EUR",
             (L("GLX-REACT-L", 2),), S.APPROVED, 15, stage="proposal"),
    DemoDeal(10, "rep@hooli.test", "Lac Léman Logistique SA", "lacleman.example", "CH", "CHF",
             (L("GLX-TWIN", 2, "5600.00"),), S.APPROVED, 84, stage="negotiation",
             note="Procurement moved the decision to the next quarter."),
    DemoDeal(11, "rep@vandelay.test", "Port of Antwerp Services", "antwerp-port.example",
             "BE", "EUR", (L("GLX-REACT-S", 3), L("GLX-SVC-DPL", 1)), S.APPROVED, 30,
             deal_type="co_sell", further=(("umbrella.test", "influencer"),)),
    DemoDeal(12, "padmin@umbrella.test", "Alpenmilch AG", "alpenmilch.example", "AT", "EUR",
             (L("GLX-SENS-KIT", 40), L("GLX-ANL-PRO", 2)), S.APPROVED, 8),
    DemoDeal(13, "rep@hooli.test", "Pizzeria Da Mario", "", "IT", "EUR",
             (L("GLX-ANL-PRO", 1),), S.REJECTED, 12,
             note="Below the program's minimum deal size."),
    DemoDeal(14, "rep@vandelay.test", "Gemeente Utrecht", "utrecht.example", "NL", "EUR",
             (L("GLX-REACT-S", 1),), S.REJECTED, 10,
             note="Public tenders are handled by Globex directly."),
    DemoDeal(15, "rep@umbrella.test", "Brauerei Falkenstein", "falkenstein-brauerei.example",
             "DE", "EUR", (L("GLX-REACT-S", 2), L("GLX-SUP-247", 2)), S.WON, 60,
             won_amount="9200.00", stage="closing"),
    DemoDeal(16, "rep@hooli.test", "Genève Précision Horlogerie", "geneveprecision.example",
             "CH", "CHF", (L("GLX-TWIN", 1, "5600.00"), L("GLX-SENS-KIT", 10, "700.00")),
             S.WON, 75, won_amount="12400.00", stage="closing"),
    DemoDeal(17, "padmin@vandelay.test", "Rotterdam Cold Storage", "rotterdamcold.example",
             "NL", "EUR", (L("GLX-REACT-L", 1),), S.WON, 45, stage="closing"),
    DemoDeal(18, "rep@umbrella.test", "Innsbruck Seilbahnen", "innsbruck-seilbahn.example",
             "AT", "EUR", (L("GLX-TWIN", 1),), S.LOST, 55, note="Timing"),
    DemoDeal(19, "rep@hooli.test", "Milano Moda", "milanomoda.example", "IT", "EUR",
             (L("GLX-ANL-PRO", 3),), S.LOST, 35, note="Went direct"),
    DemoDeal(20, "rep@vandelay.test", "Ghent Textiles", "ghenttextiles.example", "BE", "EUR",
             (L("GLX-SENS-KIT", 15),), S.EXPIRED, 110),
    DemoDeal(21, "rep@umbrella.test", "Salzburg Mobility", "salzburg-mobility.example", "AT",
             "EUR", (L("GLX-REACT-S", 1),), S.EXPIRED, 95),
    DemoDeal(22, "manager@globex.test", "Helvetia Rail", "helvetiarail.example", "CH", "CHF",
             (L("GLX-REACT-L", 1, "10500.00"),), DIRECT, 18, stage="proposal"),
)  # fmt: skip

GLOBEX_LEADS = (
    DemoLead("Alpenglow Hotels", "alpenglow.example", "AT", "15000.00", region="dach",
             contact="Katharina Huber"),
    DemoLead("Rheinland Werkstatt GmbH", "rheinland-werkstatt.example", "DE", "38000.00",
             competency="industrial iot", answer="accept", contact="Jens Hartmann"),
    DemoLead("Porto Fresco", "portofresco.example", "PT", "7000.00",
             region="southern europe", contact="Inês Carvalho",
             answer="We have no one in Portugal yet."),
    DemoLead("Nordlys Shipping", "nordlys.example", "NO", "21000.00", contact="Sigrid Dahl"),
)  # fmt: skip

GLOBEX = DemoProgram(
    rules={"allowed_currencies": ["EUR", "CHF"], "review_sla_hours": 72},
    products=(
        DemoProduct("GLX-REACT-S", "Reactor Monitoring Small", "Platform", "3200.00"),
        DemoProduct("GLX-REACT-L", "Reactor Monitoring Large", "Platform", "9800.00"),
        DemoProduct("GLX-SENS-KIT", "Sensor Kit", "Hardware", "640.00"),
        DemoProduct("GLX-ANL-PRO", "Analytics Pro", "Software", "2150.00"),
        DemoProduct("GLX-TWIN", "Digital Twin Module", "Software", "5400.00"),
        DemoProduct("GLX-SVC-DPL", "Deployment Services", "Services", "12000.00"),
        DemoProduct("GLX-SUP-247", "Support 24/7", "Support", "1500.00"),
    ),
    profiles={
        "umbrella.test": (["DE", "AT", "CH"], ["dach"], ["industrial iot", "security"], 10),
        "hooli.test": (
            ["CH", "FR", "IT"],
            ["dach", "southern europe"],
            ["data analytics", "industrial iot"],
            8,
        ),
        "vandelay.test": (["NL", "BE", "DE"], ["benelux"], ["logistics", "managed services"], 6),
    },
    deals=GLOBEX_DEALS,
    leads=GLOBEX_LEADS,
    # Revenue counts won deals in EUR only: Vandelay is Gold; Umbrella is Silver, 300 short
    # of Gold; Hooli (its win is in CHF) is Silver.
    tiers=_tiers(
        silver=((WON, "1"), (REGISTERED, "5")),
        gold=((REVENUE, "9500"), (REGISTERED, "5")),
        platinum=((REVENUE, "25000"), (REGISTERED, "8")),
    ),
)

PROGRAMS = {"acme": ACME, "globex": GLOBEX}


def seed_tenant(
    *, tenant: Tenant, memberships: dict[str, Membership], partners: dict[str, Partner]
) -> int:
    """Seed the current tenant's deal registration (inside its tenant_context); returns the
    number of rows of note created (0 when everything is already there)."""
    program = PROGRAMS.get(tenant.slug)
    if program is None:
        return 0
    admin = memberships[f"admin@{tenant.slug}.test"]
    manager = memberships[f"manager@{tenant.slug}.test"]
    created = 0
    _profiles(program, partners)
    _rules(program)
    created += _products(program, admin)
    reasons = {}
    for name in LOST_REASONS:
        # The tenant admin keeps this list in the admin; there is no service for it.
        reasons[name], made = LostReason.objects.get_or_create(tenant=tenant, name=name)
        created += made
    products = {p.sku: p for p in Product.objects.all()}
    expired = False
    for spec in program.deals:
        external_id = f"demo-{tenant.slug}-{spec.number:03d}"
        if Deal.objects.filter(external_id=external_id).exists():
            continue
        _deal(spec, external_id, memberships, manager, partners, products, reasons)
        created += 1
        expired |= spec.status == S.EXPIRED
    if expired:
        services.deals_expire_due()  # the scheduled job, once, for the backdated approvals
    created += _program_tiers(program, tenant)
    # The tier engine, as its nightly job would run it: places the partners in their tiers
    # (before the leads, so that routing weighs the tiers). A second run changes nothing.
    created += len(tiers_evaluate(tenant=tenant, dry_run=False))
    for spec in program.leads:
        if Lead.objects.filter(company_name=spec.company).exists():
            continue
        _lead(spec, manager, memberships)
        created += 1
    return created


def _profiles(program: DemoProgram, partners: dict[str, Partner]) -> None:
    """Where each partner sells and what it knows (used by lead routing)."""
    for domain, (countries, regions, competencies, capacity) in program.profiles.items():
        partner = partners[domain]
        wanted = {
            "countries": countries,
            "regions": regions,
            "competencies": competencies,
            "lead_capacity": capacity,
        }
        # The service keeps list fields sorted; compare them the same way.
        if all(
            getattr(partner, name) == (sorted(value) if isinstance(value, list) else value)
            for name, value in wanted.items()
        ):
            continue
        partners[domain] = partner_services.partner_update(actor=None, partner=partner, **wanted)


def _program_tiers(program: DemoProgram, tenant: Tenant) -> int:
    """The tenant's tiers, found by rank; criteria are added only to a tier made here (the
    tenant admin may have changed them since). The tenant admin keeps tiers in the admin;
    there is no service for them."""
    created = 0
    for spec in program.tiers:
        tier, made = Tier.objects.get_or_create(
            tenant=tenant,
            rank=spec.rank,
            defaults={
                "name": spec.name,
                "description": spec.description,
                "deal_protection_days": spec.protection_days,
                "lead_routing_priority": spec.routing_priority,
                "commission_multiplier": Decimal(spec.commission_multiplier),
            },
        )
        if not made:
            continue
        created += 1
        for metric, threshold in spec.criteria:
            TierCriterion.objects.create(
                tenant=tenant, tier=tier, metric=metric, threshold=Decimal(threshold)
            )
    return created


def _rules(program: DemoProgram) -> None:
    rules = services.engagement_rules()
    if all(getattr(rules, name) == value for name, value in program.rules.items()):
        return
    for name, value in program.rules.items():
        setattr(rules, name, value)
    rules.full_clean()
    rules.save()


def _products(program: DemoProgram, admin: Membership) -> int:
    existing = set(Product.objects.values_list("sku", flat=True))
    created = 0
    for spec in program.products:
        if spec.sku in existing:
            continue
        catalog.product_create(
            actor=admin,
            data=catalog.ProductInput(
                sku=spec.sku,
                name=spec.name,
                category=spec.category,
                list_price=Decimal(spec.price),
                currency=admin.tenant.default_currency,
            ),
        )
        created += 1
    return created


def _deal(spec, external_id, memberships, manager, partners, products, reasons) -> Deal:
    actor = memberships[spec.by]
    today = timezone.localdate()
    contact = CONTACTS[spec.number % len(CONTACTS)]
    mailbox = spec.domain.split("//")[-1].split("/")[0].removeprefix("www.")
    data = DealInput(
        customer_name=spec.customer,
        customer_domain=spec.domain,
        country=spec.country,
        currency=spec.currency,
        expected_close_date=today + timedelta(days=spec.close_in_days),
        contact_name=contact,
        contact_email=_email(contact, mailbox),
        stage=spec.stage,
        deal_type=spec.deal_type,
        external_id=external_id,
        lines=[
            LineInput(
                product_id=products[line.sku].pk,
                quantity=line.quantity,
                unit_price=Decimal(line.unit_price) if line.unit_price else None,
            )
            for line in spec.lines
        ],
        further_partners=[
            FurtherPartnerInput(partner_id=partners[domain].pk, role=role)
            for domain, role in spec.further
        ],
    )
    if spec.status == DIRECT:
        deal = services.deal_create_direct(actor=actor, data=data)
        _backdate(deal, spec.age_days)
        return deal
    deal = services.deal_create(actor=actor, data=data, submit=spec.status != S.DRAFT)
    reviewed = (S.APPROVED, S.WON, S.LOST, S.EXPIRED)
    if spec.status in reviewed and deal.status != S.APPROVED:
        deal = services.deal_approve(actor=manager, deal=deal, comment="Registered first; fits.")
    _backdate(deal, spec.age_days)
    deal.refresh_from_db()
    if spec.status == S.MORE_INFO:
        deal = services.deal_request_info(actor=manager, deal=deal, question=spec.note)
    elif spec.status == S.REJECTED:
        deal = services.deal_reject(actor=manager, deal=deal, reason=spec.note)
    elif spec.status == S.WON:
        deal = services.deal_mark_won(
            actor=actor,
            deal=deal,
            final_amount=Decimal(spec.won_amount) if spec.won_amount else deal.total,
            closed_on=today - timedelta(days=spec.age_days // 6),
        )
    elif spec.status == S.LOST:
        deal = services.deal_mark_lost(actor=actor, deal=deal, reason=reasons[spec.note])
    elif spec.status == S.APPROVED and spec.note:
        deal = services.deal_request_extension(actor=actor, deal=deal, reason=spec.note)
    wanted = S.APPROVED if spec.status == S.EXPIRED else spec.status
    if deal.status != wanted:  # a changed rule (auto-approval, a conflict) broke the story
        raise RuntimeError(f"{external_id} ended {deal.status}, not {wanted}")
    return deal


def _email(person: str, domain: str) -> str:
    """``Tomás Ortega`` at ``orchard.example`` -> ``tomas@orchard.example``."""
    if not domain:
        return ""
    first = unicodedata.normalize("NFKD", person.split()[0].lower())
    return f"{first.encode('ascii', 'ignore').decode()}@{domain}"


def _backdate(deal: Deal, days: int) -> None:
    """Move the deal's history ``days`` into the past (ages in the queue, protection that
    runs out soon or has run out). Order and intervals stay as the services wrote them."""
    if not days:
        return
    delta = timedelta(days=days)
    Deal.objects.filter(pk=deal.pk).update(
        created_at=F("created_at") - delta,
        updated_at=F("updated_at") - delta,
        submitted_at=F("submitted_at") - delta,
        decided_at=F("decided_at") - delta,
        protection_ends_at=F("protection_ends_at") - delta,
    )
    DealTransition.objects.filter(deal=deal).update(at=F("at") - delta)
    DealConflict.objects.filter(deal=deal).update(found_at=F("found_at") - delta)


def _lead(spec: DemoLead, manager: Membership, memberships: dict[str, Membership]) -> Lead:
    lead = leads.lead_create(
        actor=manager,
        data=leads.LeadInput(
            company_name=spec.company,
            company_domain=spec.domain,
            country=spec.country,
            region=spec.region,
            competency=spec.competency,
            contact_name=spec.contact,
            contact_email=_email(spec.contact, spec.domain),
            estimated_value=Decimal(spec.value),
        ),
    )
    if spec.answer:
        offer = LeadOffer.objects.filter(lead=lead, status=OfferStatus.PENDING).first()
        if offer is not None:
            rep = memberships[f"rep@{offer.partner.domain}"]
            if spec.answer == "accept":
                leads.lead_accept(actor=rep, offer=offer)
            else:
                leads.lead_decline(actor=rep, offer=offer, reason=spec.answer)
    return lead
