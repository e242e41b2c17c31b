"""Tenants, people, memberships, partner organizations, and the platform plumbing tables.

Every tenant-owned model subclasses ``TenantModel`` (see ``partners/tenancy.py``); its
migration gets row-level security automatically (``partners/db_operations.py``).
"""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from partners.roles import PARTNER_ROLES, STAFF_ROLES, Role
from partners.tenancy import TenantManager, TenantModel
from partners.tiers import (
    Tier,
    TierChange,
    TierChangeKind,
    TierCriterion,
    TierProposal,
    TierProposalStatus,
)

currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code."))


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Tenant(models.Model):
    """A vendor running its partner program on Trellis. Not tenant-owned itself."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=63, unique=True)
    default_currency = models.CharField(
        _("default currency"), max_length=3, default="USD", validators=[currency_validator]
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_superuser", False)
        extra.setdefault("is_staff", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_superuser=True, is_staff=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Global: the same person may be a member of several tenants."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # is_staff/is_superuser mark operators of the deployment, never tenant staff.
    is_staff = models.BooleanField(_("operator"), default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]


class PartnerStatus(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    OFFBOARDED = "offboarded", _("Offboarded")


#: The status changes a partner may go through (``partners.services.partner_set_status``).
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    PartnerStatus.APPLICANT: frozenset(
        {PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED}
    ),
    PartnerStatus.ONBOARDING: frozenset({PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED}),
    PartnerStatus.ACTIVE: frozenset({PartnerStatus.SUSPENDED, PartnerStatus.OFFBOARDED}),
    PartnerStatus.SUSPENDED: frozenset({PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED}),
    PartnerStatus.OFFBOARDED: frozenset({PartnerStatus.ONBOARDING}),
}
#: Statuses a change into needs a reason (shown to the partner's users).
STATUSES_NEEDING_REASON = frozenset({PartnerStatus.SUSPENDED, PartnerStatus.OFFBOARDED})


class PartnerType(models.TextChoices):
    RESELLER = "reseller", _("Reseller")
    REFERRAL = "referral", _("Referral / affiliate")
    DISTRIBUTOR = "distributor", _("Distributor")
    TECHNOLOGY = "technology", _("Technology / ISV")
    SYSTEMS_INTEGRATOR = "systems_integrator", _("Systems integrator")
    MSP = "msp", _("Managed service provider (MSP)")
    CONSULTANT = "consultant", _("Influencer / consultant")


class PartnerSegment(models.TextChoices):
    SMB = "smb", _("Small business")
    MID_MARKET = "mid_market", _("Mid-market")
    ENTERPRISE = "enterprise", _("Enterprise")
    PUBLIC_SECTOR = "public_sector", _("Public sector")


class Competency(TenantModel):
    """A competency a partner can hold (the tenant's list, kept in admin). Partners store
    the names (``Partner.competencies``), which lead routing matches against leads."""

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("competencies")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="competency_name_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class Partner(TenantModel):
    """A partner organization of a tenant."""

    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=300, blank=True)
    domain = models.CharField(_("website domain"), max_length=253)
    partner_type = models.CharField(
        _("type"), max_length=32, choices=PartnerType.choices, default=PartnerType.RESELLER
    )
    segment = models.CharField(_("segment"), max_length=32, choices=PartnerSegment.choices,
                               blank=True)  # fmt: skip
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE
    )
    # The last status change (every one is kept in PartnerStatusChange) and why: a
    # suspended partner's users read the reason where they would register a deal.
    status_changed_at = models.DateTimeField(_("status since"), null=True, blank=True,
                                             editable=False)  # fmt: skip
    status_reason = models.CharField(_("status reason"), max_length=500, blank=True,
                                     editable=False)  # fmt: skip
    activated_on = models.DateField(
        _("activation date"), null=True, blank=True,
        help_text=_("The day the partner first became active."),
    )  # fmt: skip
    # Where and in what the partner sells: used by lead routing.
    countries = ArrayField(
        models.CharField(max_length=2), default=list, blank=True,
        help_text=_("ISO 3166 two-letter codes of the countries served."),
    )  # fmt: skip
    regions = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    competencies = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    lead_capacity = models.PositiveIntegerField(
        _("open-lead capacity"), default=10,
        help_text=_("How many offered or accepted leads the partner can work at once."),
    )  # fmt: skip
    tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="partners",
        verbose_name=_("tier"),
    )  # fmt: skip
    tier_pinned_until = models.DateField(
        _("tier pinned until"), null=True, blank=True,
        help_text=_("The tier engine leaves the tier alone until this date (inclusive)."),
    )  # fmt: skip
    # When the partner first fell below its tier's criteria (cleared when it recovers).
    tier_shortfall_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "domain"], name="partner_domain_per_tenant"),
            models.UniqueConstraint(fields=["tenant", "name"], name="partner_name_per_tenant"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="partner_status_idx"),
            models.Index(fields=["tenant", "tier"], name="partner_tier_idx"),
        ]
        permissions = [
            # Granted per partner (django-guardian) to the channel managers assigned to it.
            ("manage_partner", "Can manage an assigned partner"),
            # Roles that see every partner; the others (channel managers) see their own.
            ("view_all_partners", "Can see every partner of the tenant"),
            ("assign_partner_manager", "Can assign channel managers to partners"),
            ("import_partner", "Can import partners from CSV"),
            ("decide_tier_proposal", "Can approve or reject proposed tier changes"),
            # Partner admins: their own organization's company profile.
            ("change_partner_profile", "Can edit their own organization's profile"),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerUserObjectPermission(UserObjectPermissionBase):
    """django-guardian grants on partners (a channel manager assigned to a partner), with a
    real foreign key so the directory filters by a join, not a text compare."""

    content_object = models.ForeignKey(Partner, on_delete=models.CASCADE)


class PartnerStatusChange(TenantModel):
    """One dated status transition of a partner: from, to, when, who, why."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=PartnerStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=PartnerStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "partner", "-at"], name="partner_status_change_idx")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.from_status or '-'} -> {self.to_status}"


class PartnerImportStatus(models.TextChoices):
    VALIDATING = "validating", _("Checking")
    PREVIEW = "preview", _("Ready to import")
    INVALID = "invalid", _("Has errors")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class PartnerImport(TenantModel):
    """A CSV of partners (and their first partner admins) being checked and imported.

    Checking and importing run as Celery jobs; ``processed_rows`` of ``total_rows`` is the
    progress the pages poll. The import is all or nothing (``partners.imports``)."""

    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    filename = models.CharField(max_length=255, blank=True)
    content = models.TextField(editable=False)
    status = models.CharField(
        max_length=20, choices=PartnerImportStatus.choices, default=PartnerImportStatus.VALIDATING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    #: ``[{"row": 3, "field": "domain", "message": "..."}]``; rows count from 2 (the header
    #: is row 1), as a spreadsheet shows them.
    errors = models.JSONField(default=list, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    invited_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename or 'import'} ({self.get_status_display()})"


class Membership(TenantModel):
    """A user's role in a tenant; partner users also belong to one partner organization."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("partner organization"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["user__email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_tenant"),
            models.CheckConstraint(
                condition=(
                    Q(role__in=sorted(r.value for r in PARTNER_ROLES), partner__isnull=False)
                    | Q(role__in=sorted(r.value for r in STAFF_ROLES), partner__isnull=True)
                ),
                name="partner_roles_need_a_partner",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "partner"], name="membership_partner_idx")]
        permissions = [
            ("access_staff_console", "Can use the staff console"),
            ("access_partner_portal", "Can use the partner portal"),
            ("access_tenant_admin", "Can use the tenant's Django admin"),
            ("invite_staff", "Can invite vendor staff"),
            ("invite_partner_user", "Can invite partner users"),
        ]

    def __str__(self) -> str:
        return f"{self.user.email} ({self.get_role_display()})"

    @property
    def is_staff_member(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_partner_member(self) -> bool:
        return self.role in PARTNER_ROLES


class Invitation(TenantModel):
    """An emailed link that creates (or attaches) an account with a role in a tenant."""

    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "email"], name="invitation_email_idx")]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()}"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiToken(TenantModel):
    """An API token for one membership. Only the SHA-256 of the key is stored."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'token'})"


class OutboxEvent(TenantModel):
    """A domain event written in the same transaction as the change it announces."""

    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the retry after a failed attempt is due; the sweeper only steps in when a due
    # retry did not happen (its task was lost), so it never starts a second retry chain.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "created_at"],
                condition=Q(dispatched_at__isnull=True, gave_up_at__isnull=True),
                name="outbox_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class EventDelivery(TenantModel):
    """One handler's acknowledgement of one event; its uniqueness makes delivery idempotent."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=200)
    delivered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "event", "handler"], name="one_delivery_per_handler"
            )
        ]


class AutomationOutcome(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    RETRYING = "retrying", _("Failed, retry scheduled")
    SKIPPED = "skipped", _("Skipped")


class AutomationRun(TenantModel):
    """The automation run log: one row per run of an automated job in a tenant."""

    job = models.CharField(max_length=200)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20, choices=AutomationOutcome.choices, default=AutomationOutcome.RUNNING
    )
    needed_person = models.BooleanField(default=False)
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "job", "started_at"], name="automation_job_idx")]

    def __str__(self) -> str:
        return f"{self.job} {self.outcome}"


class Notification(TenantModel):
    """An in-app notification for one membership (and, usually, an email with the same text).

    Written by ``partners.notifications.notify``; any app's outbox handler may call it.
    ``url`` is a path inside the tenant (``deals/12/``), never an absolute address."""

    recipient = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    event = models.ForeignKey(
        OutboxEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The inbox and the unread badge: (tenant, recipient, read_at IS NULL) then newest.
            models.Index(
                fields=["tenant", "recipient", "read_at", "created_at"],
                name="notification_inbox_idx",
            )
        ]

    def __str__(self) -> str:
        return self.title


__all__ = [
    "STATUSES_NEEDING_REASON",
    "STATUS_TRANSITIONS",
    "ApiToken",
    "AutomationOutcome",
    "AutomationRun",
    "Competency",
    "EventDelivery",
    "Invitation",
    "Membership",
    "Notification",
    "OutboxEvent",
    "Partner",
    "PartnerImport",
    "PartnerImportStatus",
    "PartnerSegment",
    "PartnerStatus",
    "PartnerStatusChange",
    "PartnerType",
    "PartnerUserObjectPermission",
    "Tenant",
    "TenantManager",
    "Tier",
    "TierChange",
    "TierChangeKind",
    "TierCriterion",
    "TierProposal",
    "TierProposalStatus",
    "User",
]
