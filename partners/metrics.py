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
"""

from __future__ import annotations

from collections.abc import Callable, Collection
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


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    compute: Compute
    #: The value of a partner the query returns no row for (None: "no value", never meets
    #: a criterion).
    default: Decimal | None = Decimal("0")
    unit: str = ""

    def evaluate(
        self, tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
    ) -> MetricResult:
        """The values for all partners of the tenant, or only for ``partner_ids``."""
        return self.compute(tenant, now, partner_ids)

    def value_for(self, result: MetricResult, partner_id: int) -> Decimal | None:
        return result.values.get(partner_id, self.default)


_registry: dict[str, Metric] = {}


def register(
    key: str,
    label: str,
    compute: Compute,
    *,
    default: Decimal | None = Decimal("0"),
    unit: str = "",
) -> Metric:
    """Add (or replace) the metric ``key``."""
    metric = Metric(key=key, label=label, compute=compute, default=default, unit=unit)
    _registry[key] = metric
    return metric


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
