"""Reads shared by pages, the API and the admin. Scoped by the current tenant unless noted."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import CharField, F, Func, Q, QuerySet
from django.utils import timezone

from partners import metrics as metric_registry
from partners.models import (
    ApiToken,
    Competency,
    Invitation,
    Membership,
    Partner,
    PartnerStatusChange,
    PartnerUserObjectPermission,
    Tenant,
    User,
)
from partners.permissions import membership_permissions
from partners.roles import Role
from partners.tenancy import dangerously_all_tenants, require_tenant
from partners.tiers import (
    Tier,
    TierChange,
    TierCriterion,
    TierProposal,
    TierProposalStatus,
    criterion_holds,
)


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


#: The guardian permission (codename) a channel manager holds on each assigned partner.
MANAGE_PARTNER = "manage_partner"
#: Roles that may be assigned to a partner as its manager.
MANAGER_ROLES = (Role.CHANNEL_MANAGER, Role.TENANT_ADMIN)


def _managed_partner_ids(*, user_id: int) -> QuerySet:
    return PartnerUserObjectPermission.objects.filter(
        user_id=user_id,
        permission__codename=MANAGE_PARTNER,
        permission__content_type__app_label="partners",
    ).values("content_object_id")


def sees_all_partners(actor: Membership) -> bool:
    return "partners.view_all_partners" in membership_permissions(actor)


def partner_list(*, actor: Membership) -> QuerySet[Partner]:
    """Partners an actor may see: partner users their own organization; staff with
    ``view_all_partners`` every partner; channel managers the partners assigned to them."""
    queryset = Partner.objects.select_related("tier").order_by("name")
    if actor.is_partner_member:
        return queryset.filter(pk=actor.partner_id)
    if sees_all_partners(actor):
        return queryset
    return queryset.filter(pk__in=_managed_partner_ids(user_id=actor.user_id))


def can_manage_partner(*, actor: Membership, partner: Partner) -> bool:
    """Staff who may change ``partner``: ``change_partner`` and (every partner, or assigned)."""
    permissions = membership_permissions(actor)
    if actor.is_partner_member or "partners.change_partner" not in permissions:
        return False
    if "partners.view_all_partners" in permissions:
        return True
    return _managed_partner_ids(user_id=actor.user_id).filter(content_object_id=partner.pk).exists()


#: Sort keys of the partner directory (``?sort=``); a leading "-" reverses.
PARTNER_SORTS = {
    "name": ("name",),
    "created": ("created_at", "id"),
    "activated": ("activated_on", "id"),
    "status": ("status", "name"),
    "tier": ("tier__rank", "name"),
    "type": ("partner_type", "name"),
}


@dataclass
class PartnerFilters:
    """The partner directory's filters (console page, CSV export and API share them)."""

    q: str = ""
    tier: list[int] = field(default_factory=list)  # tier ids; 0 means "no tier"
    partner_type: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    segment: list[str] = field(default_factory=list)
    region: str = ""
    country: str = ""
    competency: str = ""
    manager: int | None = None  # a user id
    sort: str = "name"


def partner_directory(*, actor: Membership, filters: PartnerFilters) -> QuerySet[Partner]:
    """The partner directory: :func:`partner_list` narrowed by ``filters`` and sorted."""
    queryset = partner_list(actor=actor)
    q = filters.q.strip()
    if q:
        queryset = queryset.filter(
            Q(name__icontains=q) | Q(legal_name__icontains=q) | Q(domain__icontains=q.lower())
        )
    if filters.tier:
        ids = [t for t in filters.tier if t]
        cond = Q(tier_id__in=ids) if ids else Q(pk__in=[])
        if 0 in filters.tier:
            cond |= Q(tier__isnull=True)
        queryset = queryset.filter(cond)
    if filters.partner_type:
        queryset = queryset.filter(partner_type__in=filters.partner_type)
    if filters.status:
        queryset = queryset.filter(status__in=filters.status)
    if filters.segment:
        queryset = queryset.filter(segment__in=filters.segment)
    if filters.region:
        queryset = queryset.filter(regions__contains=[filters.region])
    if filters.country:
        queryset = queryset.filter(countries__contains=[filters.country.upper()])
    if filters.competency:
        queryset = queryset.filter(competencies__contains=[filters.competency])
    if filters.manager:
        queryset = queryset.filter(pk__in=_managed_partner_ids(user_id=filters.manager))
    sort = filters.sort or "name"
    descending = sort.startswith("-")
    keys = PARTNER_SORTS.get(sort.lstrip("-"), PARTNER_SORTS["name"])
    order = []
    for key in keys:
        expr = F(key)
        order.append(expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True))
    return queryset.order_by(*order)


