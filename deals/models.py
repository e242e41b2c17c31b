"""Deal registration: products, deals and their lines, the timeline, conflicts, the rules of
engagement, and leads with their routing offers."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from partners.models import Partner, currency_validator
from partners.tenancy import TenantModel

MONEY = {"max_digits": 16, "decimal_places": 2}


class DealStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    MORE_INFO = "more_info", _("More information requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    EXPIRED = "expired", _("Expired")


#: Registrations that still claim their customer: the candidates of conflict detection.
OPEN_STATUSES = (DealStatus.SUBMITTED, DealStatus.MORE_INFO, DealStatus.APPROVED)


class DealStage(models.TextChoices):
    PROSPECTING = "prospecting", _("Prospecting")
    QUALIFICATION = "qualification", _("Qualification")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    CLOSING = "closing", _("Closing")


class DealType(models.TextChoices):
    RESELL = "resell", _("Resell")
    REFERRAL = "referral", _("Referral")
    CO_SELL = "co_sell", _("Co-sell / influence")


class ExtensionStatus(models.TextChoices):
    NONE = "none", _("None")
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")


class EngagementRules(TenantModel):
    """The tenant's rules of engagement for deal registration (editable in admin)."""

    name_similarity_threshold = models.DecimalField(
        _("company-name similarity threshold"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.60"),
        validators=[MinValueValidator(Decimal("0.10")), MaxValueValidator(Decimal("1.00"))],
        help_text=_("Trigram similarity (0-1) at or above which two names in a country conflict."),
    )
    protection_days = models.PositiveIntegerField(
        _("protection days"), default=90, validators=[MinValueValidator(1)]
    )
    expiry_warning_days = models.PositiveIntegerField(_("expiry warning days"), default=7)
    extension_days = models.PositiveIntegerField(
        _("extension days"), default=30, validators=[MinValueValidator(1)]
    )
    auto_approve_max_total = models.DecimalField(
        _("auto-approve up to"),
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Conflict-free submissions at or under this total are approved at once."),
    )
    auto_approve_currency = models.CharField(
        max_length=3, blank=True, validators=[currency_validator]
    )
    allowed_currencies = ArrayField(
        models.CharField(max_length=3, validators=[currency_validator]),
        default=list,
        blank=True,
        help_text=_("Currencies deals may use; empty means the tenant's default currency."),
    )
    review_sla_hours = models.PositiveIntegerField(_("review SLA (hours)"), default=48)
    lead_response_sla_hours = models.PositiveIntegerField(
        _("lead response SLA (hours)"), default=48, validators=[MinValueValidator(1)]
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("rules of engagement")
        verbose_name_plural = _("rules of engagement")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="one_rules_per_tenant")]

    def __str__(self) -> str:
        return str(_("Rules of engagement"))


class Product(TenantModel):
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True)
    list_price = models.DecimalField(
        _("list price"), **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, validators=[currency_validator])
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "sku"], name="product_sku")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class LostReason(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="lost_reason_name")]

    def __str__(self) -> str:
        return self.name


class Deal(TenantModel):
    """A deal registration by a partner, or a direct deal recorded by vendor staff."""

    customer_name = models.CharField(_("customer company"), max_length=200)
    customer_domain = models.CharField(_("customer website"), max_length=253, blank=True)
    # Normalized forms used by conflict detection ('' when the domain is free mail).
    customer_name_normalized = models.CharField(max_length=200, editable=False)
    customer_domain_normalized = models.CharField(max_length=253, editable=False, blank=True)
    country = models.CharField(_("country"), max_length=2)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    currency = models.CharField(_("currency"), max_length=3, validators=[currency_validator])
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"))
    expected_close_date = models.DateField(_("expected close date"))
    stage = models.CharField(
        _("stage"), max_length=20, choices=DealStage.choices, default=DealStage.PROSPECTING
    )
    deal_type = models.CharField(
        _("type"), max_length=20, choices=DealType.choices, default=DealType.RESELL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=DealStatus.choices, default=DealStatus.DRAFT
    )
    partner = models.ForeignKey(
        # RESTRICT, not PROTECT: a partner with deals cannot be deleted on its own, but an
        # operator deleting a whole tenant takes its partners and deals together.
        Partner,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="deals",
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auto_approved = models.BooleanField(default=False)
    conflict_count = models.PositiveIntegerField(default=0)
    protection_ends_at = models.DateTimeField(null=True, blank=True)
    expiry_warning_sent_at = models.DateTimeField(null=True, blank=True)
    extension_status = models.CharField(
        max_length=20, choices=ExtensionStatus.choices, default=ExtensionStatus.NONE
    )
    extension_reason = models.TextField(blank=True)
    won_amount = models.DecimalField(**MONEY, null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    lost_reason = models.ForeignKey(
        LostReason, on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    external_id = models.CharField(max_length=100, blank=True)

    history = HistoricalRecords(excluded_fields=["customer_name_normalized", "updated_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="deal_total_not_negative"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="deal_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="deal_recent_idx"),
            models.Index(fields=["tenant", "status", "-created_at"], name="deal_status_idx"),
            models.Index(fields=["tenant", "partner", "-created_at"], name="deal_partner_idx"),
            models.Index(
                fields=["tenant", "registered_by", "-created_at"], name="deal_registrant_idx"
            ),
            models.Index(
                fields=["tenant", "customer_domain_normalized"],
                condition=Q(status__in=["submitted", "more_info", "approved"])
                & ~Q(customer_domain_normalized=""),
                name="deal_open_domain_idx",
            ),
            models.Index(
                fields=["tenant", "protection_ends_at"],
                condition=Q(status="approved"),
                name="deal_protection_idx",
            ),
            # Conflict detection's trigram search, over open deals only (the query's status
            # list): a tenth of the deals, and posting lists short enough at a million.
            GinIndex(
                fields=["tenant", "customer_name_normalized"],
                opclasses=["int8_ops", "gin_trgm_ops"],
                condition=Q(status__in=["submitted", "more_info", "approved"]),
                name="deal_open_name_trgm_idx",
            ),
        ]
        permissions = [
            ("register_deal", "Can register deals for their partner organization"),
            ("review_deal", "Can review deal registrations"),
            ("record_direct_deal", "Can record direct deals"),
            ("export_deal", "Can export deals"),
            ("manage_lead", "Can create, import and route leads"),
            ("respond_lead", "Can accept or decline offered leads"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.get_status_display()})"

    @property
    def is_direct(self) -> bool:
        return self.partner_id is None


class DealLine(TenantModel):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.RESTRICT, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "deal"], name="deal_line_deal_idx")]


