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

When the tenant wants tier changes approved (``partners.tiers.changes_need_approval``), a
promotion or due demotion is not applied but kept as a pending ``TierProposal`` (one per
partner; a run that concludes otherwise supersedes it, a partner that no longer needs a
change has its pending proposal superseded, and a rejected proposal is not raised again until
the conclusion changes). :func:`tier_proposal_decide` approves (applies, with the
``TierChange``) or rejects it.

Only partners with status *active* are evaluated; the others keep their tier as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners import events
from partners import metrics as metric_registry
from partners.models import Membership, Partner, PartnerStatus, Tenant
from partners.permissions import membership_permissions
from partners.tenancy import tenant_context
from partners.tiers import (
    Tier,
    TierChange,
    TierChangeKind,
    TierCriterion,
    TierProposal,
    TierProposalStatus,
    changes_need_approval,
    criterion_holds,
    demotion_grace_days,
)

EVENT = "partner.tier_changed"
PROPOSED_EVENT = "partner.tier_proposed"


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
    #: In approval mode: the pending ``TierProposal`` that waits for a decision.
    proposal_id: int | None = None


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
    approval = changes_need_approval(tenant)

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
        if approval:  # the tier changes when a manager approves; shortfall date stays
            continue
        partner.tier = earned
        partner.tier_shortfall_since = None
        touched.append(partner)

    if dry_run:
        return proposals

    if touched:
        Partner.objects.bulk_update(touched, ["tier", "tier_shortfall_since"])
    if approval:
        return _propose(tenant, proposals, now=now)
    for proposal in proposals:
        proposal.change_id = _record_change(tenant, proposal, now=now).pk
    return proposals


def _propose(tenant: Tenant, proposals: list[Proposal], *, now: datetime) -> list[Proposal]:
    """Approval mode: keep one pending ``TierProposal`` per partner that needs a change."""
    pending = {
        p.partner_id: p for p in TierProposal.objects.filter(status=TierProposalStatus.PENDING)
    }
    wanted = {p.partner_id: p for p in proposals}
    # The newest rejection per partner: not raised again while the conclusion is the same.
    rejected: dict[int, tuple[int | None, int | None]] = {}
    for partner_id, from_id, to_id in (
        TierProposal.objects.filter(status=TierProposalStatus.REJECTED, partner_id__in=list(wanted))
        .order_by("partner_id", "-decided_at", "-id")
        .distinct("partner_id")
        .values_list("partner_id", "from_tier_id", "to_tier_id")
    ):
        rejected[partner_id] = (from_id, to_id)

    stale = [
        p.pk
        for partner_id, p in pending.items()
        if partner_id not in wanted
        or (p.from_tier_id, p.to_tier_id) != _tier_ids(wanted[partner_id])
    ]
    if stale:
        TierProposal.objects.filter(pk__in=stale).update(
            status=TierProposalStatus.SUPERSEDED, decided_at=now
        )
    kept: list[Proposal] = []
    new_rows: list[TierProposal] = []
    for partner_id, proposal in wanted.items():
        existing = pending.get(partner_id)
        if existing is not None and existing.pk not in stale:
            proposal.proposal_id = existing.pk
            kept.append(proposal)
            continue
        if rejected.get(partner_id) == _tier_ids(proposal):
            continue
        new_rows.append(
            TierProposal(
                tenant=tenant, partner_id=partner_id, from_tier=proposal.from_tier,
                to_tier=proposal.to_tier, kind=proposal.kind, reason=proposal.reason,
                metrics={"values": proposal.metrics, "warnings": proposal.warnings},
                created_at=now,
            )
        )  # fmt: skip
        kept.append(proposal)
    created = TierProposal.objects.bulk_create(new_rows)
    by_partner = {row.partner_id: row.pk for row in created}
    for proposal in kept:
        if proposal.proposal_id is None:
            proposal.proposal_id = by_partner.get(proposal.partner_id)
    if created:
        events.record(
            tenant=tenant,
            name=PROPOSED_EVENT,
            payload={"proposal_ids": [row.pk for row in created]},
        )
    return kept


def _tier_ids(proposal: Proposal) -> tuple[int | None, int | None]:
    return (
        proposal.from_tier.pk if proposal.from_tier else None,
        proposal.to_tier.pk if proposal.to_tier else None,
    )


@transaction.atomic
def tier_proposal_decide(
    *,
    actor: Membership,
    proposal: TierProposal,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> TierProposal:
    """Approve (apply the change, recording a ``TierChange``) or reject a pending proposal.

    A proposal whose partner no longer has its ``from`` tier (changed since) is superseded
    and refused. Runs in the caller's tenant context."""
    if "partners.decide_tier_proposal" not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))
    now = now or timezone.now()
    proposal = TierProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != TierProposalStatus.PENDING:
        raise ValidationError(_("This proposal has already been decided."))
    if not approve and not note.strip():
        raise ValidationError({"note": _("Say why the change is rejected.")})
    partner = Partner.objects.select_for_update().get(pk=proposal.partner_id)
    proposal.decided_by = actor.user
    proposal.decided_at = now
    proposal.note = note.strip()
    if partner.tier_id != proposal.from_tier_id:
        proposal.status = TierProposalStatus.SUPERSEDED
        proposal.save(update_fields=["status", "decided_by", "decided_at", "note"])
        raise ValidationError(_("The partner's tier changed since this was proposed."))
    if not approve:
        proposal.status = TierProposalStatus.REJECTED
        proposal.save(update_fields=["status", "decided_by", "decided_at", "note"])
        return proposal
    partner.tier = proposal.to_tier
    partner.tier_shortfall_since = None
    partner.save(update_fields=["tier", "tier_shortfall_since"])
    reason = _("%(reason)s Approved by %(who)s.") % {
        "reason": proposal.reason, "who": actor.user.email,
    }  # fmt: skip
    if proposal.note:
        reason = f"{reason} {proposal.note}"
    values = proposal.metrics or {}
    change = _record_change(
        partner.tenant,
        Proposal(
            partner_id=partner.pk, partner_name=partner.name, from_tier=proposal.from_tier,
            to_tier=proposal.to_tier, kind=proposal.kind, reason=reason,
            metrics=values.get("values", {}), warnings=values.get("warnings", []),
        ),
        now=now,
    )  # fmt: skip
    proposal.status = TierProposalStatus.APPROVED
    proposal.change = change
    proposal.save(update_fields=["status", "decided_by", "decided_at", "note", "change"])
    return proposal


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
