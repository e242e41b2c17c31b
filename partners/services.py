"""Every write of the partners app: tenants, memberships, invitations, tokens, partners.

Each service is one transaction, takes the acting membership (or user) and checks the
actor's permission itself, so pages, the API, admin actions and tasks share the rules.
Audit rows come from django-simple-history on Tenant, Partner and Membership.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection, send_mail
from django.db import transaction
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from partners import events, grants, selectors
from partners.domains import is_valid_domain, normalize_domain
from partners.models import (
    STATUS_TRANSITIONS,
    STATUSES_NEEDING_REASON,
    ApiToken,
    Invitation,
    Membership,
    Partner,
    PartnerStatus,
    PartnerStatusChange,
    PartnerUserObjectPermission,
    Tenant,
    User,
)
from partners.permissions import membership_permissions
from partners.roles import PARTNER_ROLES, STAFF_ROLES, Role, invitable_roles
from partners.selectors import hash_secret
from partners.tenancy import require_tenant, tenant_context
from partners.tiers import Tier, TierChange, TierChangeKind


def _require_perm(actor: Membership, perm: str) -> None:
    if perm not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


# ---------------------------------------------------------------- tenants


@transaction.atomic
def tenant_create(
    *,
    name: str,
    slug: str,
    default_currency: str = "USD",
    time_zone: str = "UTC",
    settings_: dict | None = None,
) -> Tenant:
    """Operator action: create a tenant (``manage.py create_tenant``, the operator admin)."""
    tenant = Tenant(
        name=name,
        slug=slug,
        default_currency=default_currency.upper(),
        time_zone=time_zone,
        settings=settings_ or {},
    )
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def tenant_update_settings(
    *, actor: Membership, values: dict, replace_settings: dict | None = None
) -> Tenant:
    """Change the tenant's own settings. ``values`` may name ``name``, ``default_currency``
    and ``time_zone``; other keys go into ``settings``. ``replace_settings`` (the admin's
    whole settings document) replaces ``settings`` before ``values`` are applied."""
    _require_perm(actor, "partners.change_tenant")
    tenant = Tenant.objects.select_for_update().get(pk=require_tenant().pk)
    changed = set(values)
    if replace_settings is not None:
        tenant.settings = dict(replace_settings)
        changed.add("settings")
    allowed = {"name", "default_currency", "time_zone"}
    for key, value in values.items():
        if key in allowed:
            setattr(tenant, key, value)
        else:
            tenant.settings[key] = value
    tenant.full_clean()
    tenant._change_reason = "settings updated"
    tenant.save()
    events.record(tenant=tenant, name="tenant.settings_changed", payload={"keys": sorted(changed)})
    return tenant


# ---------------------------------------------------------------- partners


#: Profile fields vendor staff edit (``partner_create`` / ``partner_update``).
STAFF_PROFILE_FIELDS = (
    "name",
    "legal_name",
    "domain",
    "partner_type",
    "segment",
    "employee_count",
    "countries",
    "regions",
    "competencies",
    "lead_capacity",
)
#: Fields a partner admin edits on their own company profile.
PARTNER_PROFILE_FIELDS = ("legal_name", "employee_count", "countries", "regions")


def _clean_profile(
    tenant: Tenant, values: dict, *, known_competencies: Collection[str] | None = None
) -> dict:
    """Normalize profile values; unknown competencies and bad country codes are errors."""
    out = dict(values)
    errors: dict[str, list[str]] = {}
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
    if "legal_name" in out:
        out["legal_name"] = (out["legal_name"] or "").strip()
    if "domain" in out:
        out["domain"] = normalize_domain(out["domain"] or "")
        if not is_valid_domain(out["domain"]):
            errors["domain"] = [_("Enter the partner's website domain, such as example.com.")]
    if "countries" in out:
        codes = [str(c).strip().upper() for c in out["countries"] or [] if str(c).strip()]
        bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
        if bad:
            errors["countries"] = [
                _("Not a two-letter country code: %(codes)s.") % {"codes": ", ".join(bad)}
            ]
        out["countries"] = sorted(set(codes))
    if "regions" in out:
        out["regions"] = sorted({str(r).strip() for r in out["regions"] or [] if str(r).strip()})
    if "competencies" in out:
        names = sorted({str(c).strip() for c in out["competencies"] or [] if str(c).strip()})
        known = set(
            selectors.competency_names() if known_competencies is None else known_competencies
        )
        unknown = [n for n in names if n not in known]
        if unknown:
            errors["competencies"] = [
                _("Not a competency of this program: %(names)s.") % {"names": ", ".join(unknown)}
            ]
        out["competencies"] = names
    if errors:
        raise ValidationError(errors)
    return out


def _check_unique(partner: Partner) -> None:
    others = Partner.objects.exclude(pk=partner.pk) if partner.pk else Partner.objects.all()
    errors = {}
    if others.filter(name__iexact=partner.name).exists():
        errors["name"] = [_("Another partner of this program has this name.")]
    if others.filter(domain=partner.domain).exists():
        errors["domain"] = [_("Another partner of this program has this domain.")]
    if errors:
        raise ValidationError(errors)


class RowsInvalid(ValidationError):
    """A bulk service refused some of its rows, and wrote nothing: ``errors_by_row`` maps the
    index of every refused row (in the list it was given) to that row's ``ValidationError``.
    Caught as a plain ``ValidationError``, it carries the first refused row's errors."""

    def __init__(self, errors_by_row: dict[int, ValidationError]) -> None:
        self.errors_by_row = dict(sorted(errors_by_row.items()))
        super().__init__(next(iter(self.errors_by_row.values())))


