"""The tier engine: moves every partner of a tenant to the tier its metrics earn.

One run (:func:`tiers_evaluate`) is one transaction in the tenant's context:

1. every metric some tier criterion uses is computed set-wise (one query per metric over all
   partners of the tenant, see ``partners.metrics``);
2. each active partner's *earned* tier is the highest-rank tier whose criteria all hold (a
   tier without criteria always holds: the entry tier);
3. a better earned tier is a promotion, applied at once;
4. a worse earned tier (or none) starts the grace period: ``tier_shortfall_since`` is set the
   first time the partner falls short, and the demotion (to the earned tier) happens only
   once the tenant's grace period (``partners.tiers.demotion_grace_days``) has passed since
   then; a partner that earns its tier again within grace keeps it and the date is cleared;
5. a partner whose tier is pinned (``tier_pinned_until`` today or later) is left alone;
6. every change writes a ``TierChange`` (from, to, when, why, the metric values that decided
   it) and an outbox event ``partner.tier_changed``.

``dry_run=True`` computes the same proposals and writes nothing.

Only partners with status *active* are evaluated; the others keep their tier as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners import events
from partners import metrics as metric_registry
from partners.models import Membership, Partner, PartnerStatus, Tenant
from partners.tenancy import tenant_context
from partners.tiers import (
    Tier,
    TierChange,
    TierChangeKind,
    TierCriterion,
    criterion_holds,
    demotion_grace_days,
)

EVENT = "partner.tier_changed"


@dataclass
class Proposal:
    """A tier change the engine made (or, in a dry run, would make), and why."""

    partner_id: int
    partner_name: str
    from_tier: Tier | None
    to_tier: Tier | None
    kind: str
    reason: str
    metrics: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    change_id: int | None = None


def _json_value(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _criteria_text(criteria: list[TierCriterion], values: dict[str, Decimal | None]) -> str:
    parts = []
    for c in criteria:
        mark = "✓" if criterion_holds(c.operator, values.get(c.metric), c.threshold) else "✗"
        parts.append(f"{c.metric} = {values.get(c.metric)} {c.operator} {c.threshold} {mark}")
    return "; ".join(parts)


def earned_tier(
    tiers: list[Tier], criteria: dict[int, list[TierCriterion]], values: dict[str, Decimal | None]
) -> Tier | None:
    """The highest-rank tier (``tiers`` sorted best first) whose criteria all hold."""
    for tier in tiers:
        if all(criterion_holds(c.operator, values.get(c.metric), c.threshold)
               for c in criteria.get(tier.pk, [])):  # fmt: skip
            return tier
    return None


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.rank


def tiers_evaluate(*, tenant: Tenant, dry_run: bool, now: datetime | None = None) -> list[Proposal]:
    """Evaluate every active partner of ``tenant``; apply the changes unless ``dry_run``."""
    now = now or timezone.now()
    with tenant_context(tenant):
        return _evaluate(tenant, dry_run=dry_run, now=now)


def _evaluate(tenant: Tenant, *, dry_run: bool, now: datetime) -> list[Proposal]:
    tiers = list(Tier.objects.order_by("-rank"))
    criteria: dict[int, list[TierCriterion]] = {}
    for criterion in TierCriterion.objects.order_by("id"):
        criteria.setdefault(criterion.tier_id, []).append(criterion)
    tiers_by_id = {t.pk: t for t in tiers}

    keys = sorted({c.metric for cs in criteria.values() for c in cs})
    results: dict[str, tuple[metric_registry.Metric | None, metric_registry.MetricResult]] = {}
    for key in keys:
        metric = metric_registry.get(key)
        if metric is None:  # an unknown metric never holds
            results[key] = (None, metric_registry.MetricResult(values={}))
        else:
            results[key] = (metric, metric.evaluate(tenant, now))

    partners = Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("id")
    if not dry_run:
        partners = partners.select_for_update(of=("self",))
    grace = timedelta(days=demotion_grace_days(tenant))
    today = timezone.localdate(now)

    proposals: list[Proposal] = []
    touched: list[Partner] = []
    for partner in partners:
        values: dict[str, Decimal | None] = {}
        warnings: list[str] = []
        for key, (metric, result) in results.items():
            values[key] = metric.value_for(result, partner.pk) if metric else None
            warnings.extend(result.warnings.get(partner.pk, []))
        if partner.tier_pinned_until and partner.tier_pinned_until >= today:
            continue
        current = tiers_by_id.get(partner.tier_id)
        earned = earned_tier(tiers, criteria, values)
        snapshot = {k: _json_value(v) for k, v in values.items()}

        if _rank(earned) > _rank(current):
            reason = _("Promoted: meets the criteria of %(tier)s (%(criteria)s).") % {
                "tier": earned.name,
                "criteria": _criteria_text(criteria.get(earned.pk, []), values) or "-",
            }
            kind = TierChangeKind.PROMOTION
        elif _rank(earned) == _rank(current):
            if partner.tier_shortfall_since is not None:  # recovered within grace
                partner.tier_shortfall_since = None
                touched.append(partner)
            continue
        else:
            if partner.tier_shortfall_since is None:
                partner.tier_shortfall_since = now
                touched.append(partner)
                continue
            if now - partner.tier_shortfall_since < grace:
                continue
            reason = _(
                "Demoted: below the criteria of %(tier)s since %(since)s, longer than the "
                "%(days)d-day grace period (%(criteria)s)."
            ) % {
                "tier": current.name,
                "since": timezone.localtime(partner.tier_shortfall_since).date().isoformat(),
                "days": grace.days,
                "criteria": _criteria_text(criteria.get(current.pk, []), values) or "-",
            }
            kind = TierChangeKind.DEMOTION

        proposals.append(
            Proposal(
                partner_id=partner.pk, partner_name=partner.name, from_tier=current,
                to_tier=earned, kind=kind, reason=reason, metrics=snapshot, warnings=warnings,
            )
        )  # fmt: skip
        partner.tier = earned
        partner.tier_shortfall_since = None
        touched.append(partner)

    if dry_run:
        return proposals

    if touched:
        Partner.objects.bulk_update(touched, ["tier", "tier_shortfall_since"])
    for proposal in proposals:
        proposal.change_id = _record_change(tenant, proposal, now=now).pk
    return proposals


def _record_change(tenant: Tenant, proposal: Proposal, *, now: datetime) -> TierChange:
    change = TierChange.objects.create(
        tenant=tenant,
        partner_id=proposal.partner_id,
        from_tier=proposal.from_tier,
        to_tier=proposal.to_tier,
        kind=proposal.kind,
        at=now,
        reason=proposal.reason,
        metrics={"values": proposal.metrics, "warnings": proposal.warnings},
    )
    events.record(
        tenant=tenant,
        name=EVENT,
        payload={
            "partner_id": proposal.partner_id,
            "change_id": change.pk,
            "kind": proposal.kind,
            "from_tier_id": proposal.from_tier.pk if proposal.from_tier else None,
            "to_tier_id": proposal.to_tier.pk if proposal.to_tier else None,
        },
    )
    return change


@transaction.atomic
def tier_pin(
    *,
    partner: Partner,
    tier: Tier | None,
    until: date,
    reason: str = "",
    actor: Membership | None = None,
    now: datetime | None = None,
) -> TierChange:
    """Put ``partner`` in ``tier`` and keep it there until ``until`` (inclusive). Runs in the
    caller's tenant context (the partner's tenant)."""
    now = now or timezone.now()
    if until < timezone.localdate(now):
        raise ValidationError({"until": _("The pin must end today or later.")})
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    partner.assert_same_tenant(tier)
    previous = partner.tier
    partner.tier = tier
    partner.tier_pinned_until = until
    partner.tier_shortfall_since = None
    partner.save(update_fields=["tier", "tier_pinned_until", "tier_shortfall_since"])
    who = actor.user.email if actor else _("an administrator")
    proposal = Proposal(
        partner_id=partner.pk, partner_name=partner.name, from_tier=previous, to_tier=tier,
        kind=TierChangeKind.PIN,
        reason=reason or _("Pinned until %(until)s by %(who)s.") % {
            "until": until.isoformat(), "who": who,
        },
        metrics={},
    )  # fmt: skip
    return _record_change(partner.tenant, proposal, now=now)
