"""Reads shared by pages, the API and the admin. Scoped by the current tenant unless noted."""

from __future__ import annotations

import contextlib
import hashlib

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from partners.models import ApiToken, Invitation, Membership, Partner, Tenant, User
from partners.tenancy import dangerously_all_tenants, require_tenant


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def active_membership(*, user: User) -> Membership | None:
    """The user's active membership in the current tenant."""
    if not user.is_authenticated or not user.is_active:
        return None
    return (
        Membership.objects.select_related("partner", "user", "tenant")
        .filter(user=user, is_active=True)
        .first()
    )


def memberships_for_user(*, user: User) -> list[Membership]:
    """Every active membership of a user, across tenants (for the tenant switcher)."""
    if not user.is_authenticated:
        return []
    # Identity look-up before a tenant is chosen: the user's own rows only.
    with dangerously_all_tenants():
        return list(
            Membership.objects.select_related("tenant", "partner")
            .filter(user=user, is_active=True, tenant__is_active=True)
            .order_by("tenant__name")
        )


def tenants_where_user_has_role(*, user: User, roles: list[str]) -> list[Tenant]:
    return [m.tenant for m in memberships_for_user(user=user) if m.role in roles]


#: How long the ids behind a token key stay cached (see :func:`api_token_ids_by_key`).
API_TOKEN_CACHE_SECONDS = 60


def api_token_cache_key(key_hash: str) -> str:
    return f"partners:api-token:{key_hash}"


def api_token_by_key(key: str) -> ApiToken | None:
    """Find a live token by its key. Tokens are looked up before the tenant is known.

    The slow path (across tenants, five tables). A token found leaves its ids in the cache
    for :func:`api_token_ids_by_key` and :func:`api_token_by_ids`.
    """
    if not key or len(key) > 200:
        return None
    key_hash = hash_secret(key)
    with dangerously_all_tenants():
        token = (
            ApiToken.objects.select_related("tenant", "membership__user", "membership__partner")
            .filter(
                key_hash=key_hash,
                revoked_at__isnull=True,
                membership__is_active=True,
                membership__user__is_active=True,
                tenant__is_active=True,
            )
            .first()
        )
    if token is not None:
        ids = {
            "token_id": token.pk,
            "membership_id": token.membership_id,
            "tenant_id": token.tenant_id,
            "user_id": token.membership.user_id,
        }
        with contextlib.suppress(Exception):  # a cache outage only costs the slow path
            cache.set(api_token_cache_key(key_hash), ids, API_TOKEN_CACHE_SECONDS)
    return token


def api_token_ids_by_key(key: str) -> dict[str, int] | None:
    """The cached ids behind a token key (token, membership, tenant, user), or None.

    Only ids are cached, and they never change for a key (the hash is unique), so the entry
    grants nothing by itself: :func:`api_token_by_ids` reloads the token, its membership and
    user by primary key and checks revocation, the active flags and the role on every request.
    """
    if not key or len(key) > 200:
        return None
    try:
        ids = cache.get(api_token_cache_key(hash_secret(key)))
    except Exception:  # a cache outage only costs the slow path
        return None
    return ids if isinstance(ids, dict) else None


def api_token_by_ids(*, key: str, ids: dict[str, int]) -> ApiToken | None:
    """The live token behind cached ids, by primary key in the current tenant (one query).

    None when it was revoked, its membership or user deactivated, or the ids are stale.
    """
    tenant = require_tenant()
    if tenant.pk != ids.get("tenant_id") or not tenant.is_active:
        return None
    token = (
        ApiToken.objects.select_related("membership__user", "membership__partner")
        .filter(
            pk=ids.get("token_id"),
            key_hash=hash_secret(key),
            membership_id=ids.get("membership_id"),
            membership__user_id=ids.get("user_id"),
            revoked_at__isnull=True,
            membership__is_active=True,
            membership__user__is_active=True,
        )
        .first()
    )
    if token is not None:
        token.tenant = tenant
        token.membership.tenant = tenant
    return token


def api_token_forget(key_hash: str) -> None:
    """Drop a token's cached ids (on revocation; a stale entry is also harmless)."""
    with contextlib.suppress(Exception):
        cache.delete(api_token_cache_key(key_hash))


def invitation_by_token(token: str) -> Invitation | None:
    """Find an invitation by the secret in its link (before the invitee is a member)."""
    if not token or len(token) > 200:
        return None
    with dangerously_all_tenants():
        return (
            Invitation.objects.select_related("tenant", "partner", "invited_by")
            .filter(token_hash=hash_secret(token))
            .first()
        )


def membership_list(*, actor: Membership) -> QuerySet[Membership]:
    """People an actor may see: staff see the tenant, partner users their own organization."""
    require_tenant()
    queryset = Membership.objects.select_related("user", "partner").order_by("user__email")
    if actor.is_partner_member:
        queryset = queryset.filter(partner_id=actor.partner_id)
    return queryset


def invitation_list(*, actor: Membership) -> QuerySet[Invitation]:
    queryset = Invitation.objects.select_related("partner", "invited_by").order_by("-created_at")
    if actor.is_partner_member:
        queryset = queryset.filter(partner_id=actor.partner_id)
    return queryset


def pending_invitation_list(*, actor: Membership) -> QuerySet[Invitation]:
    """Invitations that can still be accepted (not accepted, revoked or expired)."""
    return invitation_list(actor=actor).filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def partner_list(*, actor: Membership) -> QuerySet[Partner]:
    queryset = Partner.objects.order_by("name")
    if actor.is_partner_member:
        queryset = queryset.filter(pk=actor.partner_id)
    return queryset


def api_token_list(*, actor: Membership, all_members: bool = False) -> QuerySet[ApiToken]:
    """The actor's live tokens; with ``all_members`` every live token of the tenant (for
    tenant admins: the caller checks ``partners.view_apitoken``)."""
    queryset = ApiToken.objects.select_related("membership__user").filter(revoked_at__isnull=True)
    if not all_members:
        queryset = queryset.filter(membership=actor)
    return queryset.order_by("-created_at")


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()