@dataclass
class NewPartner:
    """One partner for :func:`partners_bulk_create`: what ``partner_create`` is given."""

    name: str
    domain: str
    status: str = PartnerStatus.ACTIVE
    managers: list[Membership] = field(default_factory=list)
    status_reason: str = ""
    tier: Tier | None = None
    #: The other ``STAFF_PROFILE_FIELDS``.
    profile: dict = field(default_factory=dict)


def partner_build(
    *,
    name: str,
    domain: str,
    status: str = PartnerStatus.ACTIVE,
    status_reason: str = "",
    tier: Tier | None = None,
    known_competencies: Collection[str] | None = None,
    now: datetime | None = None,
    **profile,
) -> Partner:
    """The partner ``partner_create`` would save, unsaved, or ``ValidationError`` with every
    field's errors: the normalized profile, a known status, the model's field rules, the
    status date (and the activation date of an active partner). Uniqueness, tiers and
    managers are checked on save, set-wise. No query but the competency list, which
    ``known_competencies`` saves when building many (the bulk import checks rows with it)."""
    tenant = require_tenant()
    unknown = set(profile) - set(STAFF_PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown partner fields: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    if status not in PartnerStatus.values:
        errors["status"] = [_("Unknown status.")]
    values = {"name": name, "domain": domain, **profile}
    try:
        values = _clean_profile(tenant, values, known_competencies=known_competencies)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    now = now or timezone.now()
    partner = Partner(tenant=tenant, status=status, status_changed_at=now, **values)
    if status == PartnerStatus.ACTIVE:
        partner.activated_on = timezone.localdate(now)
    if status in STATUSES_NEEDING_REASON:
        partner.status_reason = status_reason.strip()[:500]
    if tier is not None:
        partner.assert_same_tenant(tier)
        partner.tier = tier
    # Not the foreign keys: the tenant is the one in context, and that the tier still
    # exists is checked set-wise on save (_new_partners_errors).
    try:
        partner.full_clean(
            exclude=[*errors, "tenant", "tier"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        for field_name, messages in exc.message_dict.items():
            errors.setdefault(field_name, messages)
    if errors:
        raise ValidationError(errors)
    return partner


def _new_partners_errors(partners: dict[int, Partner]) -> dict[int, dict[str, list[str]]]:
    """The field errors of unsaved partners (by their key) that only the database can tell:
    a name or domain another partner has (or an earlier one of ``partners``), a tier that is
    gone. Three queries however many partners."""
    names = {key: partner.name.lower() for key, partner in partners.items()}
    taken_names = set(
        Partner.objects.annotate(lower_name=Lower("name"))
        .filter(lower_name__in=set(names.values()))
        .values_list("lower_name", flat=True)
    )
    taken_domains = set(
        Partner.objects.filter(domain__in={p.domain for p in partners.values()}).values_list(
            "domain", flat=True
        )
    )
    tier_ids = {p.tier_id for p in partners.values() if p.tier_id}
    tiers = (
        set(Tier.objects.filter(pk__in=tier_ids).values_list("pk", flat=True))
        if tier_ids
        else set()
    )
    errors: dict[int, dict[str, list[str]]] = {}
    for key, partner in partners.items():
        row: dict[str, list[str]] = {}
        if names[key] in taken_names:
            row["name"] = [_("Another partner of this program has this name.")]
        if partner.domain in taken_domains:
            row["domain"] = [_("Another partner of this program has this domain.")]
        if partner.tier_id and partner.tier_id not in tiers:
            row["tier"] = [_("This tier no longer exists.")]
        if row:
            errors[key] = row
        taken_names.add(names[key])
        taken_domains.add(partner.domain)
    return errors


def _first_status(partner: Partner, *, actor: Membership | None) -> PartnerStatusChange:
    """The status row of a new partner (unsaved): from nothing to its status."""
    return PartnerStatusChange(
        tenant=partner.tenant, partner=partner, from_status="", to_status=partner.status,
        at=partner.status_changed_at, changed_by_id=actor.user_id if actor else None,
        reason=partner.status_reason,
    )  # fmt: skip


def _tier_given(partner: Partner) -> TierChange:
    """The manual tier change of a partner added in a tier (unsaved)."""
    return TierChange(
        tenant=partner.tenant, partner=partner, from_tier=None, to_tier=partner.tier,
        kind=TierChangeKind.MANUAL, at=partner.status_changed_at,
        reason=_("Tier given when the partner was added."), metrics={},
    )  # fmt: skip


@transaction.atomic
def partner_create(
    *,
    actor: Membership | None,
    name: str,
    domain: str,
    status: str = PartnerStatus.ACTIVE,
    managers: list[Membership] | None = None,
    status_reason: str = "",
    tier: Tier | None = None,
    **profile,
) -> Partner:
    """Add a partner organization (profile fields: ``STAFF_PROFILE_FIELDS``), optionally in
    ``tier`` (recorded as a manual tier change; the tier engine takes over from there).
    Many at once: :func:`partners_bulk_create`, which keeps the same rules."""
    if actor is not None:
        _require_perm(actor, "partners.add_partner")
    tenant = require_tenant()
    partner = partner_build(
        name=name, domain=domain, status=status, status_reason=status_reason, tier=tier, **profile
    )
    errors = _new_partners_errors({0: partner})
    if errors:
        raise ValidationError(errors[0])
    partner.save()
    _first_status(partner, actor=actor).save()
    if tier is not None:
        _tier_given(partner).save()
    if managers:
        _set_managers(partner, managers)
    events.record(tenant=tenant, name="partner.created", payload={"partner_id": partner.pk})
    return partner


@transaction.atomic
def partners_bulk_create(*, actor: Membership | None, partners: list[NewPartner]) -> list[Partner]:
    """Add many partners at once, each as ``partner_create`` would (same checks; a status
    row, a history row, the given tier's manual change, the managers' grants and a
    ``partner.created`` event), in some fifteen queries however many partners: give it a
    few thousand at a time. All or nothing: ``RowsInvalid`` names every refused partner.
    The partners come back in the order given, saved."""
    if actor is not None:
        _require_perm(actor, "partners.add_partner")
    tenant = require_tenant()
    if not partners:
        return []
    now = timezone.now()
    competencies = set(selectors.competency_names())
    candidates = set(selectors.manager_candidates().values_list("pk", flat=True))
    built: dict[int, Partner] = {}
    errors: dict[int, dict[str, list[str]]] = {}
    for index, new in enumerate(partners):
        row_errors = _manager_errors(new.managers, candidates)
        try:
            built[index] = partner_build(
                name=new.name, domain=new.domain, status=new.status,
                status_reason=new.status_reason, tier=new.tier,
                known_competencies=competencies, now=now, **new.profile,
            )  # fmt: skip
        except ValidationError as exc:
            row_errors = {**exc.message_dict, **row_errors}
        if row_errors:
            errors[index] = row_errors
    for index, row_errors in _new_partners_errors(built).items():
        errors[index] = {**row_errors, **errors.get(index, {})}
    if errors:
        raise RowsInvalid({index: ValidationError(e) for index, e in errors.items()})

    created = bulk_create_with_history(
        list(built.values()), Partner, default_user=actor.user if actor else None,
        default_date=now,
    )  # fmt: skip
    PartnerStatusChange.objects.bulk_create([_first_status(p, actor=actor) for p in created])
    TierChange.objects.bulk_create([_tier_given(p) for p in created if p.tier_id])
    grants = [
        (partner, user_id)
        for partner, new in zip(created, partners, strict=True)
        for user_id in dict.fromkeys(m.user_id for m in new.managers)
    ]
    if grants:
        manage = Permission.objects.get(
            content_type=ContentType.objects.get_for_model(Partner),
            codename=selectors.MANAGE_PARTNER,
        )
        PartnerUserObjectPermission.objects.bulk_create(
            PartnerUserObjectPermission(permission=manage, user_id=user_id, content_object=p)
            for p, user_id in grants
        )
    events.record_many(
        tenant=tenant, name="partner.created", payloads=[{"partner_id": p.pk} for p in created]
    )
    return created


def _require_partner_access(actor: Membership, partner: Partner) -> None:
    if not selectors.can_manage_partner(actor=actor, partner=partner):
        raise PermissionDenied(_("You do not manage this partner."))


@transaction.atomic
def partner_update(*, actor: Membership | None, partner: Partner, **changes) -> Partner:
    """Change a partner's profile. Staff (who manage the partner) change
    ``STAFF_PROFILE_FIELDS``; the partner's own admins ``PARTNER_PROFILE_FIELDS``."""
    if actor is not None and actor.is_partner_member:
        _require_perm(actor, "partners.change_partner_profile")
        if partner.pk != actor.partner_id:
            raise PermissionDenied(_("You can only edit your own organization."))
        allowed = PARTNER_PROFILE_FIELDS
    else:
        if actor is not None:
            _require_partner_access(actor, partner)
        allowed = STAFF_PROFILE_FIELDS
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError(
            {f: [_("This field cannot be changed here.")] for f in sorted(unknown)}
        )
    tenant = require_tenant()
    values = _clean_profile(tenant, changes)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    for key, value in values.items():
        setattr(partner, key, value)
    partner.full_clean(validate_unique=False, validate_constraints=False)
    _check_unique(partner)
    partner.save()
    events.record(
        tenant=tenant,
        name="partner.updated",
        payload={"partner_id": partner.pk, "fields": sorted(values)},
    )
    return partner


@transaction.atomic
def partner_set_status(
    *,
    actor: Membership | None,
    partner: Partner,
    status: str,
    reason: str = "",
    only_from: str | None = None,
) -> Partner:
    """Move a partner to ``status`` along ``STATUS_TRANSITIONS`` (suspending or offboarding
    needs a reason, which the partner's users are shown). The first activation dates it."""
    if actor is not None:
        _require_partner_access(actor, partner)
    tenant = require_tenant()
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if status not in PartnerStatus.values:
        raise ValidationError({"status": _("Unknown status.")})
    if only_from is not None and partner.status != only_from:
        raise ValidationError(
            {"status": _("Only a %(status)s partner can be changed this way.")
             % {"status": PartnerStatus(only_from).label.lower()}}
        )  # fmt: skip
    if status not in STATUS_TRANSITIONS[partner.status]:
        raise ValidationError(
            {
                "status": _("A partner that is %(from)s cannot become %(to)s.")
                % {
                    "from": partner.get_status_display().lower(),
                    "to": PartnerStatus(status).label.lower(),
                }
            }
        )
    reason = (reason or "").strip()
    if status in STATUSES_NEEDING_REASON and not reason:
        raise ValidationError({"reason": _("Say why; the partner's users will see it.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("Keep the reason under 500 characters.")})
    now = timezone.now()
    previous = partner.status
    partner.status = status
    partner.status_changed_at = now
    partner.status_reason = reason if status in STATUSES_NEEDING_REASON else ""
    if status == PartnerStatus.ACTIVE and partner.activated_on is None:
        partner.activated_on = timezone.localdate(now)
    partner.save(update_fields=["status", "status_changed_at", "status_reason", "activated_on"])
    PartnerStatusChange.objects.create(
        tenant=tenant, partner=partner, from_status=previous, to_status=status, at=now,
        changed_by=actor.user if actor else None, reason=reason,
    )  # fmt: skip
    events.record(
        tenant=tenant,
        name="partner.status_changed",
        payload={"partner_id": partner.pk, "from": previous, "to": status, "reason": reason},
    )
    return partner


def partner_suspend(*, actor: Membership | None, partner: Partner, reason: str) -> Partner:
    return partner_set_status(
        actor=actor, partner=partner, status=PartnerStatus.SUSPENDED, reason=reason
    )


def partner_reactivate(*, actor: Membership | None, partner: Partner, reason: str = "") -> Partner:
    # Checked on the locked row (the object passed in may be stale).
    return partner_set_status(
        actor=actor,
        partner=partner,
        status=PartnerStatus.ACTIVE,
        reason=reason,
        only_from=PartnerStatus.SUSPENDED,
    )


def _manager_errors(managers: list[Membership], candidates: Collection[int]) -> dict:
    """The field error of ``managers`` that are not among ``candidates`` (membership ids of
    ``selectors.manager_candidates``), or none."""
    if any(m.pk not in candidates for m in managers):
        return {"managers": [_("Only active channel managers and tenant admins can be assigned.")]}
    return {}


def _set_managers(partner: Partner, managers: list[Membership]) -> tuple[set[int], set[int]]:
    errors = _manager_errors(managers, {m.pk for m in selectors.manager_candidates()})
    if errors:
        raise ValidationError(errors)
    wanted = {m.user_id: m.user for m in managers}
    current = set(selectors.partner_managers(partner_ids=[partner.pk])[partner.pk])
    current_ids = {u.pk for u in current}
    for user in current:
        if user.pk not in wanted:
            grants.revoke(user=user, perm=f"partners.{selectors.MANAGE_PARTNER}", obj=partner)
    for user_id, user in wanted.items():
        if user_id not in current_ids:
            grants.grant(user=user, perm=f"partners.{selectors.MANAGE_PARTNER}", obj=partner)
    return set(wanted) - current_ids, current_ids - set(wanted)


@transaction.atomic
def partner_assign_managers(
    *, actor: Membership | None, partner: Partner, managers: list[Membership]
) -> Partner:
    """Make ``managers`` (channel managers or tenant admins of the tenant) exactly the
    partner's assigned managers, as django-guardian grants of ``partners.manage_partner``."""
    if actor is not None:
        _require_perm(actor, "partners.assign_partner_manager")
    tenant = require_tenant()
    for manager in managers:
        partner.assert_same_tenant(manager)
    added, removed = _set_managers(partner, managers)
    if added or removed:
        events.record(
            tenant=tenant,
            name="partner.managers_changed",
            payload={"partner_id": partner.pk, "added": sorted(added), "removed": sorted(removed)},
        )
    return partner


# ---------------------------------------------------------------- memberships


@transaction.atomic
def membership_create(
    *, actor: Membership | None, user: User, role: str, partner: Partner | None = None
) -> Membership:
    """Give a user a role in the current tenant. ``actor=None`` is for operator code."""
    tenant = require_tenant()
    if actor is not None:
        _require_perm(actor, "partners.add_membership")
    _validate_role_and_partner(tenant=tenant, role=role, partner=partner)
    membership = Membership(tenant=tenant, user=user, role=role, partner=partner)
    membership.assert_same_tenant(partner)
    membership.full_clean()
    membership.save()
    events.record(
        tenant=tenant,
        name="membership.created",
        payload={"membership_id": membership.pk, "role": role},
    )
    return membership


@transaction.atomic
def membership_update(
    *,
    actor: Membership | None,
    membership: Membership,
    role: str | None = None,
    is_active: bool | None = None,
) -> Membership:
    """Change a member's role or active flag. ``actor=None`` is for operator code."""
    if actor is not None and actor.is_partner_member:
        _require_perm(actor, "partners.invite_partner_user")
        if membership.partner_id != actor.partner_id:
            raise PermissionDenied(_("You can only manage people of your own organization."))
        if role is not None and role not in PARTNER_ROLES:
            raise ValidationError({"role": _("Partner users can only hold partner roles.")})
    elif actor is not None:
        _require_perm(actor, "partners.change_membership")
    if (
        actor is not None
        and membership.pk == actor.pk
        and (is_active is False or (role and role != actor.role))
    ):
        raise ValidationError(_("You cannot change your own role or deactivate yourself."))
    if role is not None:
        _validate_role_and_partner(tenant=require_tenant(), role=role, partner=membership.partner)
        membership.role = role
    if is_active is not None:
        membership.is_active = is_active
    membership.full_clean()
    membership.save()
    events.record(
        tenant=membership.tenant,
        name="membership.changed",
        payload={
            "membership_id": membership.pk,
            "role": membership.role,
            "is_active": membership.is_active,
        },
    )
    return membership


def _validate_role_and_partner(*, tenant: Tenant, role: str, partner: Partner | None) -> None:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if role in PARTNER_ROLES and partner is None:
        raise ValidationError({"partner": _("Partner roles need a partner organization.")})
    if role in STAFF_ROLES and partner is not None:
        raise ValidationError({"partner": _("Vendor staff do not belong to a partner.")})
    if partner is not None and partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": _("Unknown partner organization.")})


# ---------------------------------------------------------------- invitations


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str

    @property
    def url(self) -> str:
        return f"{settings.SITE_URL.rstrip('/')}/accounts/invite/{self.token}/"


def _require_can_invite(actor: Membership, role: str) -> None:
    if role not in invitable_roles(actor.role, set(membership_permissions(actor))):
        raise ValidationError({"role": _("You cannot invite someone to this role.")})


def _unmanaged_partner_ids(actor: Membership, partner_ids: Collection[int]) -> set[int]:
    """Of ``partner_ids``, those a staff ``actor`` may not invite into: channel managers
    invite people into the partners assigned to them. One query however many."""
    ids = set(partner_ids)
    if not ids:
        return set()
    return ids - set(
        selectors.partner_list(actor=actor).filter(pk__in=ids).values_list("pk", flat=True)
    )


def _invitation_issue(
    *,
    tenant: Tenant,
    actor: Membership | None,
    email: str,
    role: str,
    partner: Partner | None,
    now: datetime,
) -> IssuedInvitation:
    """A new invitation (unsaved) and its token, of which only the hash is stored."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        tenant=tenant,
        email=email,
        role=role,
        partner=partner,
        token_hash=hash_secret(token),
        invited_by=actor.user if actor is not None else None,
        created_at=now,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    invitation.assert_same_tenant(partner)
    return IssuedInvitation(invitation=invitation, token=token)


def _invitation_email(issued: IssuedInvitation, tenant: Tenant) -> tuple[str, str]:
    """The subject and body of an invitation's email (the only place its token is written)."""
    context = {"invitation": issued.invitation, "url": issued.url, "tenant": tenant}
    subject = _("You are invited to %(tenant)s on Trellis") % {"tenant": tenant.name}
    return subject, render_to_string("emails/invitation.txt", context)


def _pending_invitations(emails: Collection[str], now: datetime):
    return Invitation.objects.alias(lower_email=Lower("email")).filter(
        lower_email__in=list(emails),
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    )


@transaction.atomic
def invitation_create(
    *, actor: Membership | None, email: str, role: str, partner: Partner | None = None
) -> IssuedInvitation:
    """Invite an email to a role. Partner admins may invite only into their own organization.

    ``actor=None`` is for operator code (``create_tenant``, the operator admin): any role.
    Many at once: :func:`invitations_bulk_create`.
    """
    tenant = require_tenant()
    if actor is not None:
        _require_can_invite(actor, role)
        if actor.is_partner_member:
            partner = actor.partner
        elif partner is not None and _unmanaged_partner_ids(actor, [partner.pk]):
            raise ValidationError({"partner": _("You do not manage this partner.")})
    _validate_role_and_partner(tenant=tenant, role=role, partner=partner)
    email = email.strip().lower()
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is already a member of this tenant.")})
    now = timezone.now()
    _pending_invitations([email], now).update(revoked_at=now)  # a new one replaces an older one
    issued = _invitation_issue(
        tenant=tenant, actor=actor, email=email, role=role, partner=partner, now=now
    )
    invitation = issued.invitation
    invitation.full_clean()
    invitation.save()
    subject, body = _invitation_email(issued, tenant)
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    )
    events.record(
        tenant=tenant,
        name="invitation.created",
        payload={"invitation_id": invitation.pk, "role": role},
    )
    return issued


#: Invitation emails sent through one mail connection by :func:`invitations_bulk_create`.
EMAIL_BATCH = 200


@transaction.atomic
def invitations_bulk_create(
    *, actor: Membership | None, role: str, invitees: list[tuple[str, Partner | None]]
) -> list[IssuedInvitation]:
    """Invite many people to ``role`` at once (``invitees``: email and partner pairs), each as
    ``invitation_create`` would (same checks; an older pending invitation of the email
    revoked; an ``invitation.created`` event), in a handful of queries however many. The
    emails go after commit, ``EMAIL_BATCH`` to a mail connection. All or nothing:
    ``RowsInvalid`` names every refused invitee (a member already, an email given twice)."""
    tenant = require_tenant()
    if actor is not None:
        _require_can_invite(actor, role)
    if not invitees:
        return []
    now = timezone.now()
    emails = [email.strip().lower() for email, _partner in invitees]
    members = set(
        Membership.objects.annotate(email=Lower("user__email"))
        .filter(email__in=set(emails))
        .values_list("email", flat=True)
    )
    unmanaged: set[int] = set()
    if actor is not None and not actor.is_partner_member:
        unmanaged = _unmanaged_partner_ids(actor, {p.pk for _email, p in invitees if p})
    issued: list[IssuedInvitation] = []
    errors: dict[int, ValidationError] = {}
    seen: set[str] = set()
    for index, ((_email, partner), email) in enumerate(zip(invitees, emails, strict=True)):
        if actor is not None and actor.is_partner_member:
            partner = actor.partner
        try:
            if partner is not None and partner.pk in unmanaged:
                raise ValidationError({"partner": _("You do not manage this partner.")})
            _validate_role_and_partner(tenant=tenant, role=role, partner=partner)
            if email in members:
                raise ValidationError(
                    {"email": _("This person is already a member of this tenant.")}
                )
            if email in seen:
                raise ValidationError({"email": _("This person is invited twice.")})
            seen.add(email)
            one = _invitation_issue(
                tenant=tenant, actor=actor, email=email, role=role, partner=partner, now=now
            )
            # The foreign keys are the tenant, its partners and the actor; the token is new.
            one.invitation.full_clean(
                exclude=["tenant", "partner", "invited_by"], validate_unique=False
            )
        except ValidationError as exc:
            errors[index] = exc
            continue
        issued.append(one)
    if errors:
        raise RowsInvalid(errors)

    _pending_invitations(seen, now).update(revoked_at=now)
    Invitation.objects.bulk_create([one.invitation for one in issued])
    events.record_many(
        tenant=tenant,
        name="invitation.created",
        payloads=[{"invitation_id": one.invitation.pk, "role": role} for one in issued],
    )
    messages = [
        EmailMessage(*_invitation_email(one, tenant), settings.DEFAULT_FROM_EMAIL,
                     [one.invitation.email])
        for one in issued
    ]  # fmt: skip
    for start in range(0, len(messages), EMAIL_BATCH):
        batch = messages[start : start + EMAIL_BATCH]
        # robust: a batch the mail server refuses does not keep the others from going.
        transaction.on_commit(
            lambda batch=batch: get_connection().send_messages(batch), robust=True
        )
    return issued


@transaction.atomic
def invitation_revoke(*, actor: Membership | None, invitation: Invitation) -> Invitation:
    """Revoke a pending invitation. ``actor=None`` is for operator code."""
    if actor is not None:
        _require_perm(actor, "partners.delete_invitation")
        if actor.is_partner_member and invitation.partner_id != actor.partner_id:
            raise PermissionDenied(_("You can only manage people of your own organization."))
        # Revoking is the other half of inviting: a channel manager, who may not invite
        # staff, may not cancel a tenant admin's invitation of a colleague either.
        perms = set(membership_permissions(actor))
        if invitation.role not in invitable_roles(actor.role, perms):
            raise PermissionDenied(_("Your role does not allow this."))
    if invitation.state != "pending":
        raise ValidationError(_("Only a pending invitation can be revoked."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_accept(
    *, invitation: Invitation, user: User | None, full_name: str = "", password: str = ""
) -> Membership:
    """Accept an invitation: create the account if needed (with the password) and join."""
    with tenant_context(invitation.tenant):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.state != "pending":
            raise ValidationError(_("This invitation is no longer valid."))
        if user is None:
            if User.objects.filter(email__iexact=locked.email).exists():
                raise ValidationError(_("An account exists for this email: sign in to accept."))
            user = User(email=locked.email, full_name=full_name.strip())
            from django.contrib.auth.password_validation import validate_password

            validate_password(password, user)
            user.set_password(password)
            user.save()
        elif user.email.lower() != locked.email.lower():
            raise ValidationError(_("This invitation was sent to another email address."))
        if Membership.objects.filter(user=user).exists():
            raise ValidationError(_("You are already a member of this tenant."))
        membership = membership_create(
            actor=None, user=user, role=locked.role, partner=locked.partner
        )
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by"])
        return membership


# ---------------------------------------------------------------- API tokens


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str


class TokenRequestRefused(Exception):
    """Wrong credentials or no membership: always the same message, nothing leaks."""


def api_token_create(
    *, request: HttpRequest | None, email: str, password: str, tenant_slug: str, name: str = ""
) -> IssuedToken:
    user = authenticate(request, username=email, password=password)
    if user is None:
        raise TokenRequestRefused
    tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
    if tenant is None:
        raise TokenRequestRefused
    with tenant_context(tenant):
        membership = Membership.objects.filter(user=user, is_active=True).first()
        if membership is None:
            raise TokenRequestRefused
        return _issue_token(membership=membership, name=name)


@transaction.atomic
def api_token_issue(*, actor: Membership, name: str = "") -> IssuedToken:
    """A token for the signed-in member (from the API tokens page)."""
    return _issue_token(membership=actor, name=name)


def _issue_token(*, membership: Membership, name: str) -> IssuedToken:
    key = f"trl_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        tenant=membership.tenant,
        membership=membership,
        name=name[:100],
        prefix=key[:12],
        key_hash=hash_secret(key),
    )
    events.record(
        tenant=membership.tenant, name="api_token.created", payload={"token_id": token.pk}
    )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(*, actor: Membership | None, token: ApiToken) -> ApiToken:
    """Revoke a token: its owner, a member allowed to, or operator code (``actor=None``)."""
    if actor is not None and token.membership_id != actor.pk:
        _require_perm(actor, "partners.delete_apitoken")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        events.record(tenant=token.tenant, name="api_token.revoked", payload={"token_id": token.pk})
    # The cached ids grant nothing by themselves (each request re-checks revoked_at); drop
    # them anyway so the next request takes the slow path and finds no live token.
    key_hash = token.key_hash
    transaction.on_commit(lambda: selectors.api_token_forget(key_hash))
    return token


def api_token_touch(token: ApiToken) -> None:
    """Record use at most once a minute, so a busy integration does not write per request."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < timedelta(minutes=1):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
