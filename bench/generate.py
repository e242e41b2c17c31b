"""Generate the benchmark data set fast: PostgreSQL COPY from generated text streams.

One large tenant (20,000 partners with their users, a product catalog, 1,000,000 deals with
their lines, timelines, further partners and shares) and 20 small tenants (50 partners and
2,000 deals each), with distributions a real program would have:

- deals grow over three years (more recent months hold more deals); statuses follow age
  (recent deals are open, old ones won, lost, expired or rejected; approvals whose protection
  ran out are expired, as the expiry job would have done);
- partners are skewed (a few register thousands of deals, most a handful), customers too
  (popular companies are registered by many partners, in the partner's country mostly);
- customer names are typed the way people type them (legal suffixes or not, upper case,
  "The ...", typos, abbreviations) and their normalized columns are computed by
  ``deals.normalize`` exactly as the services do; domains come as URLs, with ``www.``, in
  upper case, empty, or as free mail;
- every deal has 1 to 5 lines (the total is their sum) and its full timeline.

Not generated: simple_history rows, outbox events and stored conflicts of the past (the
benchmark does not read them); ``conflict_count`` is 0 on generated deals.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import random
import string
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from django.contrib.auth.models import Permission
from django.db import models

from bench import database, names
from bench.params import Params
from deals.models import (
    Deal,
    DealLine,
    DealPartner,
    DealTransition,
    DealUserObjectPermission,
    EngagementRules,
    LostReason,
    Product,
)
from deals.normalize import matchable_domain, normalize_company
from partners.models import Membership, Partner, Tenant, User

DAY = 86_400.0
NULL = "\\N"


# ---------------------------------------------------------------- COPY text format


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def encode(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        items = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
        return _escape("{" + ",".join(items) + "}")
    if isinstance(value, dict):
        return _escape(json.dumps(value))
    return _escape(str(value))


def _default(field_: models.Field):
    if field_.has_default():
        return field_.get_default()
    if field_.null:
        return None
    if field_.empty_strings_allowed:
        return ""
    raise ValueError(f"{field_} has no default: the benchmark generator must give it a value.")


class CopyTable:
    """A table written by COPY: the columns the generator fills, then every other column of
    the model with its default (so a column added later does not break the generator)."""

    def __init__(self, model: type[models.Model], columns: list[str]) -> None:
        self.table = model._meta.db_table
        fields = model._meta.concrete_fields
        known = {f.column for f in fields}
        unknown = set(columns) - known
        if unknown:
            raise ValueError(f"{self.table} has no columns {sorted(unknown)}")
        rest = [f for f in fields if f.column not in columns]
        self.columns = [*columns, *(f.column for f in rest)]
        self.tail = "".join("\t" + encode(_default(f)) for f in rest) + "\n"
        self.rows = 0
        self.file = tempfile.TemporaryFile("w+", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115

    def row(self, *values: str) -> str:
        self.rows += 1
        return "\t".join(values) + self.tail

    def write(self, *values: str) -> None:
        self.file.write(self.row(*values))

    def copy_sql(self) -> str:
        columns = ", ".join(f'"{c}"' for c in self.columns)
        return f'COPY "{self.table}" ({columns}) FROM STDIN'


class _Chunks:
    """A file-like object over an iterator of byte chunks (for psycopg2's copy_expert)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def read(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")

    readline = read


def _chunked(rows: Iterable[str], lines: int = 5000) -> Iterator[bytes]:
    batch: list[str] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= lines:
            yield "".join(batch).encode()
            batch.clear()
    if batch:
        yield "".join(batch).encode()


def copy_stream(table: CopyTable, rows: Iterable[str]) -> None:
    with database.bypass_rls_cursor() as cur:
        cur.copy_expert(table.copy_sql(), _Chunks(_chunked(rows)), size=1 << 20)


def copy_file(table: CopyTable) -> None:
    table.file.seek(0)
    with database.bypass_rls_cursor() as cur:
        cur.copy_expert(table.copy_sql(), table.file, size=1 << 20)
    table.file.close()


# ---------------------------------------------------------------- small helpers


def ts_text(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(ts))


def date_text(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Weighted:
    """Pick from weighted choices with one random number (faster than random.choices)."""

    def __init__(self, items: Iterable[tuple[object, float]]) -> None:
        self.values: list = []
        self.cumulative: list[float] = []
        total = 0.0
        for value, weight in items:
            total += weight
            self.values.append(value)
            self.cumulative.append(total)
        self.total = total

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


class Ids:
    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def next(self, table: str) -> int:
        value = self.last.get(table, 0) + 1
        self.last[table] = value
        return value


# ---------------------------------------------------------------- the world's companies


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    country: str


def make_companies(rng: random.Random, count: int) -> dict[str, list[Company]]:
    """Customer companies by country, most popular first (deals pick them by a power law)."""
    countries = Weighted((code, spec[0]) for code, spec in names.COUNTRIES.items())
    seen: set[str] = set()
    by_country: dict[str, list[Company]] = {code: [] for code in names.COUNTRIES}
    while len(seen) < count:
        first = rng.choice(names.FIRST_WORDS)
        second = rng.choice(names.SECOND_WORDS)
        industry = rng.choice(names.INDUSTRIES)
        style = rng.random()
        if style < 0.55:
            name = f"{first} {second} {industry}"
        elif style < 0.85:
            name = f"{first}{second.lower()} {industry}"
        else:
            name = f"{first} {industry}"
        if name in seen:
            continue
        seen.add(name)
        country = countries.pick(rng)
        tld = names.COUNTRIES[country][2]
        domain = name.lower().replace(" ", "") + "." + tld
        by_country[country].append(Company(name=name, domain=domain, country=country))
    return by_country


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 6:
        return text
    i = rng.randrange(1, len(text) - 2)
    if text[i] == " " or text[i + 1] == " ":
        return text
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def customer_name(rng: random.Random, company: Company) -> str:
    """How a partner types the customer's name."""
    base = company.name
    r = rng.random()
    if r < 0.55:
        return f"{base} {rng.choice(names.COUNTRIES[company.country][1])}"
    if r < 0.72:
        return base
    if r < 0.77:
        return base.upper()
    if r < 0.82:
        return f"The {base}"
    if r < 0.88:
        return _typo(rng, base)
    if r < 0.94:
        words = base.split(" ")
        words[-1] = names.ABBREVIATIONS.get(words[-1], words[-1] + " Group")
        return " ".join(words)
    return f"{base}, {rng.choice(names.COUNTRIES[company.country][1])}"


def customer_domain(rng: random.Random, company: Company) -> str:
    r = rng.random()
    if r < 0.55:
        return company.domain
    if r < 0.65:
        return "www." + company.domain
    if r < 0.70:
        return f"https://www.{company.domain}/"
    if r < 0.73:
        return company.domain.upper()
    if r < 0.85:
        return ""
    if r < 0.90:
        return rng.choice(names.FREE_MAIL)
    return "http://" + company.domain


# ---------------------------------------------------------------- tables


@dataclass
class Tables:
    tenant: CopyTable
    user: CopyTable
    partner: CopyTable
    membership: CopyTable
    product: CopyTable
    rules: CopyTable
    lost_reason: CopyTable
    deal: CopyTable
    line: CopyTable
    further: CopyTable
    transition: CopyTable
    grant: CopyTable

    @classmethod
    def create(cls) -> Tables:
        return cls(
            tenant=CopyTable(
                Tenant,
                [
                    "id",
                    "name",
                    "slug",
                    "default_currency",
                    "time_zone",
                    "settings",
                    "is_active",
                    "created_at",
                ],
            ),
            user=CopyTable(
                User,
                [
                    "id",
                    "password",
                    "last_login",
                    "is_superuser",
                    "email",
                    "full_name",
                    "is_active",
                    "is_staff",
                    "date_joined",
                ],
            ),
            partner=CopyTable(
                Partner,
                [
                    "id",
                    "tenant_id",
                    "name",
                    "domain",
                    "status",
                    "countries",
                    "regions",
                    "competencies",
                    "lead_capacity",
                    "created_at",
                ],
            ),
            membership=CopyTable(
                Membership,
                ["id", "tenant_id", "user_id", "role", "partner_id", "is_active", "created_at"],
            ),
            product=CopyTable(
                Product,
                ["id", "tenant_id", "sku", "name", "category", "list_price", "currency", "active"],
            ),
            rules=CopyTable(EngagementRules, ["id", "tenant_id", "allowed_currencies"]),
            lost_reason=CopyTable(LostReason, ["id", "tenant_id", "name", "active"]),
            deal=CopyTable(
                Deal,
                [
                    "id",
                    "tenant_id",
                    "customer_name",
                    "customer_domain",
                    "customer_name_normalized",
                    "customer_domain_normalized",
                    "country",
                    "contact_name",
                    "contact_email",
                    "contact_phone",
                    "currency",
                    "total",
                    "expected_close_date",
                    "stage",
                    "deal_type",
                    "status",
                    "partner_id",
                    "registered_by_id",
                    "notes",
                    "created_at",
                    "updated_at",
                    "submitted_at",
                    "decided_at",
                    "decided_by_id",
                    "auto_approved",
                    "conflict_count",
                    "protection_ends_at",
                    "expiry_warning_sent_at",
                    "extension_status",
                    "extension_reason",
                    "won_amount",
                    "closed_on",
                    "lost_reason_id",
                    "external_id",
                ],
            ),
            line=CopyTable(
                DealLine,
                ["id", "tenant_id", "deal_id", "product_id", "quantity", "unit_price", "amount"],
            ),
            further=CopyTable(DealPartner, ["id", "tenant_id", "deal_id", "partner_id", "role"]),
            transition=CopyTable(
                DealTransition,
                [
                    "id",
                    "tenant_id",
                    "deal_id",
                    "from_status",
                    "to_status",
                    "actor_id",
                    "automatic",
                    "comment",
                    "at",
                ],
            ),
            grant=CopyTable(
                DealUserObjectPermission, ["id", "permission_id", "user_id", "content_object_id"]
            ),
        )

    def all(self) -> list[CopyTable]:
        return [
            self.tenant,
            self.user,
            self.partner,
            self.membership,
            self.product,
            self.rules,
            self.lost_reason,
            self.deal,
            self.line,
            self.further,
            self.transition,
            self.grant,
        ]


# ---------------------------------------------------------------- one tenant


@dataclass
class PartnerRow:
    id: int
    country: str
    admin_id: int
    rep_ids: list[int]
    user_ids: list[int]


@dataclass
class TenantPlan:
    slug: str
    name: str
    partners: int
    deals: int
    managers: int
    products: int


@dataclass
class TenantMade:
    id: int
    slug: str
    manager_ids: list[int] = field(default_factory=list)
    partners: list[PartnerRow] = field(default_factory=list)
    product_prices: list[tuple[int, int]] = field(default_factory=list)  # (id, list cents)
    lost_reasons: list[tuple[int, str]] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)


RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}
STATUS_BY_AGE = [
    (
        30,
        Weighted(
            [
                ("draft", 15),
                ("submitted", 25),
                ("more_info", 5),
                ("approved", 40),
                ("rejected", 5),
                ("won", 7),
                ("lost", 3),
            ]
        ),
    ),
    (
        120,
        Weighted(
            [
                ("draft", 3),
                ("submitted", 4),
                ("more_info", 2),
                ("approved", 44),
                ("rejected", 8),
                ("won", 22),
                ("lost", 12),
                ("expired", 5),
            ]
        ),
    ),
    (
        math.inf,
        Weighted([("draft", 3), ("rejected", 12), ("won", 42), ("lost", 28), ("expired", 15)]),
    ),
]
STAGES = Weighted(
    [
        ("prospecting", 30),
        ("qualification", 25),
        ("proposal", 20),
        ("negotiation", 15),
        ("closing", 10),
    ]
)
DEAL_TYPES = Weighted([("resell", 60), ("referral", 25), ("co_sell", 15)])
LINE_COUNTS = Weighted([(1, 60), (2, 25), (3, 10), (4, 3), (5, 2)])
QUANTITIES = [1, 1, 1, 1, 2, 3, 5, 5, 10, 10, 20, 25, 50, 100, 250]
PARTNER_STATUSES = Weighted(
    [("active", 90), ("onboarding", 5), ("suspended", 3), ("offboarded", 2)]
)
FURTHER_ROLES = ["co_sell", "influencer", "fulfillment", "referrer"]
PASSWORD = "!benchmark-unusable-password"  # "!" prefix: Django's unusable password


