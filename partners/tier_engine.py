"""The tier engine: moves every partner of a tenant to the tier its metrics earn.

One run (:func:`tiers_evaluate`) is one transaction in the tenant's context:

1. every metric some tier criterion uses is computed set-wise (one query per metric, or per
   metric source such as the four deal metrics, over all partners of the tenant, see
   ``partners.metrics``);
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

The writes are set-wise too: one UPDATE of the partners, one INSERT of the changes, one of
the events, however many partners move. A run holds a per-tenant advisory lock (two runs of
one tenant never overlap) instead of row locks on every partner, and writes a partner only if
it still holds what the run read (a pin, an approval or a suspension committed meanwhile
wins; the partner is evaluated again next run).

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

import json
import operator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners import events, selectors
from partners import metrics as metric_registry
from partners.models import Membership, Partner, PartnerStatus, Tenant
from partners.permissions import membership_permissions
from partners.tenancy import tenant_context
from partners.tiers import (
    Operator,
    Tier,
    TierChange,
    TierChangeKind,
    TierCriterion,
    TierProposal,
    TierProposalStatus,
    changes_need_approval,
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


_COMPARE = {
    Operator.GTE: operator.ge, Operator.GT: operator.gt, Operator.LTE: operator.le,
    Operator.LT: operator.lt, Operator.EQ: operator.eq,
}  # fmt: skip


class _Ladder:
    """The tiers, best first, with their criteria compiled to comparisons once per run (the
    same rule as ``criterion_holds``: a missing value never holds), so that picking the
    earned tier of 20,000 partners costs little."""

    def __init__(self, tiers: list[Tier], criteria: dict[int, list[TierCriterion]]) -> None:
        self.steps = []
        self.texts: dict[int, list[tuple[str, str, object, Decimal]]] = {}
        for tier in tiers:
            checks = []
            for c in criteria.get(tier.pk, []):
                if c.operator not in _COMPARE:
                    raise ValueError(f"Unknown operator {c.operator!r}")
                checks.append((c.metric, _COMPARE[c.operator], c.threshold))
            self.steps.append((tier, checks))
            self.texts[tier.pk] = [
                (
                    c.metric,
                    _metric_label(c.metric),
                    f"{c.operator} {_plain(c.threshold)}",
                    _COMPARE[c.operator],
                    c.threshold,
                )
                for c in criteria.get(tier.pk, [])
            ]

    def explain(self, tier: Tier, values: dict[str, Decimal | None]) -> str:
        """Each criterion of ``tier`` with the partner's value and whether it holds."""
        parts = []
        for key, label, rule, compare, threshold in self.texts.get(tier.pk, []):
            value = values.get(key)
            mark = "✓" if value is not None and compare(value, threshold) else "✗"
            parts.append(f"{label} = {value} {rule} {mark}")
        return "; ".join(parts) or "-"

    def earned(self, values: dict[str, Decimal | None]) -> Tier | None:
        for tier, checks in self.steps:
            for key, compare, threshold in checks:
                value = values.get(key)
                if value is None or not compare(value, threshold):
                    break
            else:
                return tier
        return None


def _metric_label(key: str) -> str:
    metric = metric_registry.get(key)
    return str(metric.label) if metric else key


def _plain(number: Decimal) -> str:
    """``10000.0000`` -> ``10000``, ``0.7500`` -> ``0.75`` (a threshold as people write it)."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def earned_tier(
    tiers: list[Tier], criteria: dict[int, list[TierCriterion]], values: dict[str, Decimal | None]
) -> Tier | None:
    """The highest-rank tier (``tiers`` sorted best first) whose criteria all hold."""
    return _Ladder(tiers, criteria).earned(values)


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.rank


def tiers_evaluate(*, tenant: Tenant, dry_run: bool, now: datetime | None = None) -> list[Proposal]:
    """Evaluate every active partner of ``tenant``; apply the changes unless ``dry_run``."""
    now = now or timezone.now()
    with tenant_context(tenant):
        return _evaluate(tenant, dry_run=dry_run, now=now)


#: The namespace of the advisory lock that keeps two runs of one tenant from overlapping.
LOCK_NAMESPACE = "partners.tier_engine"


def _lock_tenant(tenant: Tenant) -> None:
    """Wait for any other run of this tenant's engine to finish (the lock is released when
    this transaction ends). One advisory lock instead of ``SELECT ... FOR UPDATE`` over every
    partner: locking 20,000 rows writes each of them. Writers of single partners (pins,
    approvals, suspensions) are not blocked; the compare-and-swap in :func:`_apply` leaves
    alone any partner they changed since the engine read it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), %s)", [LOCK_NAMESPACE, tenant.pk]
        )


@dataclass
class _Touched:
    """A partner row to write: the new tier and shortfall date, and the values read (the
    write applies only while they still hold)."""

    partner_id: int
    tier_id: int | None
    shortfall_since: datetime | None
    read_tier_id: int | None
    read_shortfall_since: datetime | None
    read_pinned_until: date | None