class PartnerRole(models.TextChoices):
    CO_SELL = "co_sell", _("Co-seller")
    INFLUENCER = "influencer", _("Influencer")
    FULFILLMENT = "fulfillment", _("Fulfillment")
    REFERRER = "referrer", _("Referrer")


class DealPartner(TenantModel):
    """A further partner on a deal, with its role. Its people see the deal too."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="further_partners")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=PartnerRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "deal", "partner"], name="deal_partner_once")
        ]
        indexes = [models.Index(fields=["tenant", "partner"], name="deal_further_partner_idx")]


class DealTransition(TenantModel):
    """The timeline: every change of status, who made it, when and why."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=DealStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=DealStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    automatic = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "deal", "at"], name="deal_timeline_idx")]


class MatchType(models.TextChoices):
    DOMAIN = "domain", _("Same customer domain")
    NAME = "name", _("Similar company name")


class DealConflict(TenantModel):
    """A candidate conflict found when a deal was submitted, with its score."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="conflicts")
    candidate = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+")
    match_type = models.CharField(max_length=10, choices=MatchType.choices)
    score = models.DecimalField(max_digits=4, decimal_places=3)
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "deal", "candidate"], name="deal_conflict_once"
            )
        ]


class DealUserObjectPermission(UserObjectPermissionBase):
    """django-guardian grants on deals (a deal shared with a rep), with a real foreign key."""

    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE)


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    UNROUTED = "unrouted", _("No partner available")
    CLOSED = "closed", _("Closed")


class Lead(TenantModel):
    company_name = models.CharField(_("company"), max_length=200)
    company_domain = models.CharField(_("website"), max_length=253, blank=True)
    country = models.CharField(_("country"), max_length=2)
    region = models.CharField(_("region"), max_length=50, blank=True)
    competency = models.CharField(_("competency needed"), max_length=100, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    estimated_value = models.DecimalField(
        _("estimated value"), **MONEY, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )  # fmt: skip
    currency = models.CharField(_("currency"), max_length=3, validators=[currency_validator])
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deal = models.ForeignKey(
        Deal, on_delete=models.SET_NULL, null=True, blank=True, related_name="source_leads"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "-created_at"], name="lead_status_idx")]

    def __str__(self) -> str:
        return self.company_name


class OfferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the partner")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Timed out")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class LeadOffer(TenantModel):
    """A lead offered to one partner, with the routing reason and the partner's answer."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="offers")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="lead_offers")
    status = models.CharField(
        max_length=20, choices=OfferStatus.choices, default=OfferStatus.PENDING
    )
    score = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0"))
    reason = models.JSONField(default=dict, blank=True)
    offered_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decline_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "lead", "partner"], name="lead_offered_once_per_partner"
            ),
            models.UniqueConstraint(
                fields=["tenant", "lead"],
                condition=Q(status="pending"),
                name="lead_one_pending_offer",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "expires_at"],
                condition=Q(status="pending"),
                name="lead_offer_due_idx",
            ),
            models.Index(fields=["tenant", "partner", "status"], name="lead_offer_partner_idx"),
        ]