def partner_managers(*, partner_ids: Iterable[int]) -> dict[int, list[User]]:
    """The managers assigned to each partner (users with the guardian grant), by partner."""
    ids = list(partner_ids)
    out: dict[int, list[User]] = {pid: [] for pid in ids}
    if not ids:
        return out
    # A manager whose membership (or account) was deactivated is no longer anyone's manager.
    active = Membership.objects.filter(
        is_active=True, user__is_active=True, role__in=[r.value for r in MANAGER_ROLES]
    ).values("user_id")
    rows = (
        PartnerUserObjectPermission.objects.filter(
            content_object_id__in=ids,
            permission__codename=MANAGE_PARTNER,
            permission__content_type__app_label="partners",
            user_id__in=active,
        )
        .select_related("user")
        .order_by("user__email")
    )
    for row in rows:
        out.setdefault(row.content_object_id, []).append(row.user)
    return out


def manager_candidates() -> QuerySet[Membership]:
    """Staff who can be assigned to a partner: active channel managers and tenant admins."""
    require_tenant()
    return (
        Membership.objects.select_related("user")
        .filter(is_active=True, user__is_active=True, role__in=[r.value for r in MANAGER_ROLES])
        .order_by("user__email")
    )


def competency_names() -> list[str]:
    """The tenant's configured competencies (the list partners' competencies come from)."""
    require_tenant()
    return list(Competency.objects.order_by("name").values_list("name", flat=True))


def partner_region_names() -> list[str]:
    """Every region some partner of the tenant serves (the directory's region filter)."""
    require_tenant()
    regions = (
        Partner.objects.annotate(
            region=Func(F("regions"), function="unnest", output_field=CharField())
        )
        .order_by("region")
        .values_list("region", flat=True)
        .distinct()
    )
    return list(regions)


def partner_status_history(*, partner: Partner) -> QuerySet[PartnerStatusChange]:
    return PartnerStatusChange.objects.filter(partner=partner).select_related("changed_by")


def tier_list() -> QuerySet[Tier]:
    """The tenant's tiers, best first, with their criteria."""
    require_tenant()
    return Tier.objects.order_by("-rank").prefetch_related("criteria")


def tier_history(*, partner: Partner) -> QuerySet[TierChange]:
    return TierChange.objects.filter(partner=partner).select_related("from_tier", "to_tier")


def tier_proposal_queue(*, actor: Membership) -> QuerySet[TierProposal]:
    """Pending tier proposals of the partners the actor may see, oldest first."""
    return (
        TierProposal.objects.filter(
            status=TierProposalStatus.PENDING,
            partner__in=partner_list(actor=actor).order_by().values("pk"),
        )
        .select_related("partner", "from_tier", "to_tier")
        .order_by("created_at", "id")
    )


def tier_proposal_list(*, actor: Membership) -> QuerySet[TierProposal]:
    """Tier proposals in any status of the partners the actor may see (the approval queue
    looks proposals up here, so one outside the actor's partners is a 404)."""
    return TierProposal.objects.filter(
        partner__in=partner_list(actor=actor).order_by().values("pk")
    ).select_related("partner", "from_tier", "to_tier", "decided_by")


@dataclass
class CriterionProgress:
    metric: str
    label: str
    operator: str
    operator_label: str
    threshold: Decimal
    value: Decimal | None
    met: bool
    #: How much is missing to meet the criterion (for ">=" and ">"), else None.
    missing: Decimal | None
    unit: str = ""


@dataclass
class TierProgress:
    """A partner's tier, its benefits and progress toward the next tier (the portal home)."""

    partner: Partner
    tier: Tier | None
    next_tier: Tier | None
    criteria: list[CriterionProgress]
    values: dict[str, Decimal | None]
    warnings: list[str]
    evaluated_at: datetime