class Generator:
    def __init__(self, params: Params, *, log: Callable[[str], None]) -> None:
        self.params = params
        self.log = log
        self.rng = random.Random(params.seed)
        self.now = float(int(time.time()))
        self.ids = Ids()
        self.tables = Tables.create()
        self.view_deal_permission = Permission.objects.get(
            content_type__app_label="deals", codename="view_deal"
        ).pk
        self.normalized_names: dict[str, str] = {}
        self.matchable_domains: dict[str, str] = {}

    # -- people

    def _user(self, email: str, *, since: float) -> int:
        uid = self.ids.next("user")
        name = f"{self.rng.choice(names.FIRST_NAMES)} {self.rng.choice(names.LAST_NAMES)}"
        self.tables.user.write(str(uid), PASSWORD, NULL, "f", email, name, "t", "f", ts_text(since))
        return uid

    def _membership(
        self, tenant_id: int, user_id: int, role: str, partner_id: int | None, *, since: float
    ) -> None:
        self.tables.membership.write(
            str(self.ids.next("membership")),
            str(tenant_id),
            str(user_id),
            role,
            NULL if partner_id is None else str(partner_id),
            "t",
            ts_text(since),
        )

    # -- a tenant and its catalog, people and partners

    def make_tenant(self, plan: TenantPlan) -> TenantMade:
        rng = self.rng
        start = self.now - self.params.years * 365 * DAY
        tenant_id = self.ids.next("tenant")
        made = TenantMade(id=tenant_id, slug=plan.slug)
        self.tables.tenant.write(
            str(tenant_id), plan.name, plan.slug, "USD", "UTC", "{}", "t", ts_text(start - DAY)
        )
        staff = [("tenant_admin", "admin"), ("finance", "finance"), ("analyst", "analyst")]
        staff += [("channel_manager", f"manager{k}") for k in range(1, plan.managers + 1)]
        for role, local in staff:
            email = f"{local}@{plan.slug}.test"
            uid = self._user(email, since=start)
            self._membership(tenant_id, uid, role, None, since=start)
            if role == "channel_manager":
                made.manager_ids.append(uid)
        made.emails["manager"] = f"manager1@{plan.slug}.test"

        self.tables.rules.write(
            str(self.ids.next("engagementrules")), str(tenant_id), encode(["USD", "EUR", "GBP"])
        )
        for reason in names.LOST_REASONS:
            rid = self.ids.next("lostreason")
            self.tables.lost_reason.write(str(rid), str(tenant_id), reason, "t")
            made.lost_reasons.append((rid, reason))

        editions = [(line, edition) for line, eds in names.PRODUCT_LINES for edition in eds]
        for n in range(plan.products):
            line, edition = editions[n % len(editions)]
            generation = n // len(editions)
            product_name = f"{line} {edition}" + (f" v{generation + 1}" if generation else "")
            cents = rng.choice([49, 99, 199, 499, 999, 2499, 4999, 9999, 24999]) * 100
            pid = self.ids.next("product")
            active = "t" if rng.random() < 0.95 else "f"
            self.tables.product.write(
                str(pid),
                str(tenant_id),
                f"{line[:3].upper()}-{n + 1:05d}",
                product_name,
                line,
                money(cents),
                "USD",
                active,
            )
            if active == "t":
                made.product_prices.append((pid, cents))

        countries = Weighted((code, spec[0]) for code, spec in names.COUNTRIES.items())
        by_region: dict[str, list[str]] = {}
        for code, region in names.REGIONS.items():
            by_region.setdefault(region, []).append(code)
        seen: set[str] = set()
        for index in range(plan.partners):
            while True:
                base = (
                    f"{rng.choice(names.FIRST_WORDS)} {rng.choice(names.SECOND_WORDS)} "
                    f"{rng.choice(names.PARTNER_KINDS)}"
                )
                domain = "".join(ch for ch in base.lower() if ch in string.ascii_lowercase)
                domain += ".net"
                if base not in seen and domain not in seen:
                    seen.update((base, domain))
                    break
            partner_id = self.ids.next("partner")
            home = countries.pick(rng)
            served = sorted({home, *rng.sample(by_region[names.REGIONS[home]], k=1)})
            since = start - rng.random() * 2 * 365 * DAY
            status = "active" if index < 10 else PARTNER_STATUSES.pick(rng)
            self.tables.partner.write(
                str(partner_id),
                str(tenant_id),
                base,
                domain,
                status,
                encode(served),
                encode([names.REGIONS[home]]),
                encode(rng.sample(names.COMPETENCIES, k=rng.randint(1, 3))),
                "10",
                ts_text(since),
            )
            admin_id = self._user(f"admin.{partner_id}@{domain}", since=since)
            self._membership(tenant_id, admin_id, "partner_admin", partner_id, since=since)
            reps = []
            for k in range(1 + rng.randrange(3)):
                rep_id = self._user(f"rep{k + 1}.{partner_id}@{domain}", since=since)
                self._membership(tenant_id, rep_id, "partner_rep", partner_id, since=since)
                reps.append(rep_id)
            made.partners.append(
                PartnerRow(partner_id, home, admin_id, reps, [admin_id, *reps, *reps])
            )
            if index == 0:
                made.emails["partner_admin"] = f"admin.{partner_id}@{domain}"
                made.emails["partner_rep"] = f"rep1.{partner_id}@{domain}"
        return made

    # -- deals

    def _normalized(self, name: str) -> str:
        value = self.normalized_names.get(name)
        if value is None:
            value = self.normalized_names[name] = normalize_company(name)
        return value

    def _matchable(self, domain: str) -> str:
        value = self.matchable_domains.get(domain)
        if value is None:
            value = self.matchable_domains[domain] = matchable_domain(domain)
        return value

    def deal_rows(
        self, made: TenantMade, count: int, companies: dict[str, list[Company]]
    ) -> Iterator[str]:
        rng = self.rng
        t = self.tables
        now = self.now
        span = self.params.years * 365 * DAY
        start = now - span
        tenant = str(made.id)
        countries = Weighted((code, spec[0]) for code, spec in names.COUNTRIES.items())
        n_partners = len(made.partners)
        n_products = len(made.product_prices)
        # Growing program: the density of deals rises linearly (x2 over the period).
        stamps = sorted(start + span * (math.sqrt(1 + 3 * rng.random()) - 1) for _ in range(count))
        protection = 90 * DAY
        for created in stamps:
            deal_id = self.ids.next("deal")
            deal = str(deal_id)
            age = (now - created) / DAY
            direct = rng.random() < 0.03
            partner: PartnerRow | None = None
            if direct:
                registrant = rng.choice(made.manager_ids)
                country = countries.pick(rng)
                status = "approved" if age < 90 else ("won" if rng.random() < 0.6 else "lost")
            else:
                partner = made.partners[int(n_partners * rng.random() ** 2.2)]
                registrant = rng.choice(partner.user_ids)
                country = partner.country if rng.random() < 0.8 else countries.pick(rng)
                for limit, statuses in STATUS_BY_AGE:
                    if age < limit:
                        status = statuses.pick(rng)
                        break
            pool = companies[country] or companies["US"]
            company = pool[int(len(pool) * rng.random() ** 1.6)]
            name = customer_name(rng, company)
            domain_text = customer_domain(rng, company)
            currency = names.COUNTRIES[country][3]

            # lines and total
            total = 0
            for _ in range(LINE_COUNTS.pick(rng)):
                product_id, cents = made.product_prices[int(n_products * rng.random() ** 2)]
                price = cents if currency == "USD" else int(cents * RATES[currency])
                quantity = rng.choice(QUANTITIES)
                amount = price * quantity
                total += amount
                t.line.write(
                    str(self.ids.next("dealline")),
                    tenant,
                    deal,
                    str(product_id),
                    str(quantity),
                    money(price),
                    money(amount),
                )

            # the timeline
            submitted = decided = closed = prot_end = warned = None
            decider = rng.choice(made.manager_ids)
            auto = False
            events: list[tuple[str, str, str, str, str, float]] = []
            if direct:
                submitted = decided = created
                events.append(
                    ("", "approved", str(registrant), "f", "Direct deal recorded.", created)
                )
                decider = registrant
            else:
                events.append(("", "draft", str(registrant), "f", "", created))
                if status != "draft":
                    submitted = min(created + rng.random() * 3 * DAY, now - 60)
                    events.append(("draft", "submitted", str(registrant), "f", "", submitted))
                if status not in ("draft", "submitted"):
                    decided = min(submitted + 3600 + rng.random() * 5 * DAY, now - 30)
            if status in ("approved", "won", "lost", "expired") and not direct:
                if decided + protection < now and status == "approved":
                    status = "expired"
                if status == "expired" and decided + protection >= now:
                    status = "approved"
                prot_end = decided + protection
                auto = rng.random() < 0.25
                events.append(
                    (
                        "submitted",
                        "approved",
                        NULL if auto else str(decider),
                        "t" if auto else "f",
                        "Approved automatically: no conflict, within limit." if auto else "",
                        decided,
                    )
                )
            elif status == "rejected":
                events.append(
                    (
                        "submitted",
                        "rejected",
                        str(decider),
                        "f",
                        "Duplicate of an existing registration.",
                        decided,
                    )
                )
            elif status == "more_info":
                events.append(
                    (
                        "submitted",
                        "more_info",
                        str(decider),
                        "f",
                        "Please confirm the budget and the decision maker.",
                        decided,
                    )
                )
            lost_reason = NULL
            won_amount = NULL
            if status in ("won", "lost"):
                closed = min(decided + (7 + rng.random() * 80) * DAY, now - 10)
                if status == "won":
                    won_amount = money(int(total * (0.85 + rng.random() * 0.2)))
                    events.append(("approved", "won", str(registrant), "f", "", closed))
                else:
                    reason_id, reason = rng.choice(made.lost_reasons)
                    lost_reason = str(reason_id)
                    events.append(("approved", "lost", str(registrant), "f", reason, closed))
            elif status == "expired":
                warned = prot_end - 7 * DAY
                events.append(("approved", "expired", NULL, "t", "Protection ended.", prot_end))
            elif status == "approved" and prot_end is not None and prot_end - 7 * DAY <= now:
                warned = prot_end - 7 * DAY
            for from_status, to_status, actor, automatic, comment, at in events:
                t.transition.write(
                    str(self.ids.next("dealtransition")),
                    tenant,
                    deal,
                    from_status,
                    to_status,
                    actor,
                    automatic,
                    comment,
                    ts_text(at),
                )

            if partner is not None:
                if rng.random() < 0.03 and n_partners > 1:
                    other = made.partners[rng.randrange(n_partners)]
                    if other.id != partner.id:
                        t.further.write(
                            str(self.ids.next("dealpartner")),
                            tenant,
                            deal,
                            str(other.id),
                            rng.choice(FURTHER_ROLES),
                        )
                if rng.random() < 0.01 and len(partner.rep_ids) > 1:
                    colleague = rng.choice(partner.rep_ids)
                    if colleague != registrant:
                        t.grant.write(
                            str(self.ids.next("dealuserobjectpermission")),
                            str(self.view_deal_permission),
                            str(colleague),
                            deal,
                        )

            contact_name = contact_email = contact_phone = ""
            if rng.random() < 0.85:
                first = rng.choice(names.FIRST_NAMES)
                last = rng.choice(names.LAST_NAMES)
                contact_name = f"{first} {last}"
                if rng.random() < 0.8:
                    contact_email = f"{first}.{last}@{company.domain}".lower()
                if rng.random() < 0.4:
                    contact_phone = f"+1 555 {rng.randrange(1000000, 9999999)}"
            last_event = events[-1][5]
            yield t.deal.row(
                deal,
                tenant,
                name,
                domain_text,
                self._normalized(name),
                self._matchable(domain_text),
                country,
                contact_name,
                contact_email,
                contact_phone,
                currency,
                money(total),
                date_text(created + (20 + rng.random() * 160) * DAY),
                "closing" if status == "won" else STAGES.pick(rng),
                DEAL_TYPES.pick(rng),
                status,
                NULL if partner is None else str(partner.id),
                str(registrant),
                rng.choice(names.NOTES) if rng.random() < 0.1 else "",
                ts_text(created),
                ts_text(last_event),
                NULL if submitted is None else ts_text(submitted),
                NULL if decided is None or status == "more_info" else ts_text(decided),
                NULL if decided is None or auto or status == "more_info" else str(decider),
                "t" if auto else "f",
                "0",
                NULL if prot_end is None else ts_text(prot_end),
                NULL if warned is None else ts_text(warned),
                "none",
                "",
                won_amount,
                NULL if closed is None else date_text(closed),
                lost_reason,
                "",
            )


