"""Time the tier engine over the large tenant against the bare SQL of its metrics (the floor).

The large tenant gets a ladder of four tiers once (Registered without criteria, then Silver,
Gold and Platinum with a criterion on every registered metric), thresholds taken from the
data's own distribution so the partners spread across the tiers. The tiers carry no benefit
that the deal benchmark would feel (no deal-protection days, no auto-approval override).

Measured, each ``runs`` times (median and best):

- the floor: the SQL the registered metrics run, captured once from
  ``partners.metrics.evaluate`` and sent again as text on the same connection (inside a
  transaction with ``app.tenant_id`` set, as row-level security needs), rows fetched;
- the dry run: ``tiers_evaluate(dry_run=True)`` with every partner's tier cleared first, so
  nearly every partner has a change to preview;
- the cold run: the same, applied (tiers cleared before each run): a change row, an outbox
  event and a partner update per change;
- the steady state: the run again with nothing new (no change to write).

Each run's own SQL is measured too: one more run is captured (``CaptureQueriesContext``) and
its statements (the reads, the writes, and the commit with its deferred key checks) are sent
again as text without the engine; run / own SQL is what the engine's Python costs.

The changes, outbox events and queued dispatch messages the runs make are removed afterwards;
the partners keep the tiers of the last run.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import database
from bench.measure import BENCH_QUEUE, machine, purge_queue
from partners import metrics
from partners.models import OutboxEvent, Partner, PartnerStatus, Tenant
from partners.tenancy import tenant_context
from partners.tier_engine import EVENT, tiers_evaluate
from partners.tiers import Tier, TierChange, TierCriterion

Log = Callable[[str], None]
BIG = "bench-big"

#: (rank, name, share of partners meeting each criterion on its own). The criteria of a tier
#: must all hold, so fewer partners reach a tier than any one share.
LADDER: list[tuple[int, str, dict[str, float]]] = [
    (1, "Registered", {}),
    (
        2,
        "Silver",
        {
            "won_revenue_12m": 0.7,
            "won_deals_12m": 0.7,
            "deals_registered_90d": 0.7,
            "approval_rate": 0.9,
            "active_partner_users": 0.95,
        },
    ),
    (
        3,
        "Gold",
        {
            "won_revenue_12m": 0.45,
            "won_deals_12m": 0.45,
            "deals_registered_90d": 0.45,
            "approval_rate": 0.8,
            "active_partner_users": 0.6,
        },
    ),
    (
        4,
        "Platinum",
        {
            "won_revenue_12m": 0.2,
            "won_deals_12m": 0.2,
            "deals_registered_90d": 0.2,
            "approval_rate": 0.7,
            "active_partner_users": 0.6,
        },
    ),
]


def nice_floor(value: Decimal, digits: int = 2) -> Decimal:
    """``value`` rounded down to ``digits`` significant digits (12345 -> 12000)."""
    if value <= 0:
        return Decimal(0)
    exponent = value.adjusted() - digits + 1
    step = Decimal(1).scaleb(exponent)
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def threshold_for_share(values: Sequence[Decimal | None], share: float) -> Decimal:
    """A round threshold that at least ``share`` of ``values`` meet (``value >=``); a missing
    value meets none."""
    present = sorted((v for v in values if v is not None), reverse=True)
    if not present:
        return Decimal(0)
    wanted = max(1, round(share * len(values)))
    value = present[min(wanted, len(present)) - 1]
    return nice_floor(Decimal(value)).normalize() + 0


def ladder_thresholds(
    values: dict[str, Sequence[Decimal | None]],
) -> list[tuple[int, str, dict[str, Decimal]]]:
    """The ladder with a threshold per criterion, from each metric's values over the partners.
    A better tier never asks for less than the tier below it."""
    ladder = []
    floor: dict[str, Decimal] = {}
    for rank, name, shares in LADDER:
        criteria = {}
        for key, share in shares.items():
            criteria[key] = max(threshold_for_share(values[key], share), floor.get(key, 0))
        floor.update(criteria)
        ladder.append((rank, name, criteria))
    return ladder


def ensure_ladder(tenant: Tenant, *, log: Log) -> list[Tier]:
    """The tenant's tiers, made once: kept as they are when the tenant has tiers already."""
    with tenant_context(tenant):
        tiers = list(Tier.objects.order_by("rank"))
        if tiers:
            return tiers
        keys = sorted({key for _r, _n, shares in LADDER for key in shares})
        now = timezone.now()
        results = metrics.evaluate(keys, tenant, now)
        partner_ids = list(
            Partner.objects.filter(status=PartnerStatus.ACTIVE).values_list("pk", flat=True)
        )
        values = {}
        for key in keys:
            metric = metrics.get(key)
            values[key] = [metric.value_for(results[key], pid) for pid in partner_ids]
        for rank, name, criteria in ladder_thresholds(values):
            tier = Tier.objects.create(
                tenant=tenant, rank=rank, name=name, lead_routing_priority=rank,
                description=f"Benchmark tier {rank}.",
            )  # fmt: skip
            for key, threshold in criteria.items():
                TierCriterion.objects.create(
                    tenant=tenant, tier=tier, metric=key, operator=">=", threshold=threshold
                )
            log(f"  tier {name}: " + (", ".join(f"{k} >= {v}" for k, v in criteria.items()) or "-"))
        return list(Tier.objects.order_by("rank"))


