"""Every write of the partners app: tenants, memberships, invitations, tokens, partners.

Each service is one transaction, takes the acting membership (or user) and checks the
actor's permission itself, so pages, the API, admin actions and tasks share the rules.
Audit rows come from django-simple-history on Tenant, Partner and Membership.
"""

from __future__ import annotations

import secrets
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

from partners import events, selectors
from partners.models import ApiToken, Invitation, Membership, Partner, PartnerStatus, Tenant, User
from partners.permissions import membership_permissions
from partners.roles import PARTNER_ROLES, STAFF_ROLES, Role, invitable_roles
from partners.selectors import hash_secret
from partners.tenancy import require_tenant, tenant_context


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


@transaction.atomic
def partner_create(
    *, actor: Membership | None, name: str, domain: str, status: str = PartnerStatus.ACTIVE
) -> Partner:
    if actor is not None:
        _require_perm(actor, "partners.add_partner")
    tenant = require_tenant()
    partner = Partner(
        tenant=tenant, name=name.strip(), domain=domain.strip().lower(), status=status
    )
    partner.full_clean()
    partner.save()
    events.record(tenant=tenant, name="partner.created", payload={"partner_id": partner.pk})
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