def _evaluate(tenant: Tenant, *, dry_run: bool, now: datetime) -> list[Proposal]:
    if not dry_run:
        _lock_tenant(tenant)
    tiers = list(Tier.objects.order_by("-rank"))
    criteria: dict[int, list[TierCriterion]] = {}
    for criterion in TierCriterion.objects.order_by("id"):
        criteria.setdefault(criterion.tier_id, []).append(criterion)
    tiers_by_id = {t.pk: t for t in tiers}
    ladder = _Ladder(tiers, criteria)

    keys = sorted({c.metric for cs in criteria.values() for c in cs})
    results = metric_registry.evaluate(keys, tenant, now)
    # (key, values by partner, default, warnings by partner), looked up once per partner
    lookups = []
    for key in keys:
        metric = metric_registry.get(key)
        result = results[key]
        default = metric.default if metric is not None else None
        lookups.append((key, result.values, default, result.warnings))

    partners = (
        Partner.objects.filter(status=PartnerStatus.ACTIVE)
        .order_by("id")
        .values_list("id", "name", "tier_id", "tier_pinned_until", "tier_shortfall_since")
    )
    grace = timedelta(days=demotion_grace_days(tenant))
    today = timezone.localdate(now)
    approval = changes_need_approval(tenant)

    # Translated once, not once per partner.
    promoted = _("Promoted: meets the criteria of %(tier)s (%(criteria)s).")
    demoted = _(
        "Demoted: below the criteria of %(tier)s since %(since)s, longer than the "
        "%(days)d-day grace period (%(criteria)s)."
    )
    proposals: list[Proposal] = []
    touched: list[_Touched] = []
    for partner_id, name, tier_id, pinned_until, shortfall_since in partners:
        if pinned_until and pinned_until >= today:
            continue
        values = {
            key: by_partner.get(partner_id, default) for key, by_partner, default, _w in lookups
        }
        current = tiers_by_id.get(tier_id)
        earned = ladder.earned(values)
        read = (tier_id, shortfall_since, pinned_until)

        if _rank(earned) > _rank(current):
            reason = promoted % {
                "tier": earned.name,
                "criteria": ladder.explain(earned, values),
            }
            kind = TierChangeKind.PROMOTION
        elif _rank(earned) == _rank(current):
            if shortfall_since is not None:  # recovered within grace
                touched.append(_Touched(partner_id, tier_id, None, *read))
            continue
        else:
            if shortfall_since is None:
                touched.append(_Touched(partner_id, tier_id, now, *read))
                continue
            if now - shortfall_since < grace:
                continue
            reason = demoted % {
                "tier": current.name,
                "since": timezone.localtime(shortfall_since).date().isoformat(),
                "days": grace.days,
                "criteria": ladder.explain(current, values),
            }
            kind = TierChangeKind.DEMOTION

        snapshot = {k: None if v is None else str(v) for k, v in values.items()}
        warnings: list[str] = []
        for _key, _values, _default, warnings_by_partner in lookups:
            warnings.extend(warnings_by_partner.get(partner_id, []))
        proposals.append(
            Proposal(
                partner_id=partner_id, partner_name=name, from_tier=current, to_tier=earned,
                kind=kind, reason=reason, metrics=snapshot,
                warnings=warnings,
            )
        )  # fmt: skip
        if approval:  # the tier changes when a manager approves; shortfall date stays
            continue
        touched.append(_Touched(partner_id, earned.pk if earned else None, None, *read))

    if dry_run:
        return proposals

    applied = _apply(tenant, touched, today=today)
    if approval:
        return _propose(tenant, proposals, now=now)
    # A partner changed by someone else since it was read is left for the next run.
    proposals = [p for p in proposals if p.partner_id in applied]
    _record_changes(tenant, proposals, now=now)
    return proposals


def _apply(tenant: Tenant, touched: list[_Touched], *, today: date) -> set[int]:
    """Write the new tiers and shortfall dates in one statement; returns the ids written.

    Compare-and-swap: a row is written only if it still holds what the engine read (tier,
    shortfall date, pin) and the partner is still active, so a pin, an approval or a
    suspension committed meanwhile is never overwritten."""
    if not touched:
        return set()
    table = Partner._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS p
            SET tier_id = v.tier_id, tier_shortfall_since = v.shortfall_since
            FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::bigint[],
                        %s::timestamptz[], %s::date[])
                AS v(id, tier_id, shortfall_since, read_tier_id, read_shortfall_since,
                     read_pinned_until)
            WHERE p.tenant_id = %s AND p.id = v.id AND p.status = %s
              AND p.tier_id IS NOT DISTINCT FROM v.read_tier_id
              AND p.tier_shortfall_since IS NOT DISTINCT FROM v.read_shortfall_since
              AND p.tier_pinned_until IS NOT DISTINCT FROM v.read_pinned_until
            RETURNING p.id
            """,
            [
                [t.partner_id for t in touched],
                [t.tier_id for t in touched],
                [t.shortfall_since for t in touched],
                [t.read_tier_id for t in touched],
                [t.read_shortfall_since for t in touched],
                [t.read_pinned_until for t in touched],
                tenant.pk,
                PartnerStatus.ACTIVE.value,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


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


class _StaleProposal(Exception):
    pass


def tier_proposal_decide(
    *,
    actor: Membership,
    proposal: TierProposal,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> TierProposal:
    """Approve (apply the change, recording a ``TierChange``) or reject a pending proposal.

    Only members who may decide proposals and who see the partner (channel managers: their
    assigned partners) may decide. A proposal whose partner no longer has its ``from`` tier
    (changed since) is marked superseded and refused. Runs in the caller's tenant context."""
    now = now or timezone.now()
    try:
        return _decide(actor=actor, proposal=proposal, approve=approve, note=note, now=now)
    except _StaleProposal:
        # Recorded outside the refused decision's transaction, so the mark is kept.
        TierProposal.objects.filter(pk=proposal.pk, status=TierProposalStatus.PENDING).update(
            status=TierProposalStatus.SUPERSEDED, decided_by=actor.user, decided_at=now
        )
        raise ValidationError(_("The partner's tier changed since this was proposed.")) from None


