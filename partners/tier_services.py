"""Writes of the tenant's tier configuration: a tier, its benefits and its entry criteria.

The API calls these (the Django admin edits tiers through its own forms, with the same model
validation). Each is one transaction and checks the actor's permission itself. Criteria are
checked against the metric registry (``partners.metrics``), so a tier can only name metrics
the engine can compute; the engine itself (``partners.tier_engine``) moves partners.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from partners import events
from partners import metrics as metric_registry
from partners.models import Membership, Partner
from partners.permissions import membership_permissions
from partners.tenancy import require_tenant
from partners.tiers import Operator, Tier, TierCriterion, TierProposal, TierProposalStatus

#: The fields of a tier other than its criteria: rank, name, description and the benefits.
TIER_FIELDS = (
    "rank",
    "name",
    "description",
    "deal_protection_days",
    "auto_approve_max_total",
    "commission_multiplier",
    "mdf_allowance",
    "lead_routing_priority",
)

#: Metric units (``partners.metrics.Metric.unit``) whose values lie between 0 and 1.
FRACTION_UNIT = "fraction"
# TierCriterion.threshold is DECIMAL(20, 4).
_PLACES = Decimal("0.0001")
_MAX_THRESHOLD = Decimal(10) ** 16


@dataclass(frozen=True)
class CriterionInput:
    metric: str
    threshold: Decimal
    operator: str = Operator.GTE


def _require_perm(actor: Membership, perm: str) -> None:
    if perm not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


def _clean_criteria(criteria: list[CriterionInput]) -> list[CriterionInput]:
    """Every criterion names a registered metric and a known operator, with a threshold the
    metric can reach (metrics are counts, money and fractions: never negative, and a
    fraction never above 1); the same metric and operator twice is a mistake."""
    messages: list[str] = []
    seen: set[tuple[str, str]] = set()
    cleaned: list[CriterionInput] = []
    for number, criterion in enumerate(criteria, start=1):
        metric_key = (criterion.metric or "").strip()
        metric = metric_registry.get(metric_key)
        prefix = _("Criterion %(number)d") % {"number": number}
        if metric is None:
            messages.append(
                _("%(prefix)s: %(metric)s is not a known metric.")
                % {"prefix": prefix, "metric": metric_key or '""'}
            )
            continue
        if criterion.operator not in Operator.values:
            messages.append(
                _("%(prefix)s: %(operator)s is not a known operator (use one of %(known)s).")
                % {
                    "prefix": prefix,
                    "operator": criterion.operator or '""',
                    "known": ", ".join(Operator.values),
                }
            )
            continue
        threshold = Decimal(criterion.threshold)
        if (
            not threshold.is_finite()
            or abs(threshold) >= _MAX_THRESHOLD
            or threshold != threshold.quantize(_PLACES)
        ):
            messages.append(
                _("%(prefix)s: use a number below 10^16 with at most 4 decimal places.")
                % {"prefix": prefix}
            )
            continue
        if threshold < 0:
            messages.append(
                _("%(prefix)s: %(label)s is never negative; use a threshold of 0 or more.")
                % {"prefix": prefix, "label": metric.label}
            )
            continue
        if metric.unit == FRACTION_UNIT and threshold > 1:
            messages.append(
                _("%(prefix)s: %(label)s is a fraction between 0 and 1 (0.8 means 80%%).")
                % {"prefix": prefix, "label": metric.label}
            )
            continue
        if (metric_key, criterion.operator) in seen:
            messages.append(
                _("%(prefix)s repeats %(metric)s %(operator)s.")
                % {"prefix": prefix, "metric": metric_key, "operator": criterion.operator}
            )
            continue
        seen.add((metric_key, criterion.operator))
        cleaned.append(
            CriterionInput(metric=metric_key, threshold=threshold, operator=criterion.operator)
        )
    if messages:
        raise ValidationError({"criteria": messages})
    return cleaned


def _check_unique(tier: Tier) -> None:
    others = Tier.objects.exclude(pk=tier.pk) if tier.pk else Tier.objects.all()
    errors = {}
    if others.filter(rank=tier.rank).exists():
        errors["rank"] = [_("Another tier of this program has this rank.")]
    if others.filter(name__iexact=tier.name).exists():
        errors["name"] = [_("Another tier of this program has this name.")]
    if errors:
        raise ValidationError(errors)


def _save(tier: Tier, criteria: list[CriterionInput] | None) -> None:
    tier.full_clean(validate_unique=False, validate_constraints=False)
    _check_unique(tier)
    try:
        # A concurrent write of the same rank or name loses at the unique constraint.
        with transaction.atomic():
            tier.save()
    except IntegrityError:
        raise ValidationError(_("Another tier of this program has this rank or name.")) from None
    if criteria is not None:
        TierCriterion.objects.filter(tier=tier).delete()
        TierCriterion.objects.bulk_create(
            TierCriterion(
                tenant=tier.tenant, tier=tier, metric=c.metric, operator=c.operator,
                threshold=c.threshold,
            )
            for c in criteria
        )  # fmt: skip


def _unknown_fields(values: dict) -> None:
    unknown = set(values) - set(TIER_FIELDS)
    if unknown:
        raise TypeError(f"Unknown tier fields: {sorted(unknown)}")


@transaction.atomic
def tier_create(
    *, actor: Membership | None, criteria: list[CriterionInput] | None = None, **values
) -> Tier:
    """Add a tier (``TIER_FIELDS``) with its entry criteria. A tier without criteria is
    an entry tier: every active partner holds it."""
    if actor is not None:
        _require_perm(actor, "partners.add_tier")
    _unknown_fields(values)
    tenant = require_tenant()
    cleaned = _clean_criteria(list(criteria or []))
    tier = Tier(tenant=tenant, **values)
    if isinstance(tier.name, str):
        tier.name = tier.name.strip()
    _save(tier, cleaned)
    events.record(
        tenant=tenant, name="tier.created", payload={"tier_id": tier.pk, "rank": tier.rank}
    )
    return tier


@transaction.atomic
def tier_update(
    *,
    actor: Membership | None,
    tier: Tier,
    criteria: list[CriterionInput] | None = None,
    **changes,
) -> Tier:
    """Change a tier's fields; ``criteria``, when given, replace the stored ones. Partners
    move only when the engine next runs."""
    if actor is not None:
        _require_perm(actor, "partners.change_tier")
    _unknown_fields(changes)
    tenant = require_tenant()
    cleaned = _clean_criteria(list(criteria)) if criteria is not None else None
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    for key, value in changes.items():
        setattr(tier, key, value.strip() if key == "name" and isinstance(value, str) else value)
    _save(tier, cleaned)
    events.record(
        tenant=tenant,
        name="tier.changed",
        payload={
            "tier_id": tier.pk,
            "fields": sorted(changes),
            "criteria_replaced": cleaned is not None,
        },
    )
    return tier


@transaction.atomic
def tier_delete(*, actor: Membership | None, tier: Tier) -> None:
    """Delete a tier nobody holds. Partners in the tier (or a pending proposal into or out of
    it) refuse: dropping them silently out of their tier would leave no history row."""
    if actor is not None:
        _require_perm(actor, "partners.delete_tier")
    tenant = require_tenant()
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    holders = Partner.objects.filter(tier=tier).count()
    if holders:
        raise ValidationError(
            _(
                "%(count)d partners are in this tier. Change the criteria and run the tier "
                "engine, or pin them to another tier, before deleting it."
            )
            % {"count": holders}
        )
    pending = TierProposal.objects.filter(
        Q(from_tier=tier) | Q(to_tier=tier), status=TierProposalStatus.PENDING
    )
    if pending.exists():
        raise ValidationError(
            _("A tier change into or out of this tier waits for approval; decide it first.")
        )
    tier_id, name = tier.pk, tier.name
    tier.delete()
    events.record(tenant=tenant, name="tier.deleted", payload={"tier_id": tier_id, "name": name})