@dataclass
class EngineRow:
    name: str
    timings: list[float] = field(default_factory=list)  # seconds
    #: The same run's SQL sent again as text, without the engine (its own floor).
    own_sql: list[float] = field(default_factory=list)
    queries: int | None = None
    changes: int | None = None
    promotions: int | None = None
    written: int | None = None  # TierChange rows one run wrote

    @property
    def median(self) -> float:
        return statistics.median(self.timings)

    @property
    def best(self) -> float:
        return min(self.timings)


#: What the replay of a captured run leaves out: the transaction is its own.
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def replayable(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.strip().upper().startswith(_TRANSACTION_CONTROL)]


#: The tables the runs write (and the clean-up deletes from).
WRITTEN_TABLES = ["partners_partner", "partners_tierchange", "partners_outboxevent"]


class TierBenchmark:
    def __init__(self, tenant: Tenant, *, runs: int, log: Log, vacuum: bool = True) -> None:
        self.tenant = tenant
        self.runs = runs
        self.log = log
        self.vacuum = vacuum

    # ------------------------------------------------------------ set-up and clean-up

    def tidy(self, tables: list[str]) -> None:
        """VACUUM what clearing the tiers and deleting the runs' rows leave behind: a real
        partner table is not updated wholesale five times a minute, and a bloated one would
        make every following run slower than the one before."""
        if self.vacuum:
            database.vacuum_analyze(tables)

    def clear_tiers(self) -> None:
        with tenant_context(self.tenant):
            Partner.objects.filter(tier__isnull=False).update(tier=None)
            Partner.objects.filter(tier_shortfall_since__isnull=False).update(
                tier_shortfall_since=None
            )
            Partner.objects.filter(tier_pinned_until__isnull=False).update(tier_pinned_until=None)
        self.tidy(["partners_partner"])

    def written_since(self, marks: tuple[int, int]) -> int:
        with tenant_context(self.tenant):
            return TierChange.objects.filter(pk__gt=marks[0]).count()

    def high_water(self) -> tuple[int, int]:
        with tenant_context(self.tenant):
            change = TierChange.objects.order_by("-pk").values_list("pk", flat=True).first()
            event = OutboxEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        return change or 0, event or 0

    def remove_since(self, marks: tuple[int, int]) -> None:
        """Delete the changes and tier events written after ``marks`` (ids)."""
        change_id, event_id = marks
        with tenant_context(self.tenant):
            TierChange.objects.filter(pk__gt=change_id).delete()
            OutboxEvent.objects.filter(pk__gt=event_id, name=EVENT).delete()

    # ------------------------------------------------------------ SQL without the engine

    def metric_sql(self, keys: list[str]) -> list[str]:
        """The SQL the metrics of ``keys`` run, as sent (parameters interpolated)."""
        with tenant_context(self.tenant), CaptureQueriesContext(connection) as captured:
            metrics.evaluate(keys, self.tenant, timezone.now())
        return [
            q["sql"]
            for q in captured.captured_queries
            if "set_config('app.tenant_id'" not in q["sql"]
        ]

    def replay(self, statements: list[str]) -> float:
        """Send ``statements`` in one transaction with the tenant set (row-level security
        needs it), fetching every row, and commit (deferred key checks included)."""
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(self.tenant.pk)])
            for statement in statements:
                cursor.execute(statement)
                if cursor.description is not None:
                    cursor.fetchall()
        return time.perf_counter() - started

    # ------------------------------------------------------------ engine runs

    def engine(self, *, dry_run: bool) -> tuple[float, list]:
        started = time.perf_counter()
        proposals = tiers_evaluate(tenant=self.tenant, dry_run=dry_run)
        return time.perf_counter() - started, proposals

    def measure(self, row: EngineRow, *, dry_run: bool, before: Callable[[], None]) -> None:
        """``runs`` timed runs (``before`` each), one more captured (its queries), and that
        run's SQL replayed ``runs`` times (``before`` each)."""
        for _ in range(self.runs):
            before()
            marks = self.high_water()
            seconds, proposals = self.engine(dry_run=dry_run)
            row.timings.append(seconds)
            row.written = self.written_since(marks)
        row.changes = len(proposals)
        row.promotions = sum(p.kind == "promotion" for p in proposals)
        before()
        with CaptureQueriesContext(connection) as captured:
            self.engine(dry_run=dry_run)
        row.queries = len(captured.captured_queries)
        statements = replayable([q["sql"] for q in captured.captured_queries])
        for _ in range(self.runs):
            before()
            row.own_sql.append(self.replay(statements))

    def run(self) -> tuple[EngineRow, list[EngineRow], dict[str, int]]:
        tiers = ensure_ladder(self.tenant, log=self.log)
        with tenant_context(self.tenant):
            keys = sorted(set(TierCriterion.objects.values_list("metric", flat=True)))
        marks = self.high_water()
        self.tidy(WRITTEN_TABLES)
        try:
            return self._measure(keys, tiers)
        finally:
            self.remove_since(marks)
            self.tidy(WRITTEN_TABLES)

    def _measure(self, keys, tiers) -> tuple[EngineRow, list[EngineRow], dict[str, int]]:
        self.log("tier engine: the floor ...")
        statements = self.metric_sql(keys)
        self.replay(statements)  # warm the cache once
        floor = EngineRow(f"floor: the metric SQL ({len(statements)} queries)")
        floor.timings = [self.replay(statements) for _ in range(self.runs)]
        floor.queries = len(statements)

        self.log("tier engine: dry runs ...")
        self.clear_tiers()
        dry = EngineRow("dry run (no tiers yet: every change previewed)")
        self.measure(dry, dry_run=True, before=lambda: None)

        self.log("tier engine: cold runs ...")
        cold = EngineRow("cold run (tiers cleared first: every change written)")
        self.measure(cold, dry_run=False, before=self.clear_tiers)

        self.log("tier engine: steady state ...")
        steady = EngineRow("steady state (run again: nothing new)")
        self.measure(steady, dry_run=False, before=lambda: None)

        with tenant_context(self.tenant):
            spread = dict.fromkeys([t.name for t in sorted(tiers, key=lambda t: -t.rank)], 0)
            spread["(none)"] = 0
            names = {t.pk: t.name for t in tiers}
            active = Partner.objects.filter(status=PartnerStatus.ACTIVE)
            for tier_id in active.values_list("tier_id", flat=True):
                spread[names.get(tier_id, "(none)")] += 1
        return floor, [dry, cold, steady], spread


