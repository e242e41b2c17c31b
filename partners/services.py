"""Every write of the partners app: tenants, memberships, invitations, tokens, partners.

Each service is one transaction, takes the acting membership (or user) and checks the
actor's permission itself, so pages, the API, admin actions and tasks share the rules.
Audit rows come from django-simple-history on Tenant, Partner and Membership.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

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


def partner_profile_clean(
    values: dict, *, known_competencies: Collection[str] | None = None
) -> dict:
    """The profile checks of ``partner_create`` / ``partner_update``, without writing: the
    normalized values, or ``ValidationError`` with field errors (the bulk import checks each
    row with it). ``known_competencies`` saves the competency query when checking many rows."""
    return _clean_profile(require_tenant(), values, known_competencies=known_competencies)


def _check_unique(partner: Partner) -> None:
    others = Partner.objects.exclude(pk=partner.pk) if partner.pk else Partner.objects.all()
    errors = {}
    if others.filter(name__iexact=partner.name).exists():
        errors["name"] = [_("Another partner of this program has this name.")]
    if others.filter(domain=partner.domain).exists():
        errors["domain"] = [_("Another partner of this program has this domain.")]
    if errors:
        raise ValidationError(errors)


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
    ``tier`` (recorded as a manual tier change; the tier engine takes over from there)."""
    if actor is not None:
        _require_perm(actor, "partners.add_partner")
    tenant = require_tenant()
    unknown = set(profile) - set(STAFF_PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown partner fields: {sorted(unknown)}")
    if status not in PartnerStatus.values:
        raise ValidationError({"status": _("Unknown status.")})
    values = _clean_profile(tenant, {"name": name, "domain": domain, **profile})
    now = timezone.now()
    partner = Partner(tenant=tenant, status=status, status_changed_at=now, **values)
    if status == PartnerStatus.ACTIVE:
        partner.activated_on = timezone.localdate(now)
    if status in STATUSES_NEEDING_REASON:
        partner.status_reason = status_reason.strip()[:500]
    if tier is not None:
        partner.assert_same_tenant(tier)
        partner.tier = tier
    partner.full_clean(validate_unique=False, validate_constraints=False)
    _check_unique(partner)
    partner.save()
    PartnerStatusChange.objects.create(
        tenant=tenant, partner=partner, from_status="", to_status=status, at=now,
        changed_by=actor.user if actor else None, reason=partner.status_reason,
    )  # fmt: skip
    if tier is not None:
        TierChange.objects.create(
            tenant=tenant, partner=partner, from_tier=None, to_tier=tier,
            kind=TierChangeKind.MANUAL, at=now, reason=_("Tier given when the partner was added."),
            metrics={},
        )  # fmt: skip
    if managers:
        _set_managers(partner, managers)
    events.record(tenant=tenant, name="partner.created", payload={"partner_id": partner.pk})
    return partner


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


def _set_managers(partner: Partner, managers: list[Membership]) -> tuple[set[int], set[int]]:
    allowed = {m.pk: m for m in selectors.manager_candidates()}
    bad = [m for m in managers if m.pk not in allowed]
    if bad:
        raise ValidationError(
            {"managers": [_("Only active channel managers and tenant admins can be assigned.")]}
        )
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


@transaction.atomic
def invitation_create(
    *, actor: Membership | None, email: str, role: str, partner: Partner | None = None
) -> IssuedInvitation:
    """Invite an email to a role. Partner admins may invite only into their own organization.

    ``actor=None`` is for operator code (``create_tenant``, the operator admin): any role.
    """
    tenant = require_tenant()
    if actor is not None:
        perms = membership_permissions(actor)
        if role not in invitable_roles(actor.role, set(perms)):
            raise ValidationError({"role": _("You cannot invite someone to this role.")})
        if actor.is_partner_member:
            partner = actor.partner
        elif (
            partner is not None
            and not selectors.partner_list(actor=actor).filter(pk=partner.pk).exists()
        ):
            # Channel managers invite people into the partners assigned to them.
            raise ValidationError({"partner": _("You do not manage this partner.")})
    _validate_role_and_partner(tenant=tenant, role=role, partner=partner)
    email = email.strip().lower()
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is already a member of this tenant.")})
    pending = Invitation.objects.filter(
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    pending.update(revoked_at=timezone.now())  # a new invitation replaces an older one
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        tenant=tenant,
        email=email,
        role=role,
        partner=partner,
        token_hash=hash_secret(token),
        invited_by=actor.user if actor is not None else None,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    invitation.assert_same_tenant(partner)
    invitation.full_clean()
    invitation.save()
    issued = IssuedInvitation(invitation=invitation, token=token)
    context = {"invitation": invitation, "url": issued.url, "tenant": tenant}
    subject = _("You are invited to %(tenant)s on Trellis") % {"tenant": tenant.name}
    body = render_to_string("emails/invitation.txt", context)
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    )
    events.record(
        tenant=tenant,
        name="invitation.created",
        payload={"invitation_id": invitation.pk, "role": role},
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