@transaction.atomic
def _decide(
    *, actor: Membership, proposal: TierProposal, approve: bool, note: str, now: datetime
) -> TierProposal:
    if "partners.decide_tier_proposal" not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))
    if not selectors.partner_list(actor=actor).filter(pk=proposal.partner_id).exists():
        raise PermissionDenied(_("You do not manage this partner."))
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
        raise _StaleProposal
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
    events.record(tenant=tenant, name=EVENT, payload=_event_payload(proposal, change.pk))
    return change


def _event_payload(proposal: Proposal, change_id: int) -> dict:
    return {
        "partner_id": proposal.partner_id,
        "change_id": change_id,
        "kind": str(proposal.kind),
        "from_tier_id": proposal.from_tier.pk if proposal.from_tier else None,
        "to_tier_id": proposal.to_tier.pk if proposal.to_tier else None,
    }


def _record_changes(tenant: Tenant, proposals: list[Proposal], *, now: datetime) -> None:
    """The ``TierChange`` rows and outbox events of a run: one INSERT each, however many
    partners changed (sets ``change_id`` on each proposal)."""
    if not proposals:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {TierChange._meta.db_table}
                (tenant_id, partner_id, from_tier_id, to_tier_id, kind, at, reason, metrics)
            SELECT %s, v.partner_id, v.from_tier_id, v.to_tier_id, v.kind, %s, v.reason,
                   v.metrics::jsonb
            FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[],
                        %s::text[]) AS v(partner_id, from_tier_id, to_tier_id, kind, reason,
                                         metrics)
            RETURNING partner_id, id
            """,
            [
                tenant.pk,
                now,
                [p.partner_id for p in proposals],
                [p.from_tier.pk if p.from_tier else None for p in proposals],
                [p.to_tier.pk if p.to_tier else None for p in proposals],
                [str(p.kind) for p in proposals],
                [str(p.reason) for p in proposals],
                [json.dumps({"values": p.metrics, "warnings": p.warnings}) for p in proposals],
            ],
        )
        change_ids = dict(cursor.fetchall())  # a partner changes at most once per run
    for proposal in proposals:
        proposal.change_id = change_ids[proposal.partner_id]
    events.record_many(
        tenant=tenant,
        name=EVENT,
        payloads=[_event_payload(p, p.change_id) for p in proposals],
    )


#: What a member needs to pin or unpin a partner's tier (tenant admins hold it).
PIN_PERMISSION = "partners.change_tier"
UNPINNED_EVENT = "partner.tier_unpinned"


def _require_pin_permission(actor: Membership | None, partner: Partner) -> None:
    """``actor`` None is operator or system code (the operator admin, a data fix)."""
    if actor is None:
        return
    if actor.tenant_id != partner.tenant_id or PIN_PERMISSION not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


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
    caller's tenant context (the partner's tenant). A member needs ``PIN_PERMISSION``."""
    _require_pin_permission(actor, partner)
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


@transaction.atomic
def tier_unpin(*, actor: Membership | None, partner: Partner, reason: str = "") -> Partner:
    """End ``partner``'s pin now: the tier stays as it is (no ``TierChange``) and the next
    run of the engine evaluates the partner again. Records ``partner.tier_unpinned``."""
    _require_pin_permission(actor, partner)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.tier_pinned_until is None:
        raise ValidationError(_("The tier of %(name)s is not pinned.") % {"name": partner.name})
    pinned_until = partner.tier_pinned_until
    partner.tier_pinned_until = None
    partner.save(update_fields=["tier_pinned_until"])
    events.record(
        tenant=partner.tenant,
        name=UNPINNED_EVENT,
        payload={
            "partner_id": partner.pk,
            "tier_id": partner.tier_id,
            "pinned_until": pinned_until.isoformat(),
            "by_user_id": actor.user_id if actor else None,
            "reason": reason.strip(),
        },
    )
    return partner
