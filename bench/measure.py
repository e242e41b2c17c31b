"""Time API requests through the real stack against the bare SQL they need (the floor).

Requests go through Django's test client: the real URLconf, every middleware (tenant
resolution by token, CSP, sessions, the throttle's Redis round trip), DRF and the
serializers, with ``DEBUG`` off. Each request is timed ``runs`` times after ``warmup``
untimed runs; its SQL queries are counted once, in a separate request, with
``CaptureQueriesContext``.

The floor of a request is the SQL it cannot do without, sent on the same connection with a
cursor: inside a transaction with ``app.tenant_id`` set (row-level security needs it), the
page's SELECT with its LIMIT (the joins the page shows included), the search's SELECT, and
for a submit the row lock, the conflict-candidate query of
``deals.selectors.conflict_candidates`` and the writes (status, conflicts, timeline row,
outbox event), rolled back so the same drafts are then submitted through the API.

The floor incl. auth adds what any authenticated request must also send, in the same
transaction: the token look-up (the key's hash joined to its membership, user and tenant, one
query) after ``set_config('app.tenant_id', ...)``. The strict floor leaves both out; the two
ratios bracket what the stack itself costs.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals import selectors
from deals import services as deal_services
from deals.models import Deal, Product
from deals.services import DealInput, LineInput
from partners import services as partner_services
from partners.models import ApiToken, Membership, Tenant
from partners.selectors import hash_secret
from partners.tenancy import tenant_context

Log = Callable[[str], None]
BENCH_QUEUE = "trellis-bench"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Row:
    name: str
    timings: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_auth: list[float] = field(default_factory=list)
    queries: int | None = None

    @property
    def p50(self) -> float:
        return percentile(self.timings, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.timings, 0.95)

    @property
    def floor_p50(self) -> float:
        return percentile(self.floor, 0.50)

    @property
    def floor_p95(self) -> float:
        return percentile(self.floor, 0.95)

    @property
    def floor_auth_p50(self) -> float:
        return percentile(self.floor_auth, 0.50)

    @property
    def floor_auth_p95(self) -> float:
        return percentile(self.floor_auth, 0.95)


@dataclass
class Actor:
    tenant: Tenant
    membership: Membership
    client: Client
    token_id: int
    key_hash: str


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class Benchmark:
    def __init__(self, info: dict, *, runs: int, warmup: int, log: Log) -> None:
        self.info = info
        self.runs = runs
        self.warmup = warmup
        self.log = log
        self.rng = random.Random(7)
        self.actors: list[Actor] = []
        self.created_deals: list[tuple[Tenant, int]] = []

    # ------------------------------------------------------------ set-up

    def actor(self, slug: str, email_key: str) -> Actor:
        tenant = Tenant.objects.get(slug=slug)
        email = self.info["tenants"][slug][email_key]
        with tenant_context(tenant):
            membership = Membership.objects.select_related("user", "partner", "tenant").get(
                user__email=email
            )
            issued = partner_services.api_token_issue(actor=membership, name="benchmark")
        client = Client(HTTP_AUTHORIZATION=f"Token {issued.key}")
        actor = Actor(tenant, membership, client, issued.token.pk, hash_secret(issued.key))
        self.actors.append(actor)
        return actor

    def get(self, actor: Actor, path: str, params: dict | None = None):
        response = actor.client.get(path, params or {}, secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {response.status_code} {response.content!r}")
        return response

    def post(self, actor: Actor, path: str, body: dict):
        response = actor.client.post(
            path, json.dumps(body), content_type="application/json", secure=True
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status_code} {response.content!r}")
        return response

    def count_queries(self, call: Callable[[], object]) -> int:
        with CaptureQueriesContext(connection) as captured:
            call()
        return len(captured.captured_queries)

    def time_calls(self, calls: list[Callable[[], object]]) -> list[float]:
        for call in calls[: self.warmup]:
            call()
        timings = []
        for call in calls[self.warmup :]:
            started = time.perf_counter()
            call()
            timings.append(_ms(started))
        return timings

    def repeat(self, call: Callable[[], object]) -> list[Callable[[], object]]:
        return [call] * (self.warmup + self.runs)

    # ------------------------------------------------------------ floors

    @staticmethod
    def _in_tenant(tenant_id: int, cursor) -> None:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])

    TOKEN_SQL = """
        SELECT t.id, t.last_used_at, m.id, m.role, m.partner_id, u.id, u.email, u.full_name,
               n.id, n.time_zone
        FROM partners_apitoken t
        JOIN partners_membership m ON m.id = t.membership_id
        JOIN partners_user u ON u.id = m.user_id
        JOIN partners_tenant n ON n.id = t.tenant_id
        WHERE t.key_hash = %s AND t.revoked_at IS NULL AND m.is_active AND u.is_active
              AND n.is_active
    """

    def _authenticate(self, auth: Actor | None, cursor) -> None:
        """The token look-up of the floor incl. auth (nothing for the strict floor)."""
        if auth is not None:
            cursor.execute(self.TOKEN_SQL, [auth.key_hash])
            cursor.fetchone()

    LIST_SQL = """
        SELECT d.id, d.external_id, d.status, d.customer_name, d.customer_domain, d.country,
               d.contact_name, d.contact_email, d.contact_phone, d.currency, d.total,
               d.expected_close_date, d.stage, d.deal_type, d.partner_id, d.notes,
               d.created_at, d.updated_at, d.submitted_at, d.decided_at, d.auto_approved,
               d.protection_ends_at, d.extension_status, d.won_amount, d.closed_on,
               d.conflict_count, p.id, p.name, u.id, u.full_name, u.email, r.id, r.name
        FROM deals_deal d
        LEFT JOIN partners_partner p ON p.id = d.partner_id
        LEFT JOIN partners_user u ON u.id = d.registered_by_id
        LEFT JOIN deals_lostreason r ON r.id = d.lost_reason_id
        WHERE d.tenant_id = %(tenant)s {where}
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT %(limit)s
    """

    def select_floor(
        self, tenant_id: int, where: str, params: dict, *, auth: Actor | None = None
    ) -> Callable[[], object]:
        sql = self.LIST_SQL.format(where=where)

        def run() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                self._in_tenant(tenant_id, cursor)
                self._authenticate(auth, cursor)
                cursor.execute(sql, {"tenant": tenant_id, **params})
                cursor.fetchall()

        return run

    def submit_floor(
        self, deal: Deal, threshold: Decimal, actor: Actor, *, auth: bool = False
    ) -> Callable[[], object]:
        tenant_id = deal.tenant_id
        tenant = deal.tenant  # loaded once, outside the timed call

        def run() -> None:
            # tenant_context: the same transaction + SET LOCAL as _in_tenant, plus the
            # ContextVar that conflict_candidates' dangerously_bypass_rls() requires.
            with tenant_context(tenant), connection.cursor() as cursor:
                self._authenticate(actor if auth else None, cursor)
                cursor.execute(
                    "SELECT id, status FROM deals_deal WHERE tenant_id = %s AND id = %s FOR UPDATE",
                    [tenant_id, deal.pk],
                )
                cursor.fetchone()
                cursor.execute(
                    "UPDATE deals_deal SET status = 'submitted', submitted_at = now(), "
                    "updated_at = now() WHERE id = %s",
                    [deal.pk],
                )
                found = selectors.conflict_candidates(
                    tenant_id=tenant_id,
                    deal_id=deal.pk,
                    domain=deal.customer_domain_normalized,
                    name=deal.customer_name_normalized,
                    country=deal.country,
                    threshold=threshold,
                )
                if found:
                    values = ", ".join(["(%s, %s, %s, %s, %s, now())"] * len(found))
                    params: list = []
                    for candidate_id, score, by_domain in found:
                        match = "domain" if by_domain else "name"
                        params += [tenant_id, deal.pk, candidate_id, match, round(score, 3)]
                    cursor.execute(
                        "INSERT INTO deals_dealconflict (tenant_id, deal_id, candidate_id, "
                        f"match_type, score, found_at) VALUES {values}",
                        params,
                    )
                cursor.execute(
                    "UPDATE deals_deal SET conflict_count = %s WHERE id = %s",
                    [len(found), deal.pk],
                )
                cursor.execute(
                    "INSERT INTO deals_dealtransition (tenant_id, deal_id, from_status, "
                    "to_status, actor_id, automatic, comment, at) "
                    "VALUES (%s, %s, 'draft', 'submitted', %s, false, '', now())",
                    [tenant_id, deal.pk, actor.membership.user_id],
                )
                cursor.execute(
                    "INSERT INTO partners_outboxevent (tenant_id, name, payload, created_at, "
                    "attempts, last_error) VALUES (%s, 'deal.submitted', %s, now(), 0, '')",
                    [tenant_id, json.dumps({"deal_id": deal.pk})],
                )
                transaction.set_rollback(True)

        return run

    # ------------------------------------------------------------ data for the requests

    def sample_customers(self, tenant: Tenant, *, where: str, count: int) -> list[tuple]:
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(
                "SELECT customer_name, customer_domain, country FROM deals_deal "
                f"WHERE tenant_id = %s AND {where} ORDER BY random() LIMIT %s",
                [tenant.pk, count],
            )
            return cursor.fetchall()

    def make_drafts(self, actor: Actor, count: int) -> list[Deal]:
        """Fresh drafts of the partner rep: a third for customers with open registrations
        (conflicts to find), the rest for customers of any earlier deal."""
        tenant = actor.tenant
        customers = self.sample_customers(
            tenant, where="status IN ('submitted', 'more_info', 'approved')", count=count // 3 + 1
        )
        customers += self.sample_customers(tenant, where="true", count=count)
        self.rng.shuffle(customers)
        with tenant_context(tenant, actor.membership):
            product_ids = list(
                Product.objects.filter(active=True, currency="USD").values_list("pk", flat=True)
            )
            close = timezone.localdate() + timedelta(days=60)
            drafts = []
            for name, domain, country in customers[:count]:
                deal = deal_services.deal_create(
                    actor=actor.membership,
                    data=DealInput(
                        customer_name=name,
                        customer_domain=domain,
                        country=country,
                        currency="USD",
                        expected_close_date=close,
                        lines=[LineInput(product_id=self.rng.choice(product_ids), quantity=5)],
                    ),
                )
                drafts.append(deal)
                self.created_deals.append((tenant, deal.pk))
        return drafts

    # ------------------------------------------------------------ the benchmark

    def run(self) -> list[Row]:
        big = "bench-big"
        small = next(slug for slug in self.info["tenants"] if slug != big)
        manager = self.actor(big, "manager")
        rep = self.actor(big, "partner_rep")
        partner_admin = self.actor(big, "partner_admin")
        small_manager = self.actor(small, "manager")
        tenant_id = manager.tenant.pk
        n = self.warmup + self.runs
        rows: list[Row] = []

        # the fixed cost of an authenticated API request: token, tenant, DRF, throttle, no deals
        self.log("fixed cost ...")
        row = Row("GET /me/ (token auth, no deal query)")
        row.timings = self.time_calls(self.repeat(lambda: self.get(manager, "/api/v1/me/")))
        row.queries = self.count_queries(lambda: self.get(manager, "/api/v1/me/"))
        rows.append(row)

        # (a) the deal list page, as a channel manager of the large tenant
        self.log("list ...")
        row = Row("GET /deals/ (channel manager, 50 a page)")
        row.floor = self.time_calls(self.repeat(self.select_floor(tenant_id, "", {"limit": 51})))
        row.floor_auth = self.time_calls(
            self.repeat(self.select_floor(tenant_id, "", {"limit": 51}, auth=manager))
        )
        row.timings = self.time_calls(self.repeat(lambda: self.get(manager, "/api/v1/deals/")))
        row.queries = self.count_queries(lambda: self.get(manager, "/api/v1/deals/"))
        rows.append(row)

        # (a') the same list as the partner admin of the busiest partner organization
        self.log("list as partner admin ...")
        row = Row("GET /deals/ (partner admin, 50 a page)")
        visible = (
            "AND (d.partner_id = %(partner)s OR d.id IN (SELECT deal_id FROM deals_dealpartner "
            "WHERE tenant_id = %(tenant)s AND partner_id = %(partner)s))"
        )
        visible_params = {"limit": 51, "partner": partner_admin.membership.partner_id}
        row.floor = self.time_calls(
            self.repeat(self.select_floor(tenant_id, visible, visible_params))
        )
        row.floor_auth = self.time_calls(
            self.repeat(self.select_floor(tenant_id, visible, visible_params, auth=partner_admin))
        )
        row.timings = self.time_calls(
            self.repeat(lambda: self.get(partner_admin, "/api/v1/deals/"))
        )
        row.queries = self.count_queries(lambda: self.get(partner_admin, "/api/v1/deals/"))
        rows.append(row)

        # (b) a filtered search: approved deals whose customer name contains what was typed
        self.log("search ...")
        fragments = [
            " ".join(name.split()[:2])
            for name, _d, _c in self.sample_customers(
                manager.tenant, where="status = 'approved'", count=n
            )
        ]
        fragments = [fragments[i % len(fragments)] for i in range(n)]
        row = Row("GET /deals/?status=approved&q=<name>")
        search = "AND d.status = 'approved' AND UPPER(d.customer_name::text) LIKE UPPER(%(q)s)"
        row.floor = self.time_calls(
            [
                self.select_floor(tenant_id, search, {"limit": 51, "q": f"%{fragment}%"})
                for fragment in fragments
            ]
        )
        row.floor_auth = self.time_calls(
            [
                self.select_floor(
                    tenant_id, search, {"limit": 51, "q": f"%{fragment}%"}, auth=manager
                )
                for fragment in fragments
            ]
        )
        row.timings = self.time_calls(
            [
                (
                    lambda q=fragment: self.get(
                        manager, "/api/v1/deals/", {"status": "approved", "q": q}
                    )
                )
                for fragment in fragments
            ]
        )
        row.queries = self.count_queries(
            lambda: self.get(manager, "/api/v1/deals/", {"status": "approved", "q": fragments[0]})
        )
        rows.append(row)

        # (c) submitting fresh drafts (conflict detection included), as a partner rep
        self.log(f"creating {n + 1} drafts to submit ...")
        drafts = self.make_drafts(rep, n + 1)
        with tenant_context(rep.tenant):
            threshold = deal_services.engagement_rules().name_similarity_threshold
        self.log("submit ...")
        row = Row("POST /deals/{id}/submit/ (partner rep)")
        row.floor = self.time_calls([self.submit_floor(d, threshold, rep) for d in drafts[:n]])
        row.floor_auth = self.time_calls(
            [self.submit_floor(d, threshold, rep, auth=True) for d in drafts[:n]]
        )
        row.timings = self.time_calls(
            [(lambda d=d: self.post(rep, f"/api/v1/deals/{d.pk}/submit/", {})) for d in drafts[:n]]
        )
        row.queries = self.count_queries(
            lambda: self.post(rep, f"/api/v1/deals/{drafts[n].pk}/submit/", {})
        )
        rows.append(row)

        # query counts must not grow with the page size or the table size
        self.log("query counts by page size and tenant size ...")
        page_two = self._next_page(manager)
        self.get(small_manager, "/api/v1/deals/")  # its token's first use is recorded once
        self.query_counts = {
            "large tenant, page size 10": self.count_queries(
                lambda: self.get(manager, "/api/v1/deals/", {"page_size": 10})
            ),
            "large tenant, page size 50": rows[1].queries,
            "large tenant, page size 100": self.count_queries(
                lambda: self.get(manager, "/api/v1/deals/", {"page_size": 100})
            ),
            "large tenant, page 2 (cursor)": self.count_queries(
                lambda: self.get(manager, page_two)
            ),
            "small tenant, page size 50": self.count_queries(
                lambda: self.get(small_manager, "/api/v1/deals/")
            ),
        }
        return rows

    def _next_page(self, actor: Actor) -> str:
        parts = urlsplit(self.get(actor, "/api/v1/deals/").json()["next"])
        return f"{parts.path}?{parts.query}"

    # ------------------------------------------------------------ clean-up

    def cleanup(self) -> None:
        """Delete the drafts the run made (and their timeline) and its tokens, so runs do not
        pile up open registrations in the data set."""
        by_tenant: dict[int, tuple[Tenant, list[int]]] = {}
        for tenant, deal_id in self.created_deals:
            by_tenant.setdefault(tenant.pk, (tenant, []))[1].append(deal_id)
        for tenant, ids in by_tenant.values():
            with tenant_context(tenant):
                Deal.objects.filter(pk__in=ids).delete()
        for actor in self.actors:
            with tenant_context(actor.tenant):
                ApiToken.objects.filter(pk=actor.token_id).delete()
        purge_queue(self.log)


def purge_queue(log: Log) -> None:
    """Drop the messages the runs enqueued (to ``BENCH_QUEUE``, which no worker reads)."""
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(BENCH_QUEUE)
    except Exception as exc:
        log(f"(could not purge the {BENCH_QUEUE} queue: {exc})")


# ---------------------------------------------------------------- report


def _table(rows: list[Row]) -> str:
    header = [
        "request",
        "p50 ms",
        "p95 ms",
        "queries",
        "floor p50",
        "floor p95",
        "ratio p50",
        "ratio p95",
        "floor incl. auth p50",
        "floor incl. auth p95",
        "ratio incl. auth p50",
        "ratio incl. auth p95",
    ]
    lines = []
    for row in rows:
        floor = (
            [
                f"{row.floor_p50:.1f}",
                f"{row.floor_p95:.1f}",
                f"{row.p50 / row.floor_p50:.1f}x",
                f"{row.p95 / row.floor_p95:.1f}x",
            ]
            if row.floor
            else ["-"] * 4
        )
        floor_auth = (
            [
                f"{row.floor_auth_p50:.1f}",
                f"{row.floor_auth_p95:.1f}",
                f"{row.p50 / row.floor_auth_p50:.1f}x",
                f"{row.p95 / row.floor_auth_p95:.1f}x",
            ]
            if row.floor_auth
            else ["-"] * 4
        )
        lines.append(
            [row.name, f"{row.p50:.1f}", f"{row.p95:.1f}", str(row.queries), *floor, *floor_auth]
        )
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    separator = (
        "|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":") for i, w in enumerate(widths)) + "|"
    )
    return "\n".join([fmt(header), separator, *(fmt(r) for r in lines)])


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores{memory}, PostgreSQL {connection.pg_version // 10000}"


def run(info: dict, *, runs: int, warmup: int, log: Log) -> str:
    from config.celery import app

    # Events of submitted deals are enqueued on commit; they go to a queue no worker reads
    # (a `make run` worker would look them up in the other database), purged afterwards.
    app.conf.task_default_queue = BENCH_QUEUE
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    bench = Benchmark(info, runs=runs, warmup=warmup, log=log)
    load_before = os.getloadavg()[0]
    try:
        rows = bench.run()
    finally:
        bench.cleanup()
    load_after = os.getloadavg()[0]
    counts = info["counts"]
    params = info["params"]
    steps = info["steps"]
    steps = "; ".join(
        f"{name} {seconds:.0f} s"
        for name, seconds in (steps.items() if isinstance(steps, dict) else steps)
    )
    lines = [
        "",
        f"Machine: {machine()}; load average (1 min) {load_before:.1f} before the runs, "
        f"{load_after:.1f} after.",
        f"Data: {counts['deals_deal']:,} deals ({params['deals']:,} in the large tenant, "
        f"{params['partners']:,} partners; {params['small_tenants']} small tenants of "
        f"{params['small_partners']} partners and {params['small_deals']:,} deals), "
        f"{counts['deals_dealline']:,} deal lines, {counts['deals_dealtransition']:,} timeline "
        f"rows, {counts['partners_user']:,} users.",
        f"Generated in {info.get('total_seconds', 0):.0f} s"
        + (" (earlier; reused now)" if info.get("reused") else "")
        + f": create and migrate {info.get('migrate_seconds', 0):.0f} s; {steps}.",
        f"Runs: {runs} timed after {warmup} warm-up runs per request; times in milliseconds; "
        "ratio = request / SQL floor; incl. auth: the floor plus the token look-up.",
        "",
        _table(rows),
        "",
        "SQL queries per list request:",
        *(f"  {name}: {count}" for name, count in bench.query_counts.items()),
        "  -> "
        + (
            "the same for every page size and table size."
            if len(set(bench.query_counts.values())) == 1
            else "NOT constant: the count depends on the page or the table."
        ),
        "",
    ]
    if max(load_before, load_after) > 1.0:
        lines.append(
            "Warning: the machine was busy (load average above 1): these figures are high."
        )
    report = "\n".join(lines)
    log(report)
    return report
