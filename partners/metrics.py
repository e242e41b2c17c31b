"""The metric registry of the tier engine.

A metric is a named, set-wise computation: given the tenant (in its ``tenant_context``), the
evaluation time and optionally some partner ids (``None``: all), it returns the value of the
metric for *every* partner of the tenant (or those partners) in one SQL
query (a ``GROUP BY partner_id``), never a query per partner. Partners the query does not
return get the metric's ``default``.

New metrics plug in by calling :func:`register` (typically from an ``AppConfig.ready``); the
engine (``partners.tier_engine``) and the tier criteria refer to metrics by ``key`` only. The
partners app registers the metrics it can compute itself (active partner users); the deal
metrics are registered by the deals app (``deals/metrics.py``), because partners must never
import deals (the layer contract).

Metrics over the same table can share one query: a *source* (:func:`register_source`)
computes several metrics in one pass (``SUM(...) FILTER (WHERE ...)`` per metric), and each
of those metrics is registered with ``source=`` instead of its own ``compute``.
:func:`evaluate` computes a set of metrics running each source once, which is what the
engine does: over a million deals, one scan instead of one per metric.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from partners.models import Membership, Tenant
from partners.roles import PARTNER_ROLES


@dataclass
class MetricResult:
    """One metric's values for all partners of a tenant, and any warnings about them.

    ``warnings`` maps a partner id to the messages that qualify its value (for example the
    deals left out of a revenue figure because of their currency)."""

    values: dict[int, Decimal | None]
    warnings: dict[int, list[str]] = field(default_factory=dict)


Compute = Callable[[Tenant, datetime, Collection[int] | None], MetricResult]
#: A source's computation: every metric of the source, by key, in one query.
ComputeMany = Callable[[Tenant, datetime, Collection[int] | None], dict[str, MetricResult]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    compute: Compute | None
    #: The value of a partner the query returns no row for (None: "no value", never meets
    #: a criterion).
    default: Decimal | None = Decimal("0")
    unit: str = ""
    #: The name of the source that computes this metric together with others (else None:
    #: ``compute`` computes it alone).
    source: str | None = None

    def evaluate(
        self, tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
    ) -> MetricResult:
        """The values for all partners of the tenant, or only for ``partner_ids``."""
        if self.source is not None:
            return _sources[self.source](tenant, now, partner_ids).get(
                self.key, MetricResult(values={})
            )
        return self.compute(tenant, now, partner_ids)

    def value_for(self, result: MetricResult, partner_id: int) -> Decimal | None:
        return result.values.get(partner_id, self.default)


_registry: dict[str, Metric] = {}
_sources: dict[str, ComputeMany] = {}


def register(
    key: str,
    label: str,
    compute: Compute | None = None,
    *,
    default: Decimal | None = Decimal("0"),
    unit: str = "",
    source: str | None = None,
) -> Metric:
    """Add (or replace) the metric ``key``, computed by ``compute`` or by the registered
    source named ``source`` (exactly one of the two)."""
    if (compute is None) == (source is None):
        raise ValueError(f"metric {key!r}: give either compute or source")
    if source is not None and source not in _sources:
        raise ValueError(f"metric {key!r}: no source {source!r} registered")
    metric = Metric(
        key=key, label=label, compute=compute, default=default, unit=unit, source=source
    )
    _registry[key] = metric
    return metric


def register_source(name: str, compute: ComputeMany) -> None:
    """Add (or replace) the source ``name``: one computation returning several metrics (a
    ``MetricResult`` per key, for the metrics registered with ``source=name``)."""
    _sources[name] = compute


def evaluate(
    keys: Iterable[str],
    tenant: Tenant,
    now: datetime,
    partner_ids: Collection[int] | None = None,
) -> dict[str, MetricResult]:
    """The results of the metrics ``keys``, each source computed once for all its metrics.
    An unknown key gets an empty result (its metric never holds)."""
    results: dict[str, MetricResult] = {}
    by_source: dict[str, list[str]] = {}
    for key in keys:
        metric = _registry.get(key)
        if metric is None:
            results[key] = MetricResult(values={})
        elif metric.source is None:
            results[key] = metric.compute(tenant, now, partner_ids)
        else:
            by_source.setdefault(metric.source, []).append(key)
    for source, source_keys in by_source.items():
        computed = _sources[source](tenant, now, partner_ids)
        for key in source_keys:
            results[key] = computed.get(key, MetricResult(values={}))
    return results


def unregister(key: str) -> None:
    _registry.pop(key, None)


def get(key: str) -> Metric | None:
    return _registry.get(key)


def all_metrics() -> list[Metric]:
    return sorted(_registry.values(), key=lambda m: m.key)


def choices() -> list[tuple[str, str]]:
    return [(m.key, str(m.label)) for m in all_metrics()]


# --- Metrics of the partners app ------------------------------------------------------------

ACTIVE_USERS = "active_partner_users"


def active_partner_users(
    tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
) -> MetricResult:
    """Active memberships with a partner role whose user account is active."""
    memberships = Membership.objects.all()
    if partner_ids is not None:
        memberships = memberships.filter(partner_id__in=list(partner_ids))
    rows = (
        memberships.filter(
            partner__isnull=False,
            is_active=True,
            user__is_active=True,
            role__in=sorted(r.value for r in PARTNER_ROLES),
        )
        .order_by()
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    return MetricResult(values={pid: Decimal(n) for pid, n in rows})


register(ACTIVE_USERS, _("Active partner users"), active_partner_users)