# ---------------------------------------------------------------- the whole data set


LOADED_TABLES = [
    "partners_tenant",
    "partners_user",
    "partners_partner",
    "partners_membership",
    "deals_product",
    "deals_engagementrules",
    "deals_lostreason",
    "deals_deal",
    "deals_dealline",
    "deals_dealpartner",
    "deals_dealtransition",
    "deals_dealuserobjectpermission",
]


def generate(params: Params, *, log: Callable[[str], None]) -> dict:
    """Fill the (freshly migrated, empty) benchmark database. Returns what the measurement
    needs to know (tenants and actors) and the row counts and timings."""
    started = time.perf_counter()
    steps: list[tuple[str, float]] = []  # in order (a JSON object in jsonb would not keep it)

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        steps.append((name, round(now - since, 1)))
        log(f"  {name}: {now - since:.1f} s")
        return now

    deferred = database.defer_indexes_and_keys(LOADED_TABLES)
    gen = Generator(params, log=log)
    t0 = time.perf_counter()
    companies = make_companies(gen.rng, max(200, params.deals // 4))
    plans = [TenantPlan("bench-big", "Bench Big Co", params.partners, params.deals, 10, 300)]
    plans += [
        TenantPlan(
            f"bench-small-{n:02d}",
            f"Bench Small {n:02d}",
            params.small_partners,
            params.small_deals,
            2,
            40,
        )
        for n in range(1, params.small_tenants + 1)
    ]
    made = [gen.make_tenant(plan) for plan in plans]
    t0 = step("tenants, users, partners, products (generated)", t0)

    def all_deals() -> Iterator[str]:
        for plan, tenant in zip(plans, made, strict=True):
            yield from gen.deal_rows(tenant, plan.deals, companies)

    copy_stream(gen.tables.deal, all_deals())
    t0 = step(f"deals generated and copied ({gen.tables.deal.rows:,} rows)", t0)
    others = sorted(
        (table for table in gen.tables.all() if table is not gen.tables.deal),
        key=lambda table: table.rows,
        reverse=True,
    )
    database.parallel([lambda table=table: copy_file(table) for table in others])
    t0 = step("other tables copied", t0)
    counts = {table.table: table.rows for table in gen.tables.all()}
    database.restore_indexes_and_keys(deferred, rows=counts)
    t0 = step(
        f"{len(deferred.indexes)} indexes and {len(deferred.foreign_keys)} foreign keys rebuilt", t0
    )
    database.set_sequences(
        {
            table.table: gen.ids.last.get(table.table.split("_", 1)[1], 0)
            for table in gen.tables.all()
        }
    )
    database.vacuum_analyze(LOADED_TABLES)
    step("VACUUM ANALYZE", t0)
    return {
        "params": asdict(params),
        "tenants": {m.slug: {"id": m.id, **m.emails} for m in made},
        "counts": counts,
        "steps": steps,
        "seconds": round(time.perf_counter() - started, 1),
        "pid": os.getpid(),
    }