def partner_metrics(
    *, partner: Partner, keys: Iterable[str] | None = None, now: datetime | None = None
) -> tuple[dict[str, Decimal | None], list[str]]:
    """The current values of metrics (every registered one unless ``keys``) for one
    partner, computed by the metrics' own set-wise queries restricted to the partner (each
    source of several metrics once)."""
    now = now or timezone.now()
    tenant = require_tenant()
    values: dict[str, Decimal | None] = {}
    warnings: list[str] = []
    wanted = list(keys) if keys is not None else [m.key for m in metric_registry.all_metrics()]
    results = metric_registry.evaluate(wanted, tenant, now, [partner.pk])
    for key in wanted:
        metric = metric_registry.get(key)
        if metric is None:
            values[key] = None
            continue
        result = results[key]
        values[key] = metric.value_for(result, partner.pk)
        for warning in result.warnings.get(partner.pk, []):
            if warning not in warnings:
                warnings.append(warning)
    return values, warnings


def _missing(operator: str, value: Decimal | None, threshold: Decimal) -> Decimal | None:
    if operator not in (">=", ">"):
        return None
    if value is None:
        return threshold
    gap = threshold - Decimal(value)
    return gap if gap > 0 else None


def partner_tier_progress(*, partner: Partner, now: datetime | None = None) -> TierProgress:
    """The partner's tier and, for the next tier up, each criterion's value, threshold and
    what is missing (values computed now, as the engine would)."""

    now = now or timezone.now()
    tiers = list(Tier.objects.order_by("rank"))
    current = next((t for t in tiers if t.pk == partner.tier_id), None)
    current_rank = current.rank if current else -1
    next_tier = next((t for t in tiers if t.rank > current_rank), None)
    criteria: list[TierCriterion] = (
        list(TierCriterion.objects.filter(tier=next_tier).order_by("id")) if next_tier else []
    )
    values, warnings = partner_metrics(
        partner=partner, keys=sorted({c.metric for c in criteria}), now=now
    )
    progress = []
    for c in criteria:
        metric = metric_registry.get(c.metric)
        value = values.get(c.metric)
        met = criterion_holds(c.operator, value, c.threshold)
        progress.append(
            CriterionProgress(
                metric=c.metric, label=str(metric.label) if metric else c.metric,
                operator=c.operator, operator_label=c.get_operator_display(),
                threshold=c.threshold, value=value, met=met,
                missing=None if met else _missing(c.operator, value, c.threshold),
                unit=metric.unit if metric else "",
            )
        )  # fmt: skip
    return TierProgress(
        partner=partner, tier=current, next_tier=next_tier, criteria=progress,
        values=values, warnings=warnings, evaluated_at=now,
    )  # fmt: skip


def api_token_list(*, actor: Membership, all_members: bool = False) -> QuerySet[ApiToken]:
    """The actor's live tokens; with ``all_members`` every live token of the tenant (for
    tenant admins: the caller checks ``partners.view_apitoken``)."""
    queryset = ApiToken.objects.select_related("membership__user").filter(revoked_at__isnull=True)
    if not all_members:
        queryset = queryset.filter(membership=actor)
    return queryset.order_by("-created_at")


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


# ---------------------------------------------------------------- reads of the partners API


def competency_list() -> QuerySet[Competency]:
    """The tenant's competencies (every member reads them: the values a profile may hold)."""
    require_tenant()
    return Competency.objects.order_by("name")


def tier_change_list(*, actor: Membership) -> QuerySet[TierChange]:
    """Tier changes of the partners the actor may see (a channel manager: those assigned)."""
    return TierChange.objects.filter(
        partner__in=partner_list(actor=actor).order_by().values("pk")
    ).select_related("partner", "from_tier", "to_tier")


def partner_manager_memberships(*, partner_ids: Iterable[int]) -> dict[int, list[Membership]]:
    """The memberships of each partner's assigned managers (two queries for any number);
    like :func:`partner_managers`, a deactivated manager is nobody's manager."""
    ids = list(partner_ids)
    out: dict[int, list[Membership]] = {pid: [] for pid in ids}
    if not ids:
        return out
    grants = list(
        PartnerUserObjectPermission.objects.filter(
            content_object_id__in=ids,
            permission__codename=MANAGE_PARTNER,
            permission__content_type__app_label="partners",
        ).values_list("content_object_id", "user_id")
    )
    if not grants:
        return out
    members = {
        m.user_id: m
        for m in Membership.objects.select_related("user").filter(
            user_id__in={user_id for _, user_id in grants},
            is_active=True,
            user__is_active=True,
            role__in=[r.value for r in MANAGER_ROLES],
        )
    }
    for partner_id, user_id in grants:
        if user_id in members:
            out.setdefault(partner_id, []).append(members[user_id])
    for managers in out.values():
        managers.sort(key=lambda m: m.user.email)
    return out