# ---------------------------------------------------------------- report


def table(floor: EngineRow, rows: list[EngineRow]) -> str:
    header = [
        "tier engine, large tenant",
        "median s",
        "best s",
        "queries",
        "changes",
        "promotions",
        "changes written",
        "ratio to floor",
        "own SQL s",
        "ratio to own SQL",
    ]
    lines = [
        [floor.name, f"{floor.median:.2f}", f"{floor.best:.2f}", str(floor.queries), "-", "-",
         "-", "1.0x", "-", "-"]
    ]  # fmt: skip
    for row in rows:
        own = statistics.median(row.own_sql)
        lines.append(
            [
                row.name,
                f"{row.median:.2f}",
                f"{row.best:.2f}",
                str(row.queries),
                f"{row.changes:,}",
                f"{row.promotions:,}",
                f"{row.written:,}",
                f"{row.median / floor.median:.1f}x",
                f"{own:.2f}",
                f"{row.median / own:.1f}x",
            ]
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


def verdict(floor: EngineRow, rows: list[EngineRow], *, limit_seconds: float = 30.0) -> str:
    """The issue's targets, per run: under ``limit_seconds`` and within 2x of the floor."""
    parts = []
    for row in rows:
        ratio = row.median / floor.median
        ok = row.median < limit_seconds and ratio <= 2.0
        parts.append(f"{row.name.split(' (')[0]} {'met' if ok else 'NOT met'} ({ratio:.1f}x)")
    return (
        f"Targets (under {limit_seconds:.0f} s and within 2x of the metric SQL floor): "
        + "; ".join(parts)
        + "."
    )


def run(info: dict, *, runs: int, log: Log) -> str:
    from config.celery import app

    # The runs' outbox events are enqueued on commit: to the benchmark's queue, which no
    # worker reads, purged afterwards (as the deal timings do).
    app.conf.task_default_queue = BENCH_QUEUE
    tenant = Tenant.objects.get(pk=info["tenants"][BIG]["id"])
    bench = TierBenchmark(tenant, runs=runs, log=log)
    load_before = os.getloadavg()[0]
    try:
        floor, rows, spread = bench.run()
    finally:
        purge_queue(log)
    load_after = os.getloadavg()[0]
    with tenant_context(tenant):
        partners = Partner.objects.count()
    lines = [
        "",
        f"Machine: {machine()}; load average (1 min) {load_before:.1f} before the tier engine "
        f"runs, {load_after:.1f} after.",
        f"Tier engine: {partners:,} partners ({sum(spread.values()):,} active) of the large "
        f"tenant; median and best of {runs} runs, in seconds. Floor: the SQL of the metrics "
        "the criteria use, sent as text. Own SQL: every statement of that run (reads, "
        "writes, commit) sent as text without the engine.",
        "",
        table(floor, rows),
        "",
        verdict(floor, rows),
        "Tiers after the runs: " + ", ".join(f"{name} {n:,}" for name, n in spread.items()) + ".",
    ]
    if max(load_before, load_after) > 1.0:
        lines.append(
            "Warning: the machine was busy (load average above 1): these figures are high."
        )
    lines.append("")
    report = "\n".join(lines)
    log(report)
    return report
