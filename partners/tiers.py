"""Partner tiers: the tiers a tenant configures, their entry criteria, and the history of
every partner's tier changes. The engine that moves partners between tiers is
``partners.tier_engine``; the metrics the criteria test are in ``partners.metrics``.

Imported by ``partners.models`` (the models live in the ``partners`` app).

The demotion grace period is a tenant setting kept in ``Tenant.settings`` under
``"tier_demotion_grace_days"`` (default 90): one number, no table of its own; see
:func:`demotion_grace_days`. Whether changes apply at once or wait for approval is
``"tier_changes_need_approval"`` (default false), see :func:`changes_need_approval`.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.tenancy import TenantModel

MONEY = {"max_digits": 16, "decimal_places": 2}

#: The tenant setting (a key of ``Tenant.settings``) and its default.
GRACE_SETTING = "tier_demotion_grace_days"
DEFAULT_GRACE_DAYS = 90


#: When true, the engine proposes tier changes for a channel manager's approval instead of
#: applying them (``TierProposal``); default false (changes apply at once).
APPROVAL_SETTING = "tier_changes_need_approval"


def changes_need_approval(tenant) -> bool:
    return bool((tenant.settings or {}).get(APPROVAL_SETTING, False))


def demotion_grace_days(tenant) -> int:
    """Days a partner may stay below its tier's criteria before it is demoted."""
    value = (tenant.settings or {}).get(GRACE_SETTING, DEFAULT_GRACE_DAYS)
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return DEFAULT_GRACE_DAYS


class Tier(TenantModel):
    """A tier of the tenant's partner program; a higher rank is a better tier."""

    rank = models.PositiveIntegerField(_("rank"), help_text=_("Higher ranks are better tiers."))
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    # Benefits (empty: the tenant's rule applies).
    deal_protection_days = models.PositiveIntegerField(
        _("deal-protection days"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    auto_approve_max_total = models.DecimalField(
        _("auto-approve up to"), **MONEY, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Overrides the rules of engagement for this tier's partners."),
    )  # fmt: skip
    commission_multiplier = models.DecimalField(
        _("commission multiplier"), max_digits=5, decimal_places=3, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
    )  # fmt: skip
    mdf_allowance = models.DecimalField(
        _("MDF allowance"), **MONEY, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )  # fmt: skip
    lead_routing_priority = models.IntegerField(_("lead-routing priority"), default=0)

    class Meta:
        ordering = ["-rank"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "rank"], name="tier_rank_per_tenant"),
            models.UniqueConstraint(fields=["tenant", "name"], name="tier_name_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class Operator(models.TextChoices):
    GTE = ">=", "≥"
    GT = ">", ">"
    LTE = "<=", "≤"
    LT = "<", "<"
    EQ = "==", "="


class TierCriterion(TenantModel):
    """One entry criterion of a tier: ``metric operator threshold``."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="criteria")
    metric = models.CharField(_("metric"), max_length=100)
    operator = models.CharField(
        _("operator"), max_length=2, choices=Operator.choices, default=Operator.GTE
    )
    threshold = models.DecimalField(_("threshold"), max_digits=20, decimal_places=4)

    class Meta:
        ordering = ["tier", "id"]
        verbose_name = _("tier criterion")
        verbose_name_plural = _("tier criteria")

    def __str__(self) -> str:
        return f"{self.metric} {self.operator} {self.threshold}"

    def clean(self) -> None:
        from partners import metrics

        if metrics.get(self.metric) is None:
            raise ValidationError({"metric": _("Not a known metric.")})

    def holds(self, value: Decimal | None) -> bool:
        return criterion_holds(self.operator, value, self.threshold)


def criterion_holds(operator: str, value: Decimal | int | None, threshold: Decimal) -> bool:
    """``value operator threshold``; a missing value never meets a criterion."""
    if value is None:
        return False
    value = Decimal(value)
    if operator == Operator.GTE:
        return value >= threshold
    if operator == Operator.GT:
        return value > threshold
    if operator == Operator.LTE:
        return value <= threshold
    if operator == Operator.LT:
        return value < threshold
    if operator == Operator.EQ:
        return value == threshold
    raise ValueError(f"Unknown operator {operator!r}")


class TierChangeKind(models.TextChoices):
    PROMOTION = "promotion", _("Promotion")
    DEMOTION = "demotion", _("Demotion")
    PIN = "pin", _("Pinned")
    MANUAL = "manual", _("Manual change")


class TierChange(TenantModel):
    """One change of a partner's tier: from, to, when, why, and the deciding metric values."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TierChangeKind.choices)
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(_("reason"), blank=True)
    metrics = models.JSONField(_("metric values"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "partner", "-at"], name="tier_change_partner_idx")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.from_tier_id} -> {self.to_tier_id}"


class TierProposalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded")


class TierProposal(TenantModel):
    """A tier change the engine proposes when the tenant wants changes approved.

    At most one is pending per partner; a later run that reaches another conclusion
    supersedes it. Approving applies the change (and writes the ``TierChange``)."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="tier_proposals"
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TierChangeKind.choices)
    reason = models.TextField(_("reason"), blank=True)
    metrics = models.JSONField(_("metric values"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=20, choices=TierProposalStatus.choices, default=TierProposalStatus.PENDING
    )
    decided_by = models.ForeignKey(
        "partners.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    change = models.ForeignKey(
        TierChange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner"],
                condition=models.Q(status="pending"),
                name="one_pending_tier_proposal",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"], name="tier_proposal_queue_idx")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.from_tier_id} -> {self.to_tier_id} ({self.status})"
