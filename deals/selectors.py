"""Reads of deal registration shared by pages, the API and jobs. Scoped by the tenant
(manager + RLS) and, here, by who may see what inside it:

- vendor staff with ``deals.view_deal``: every deal of the tenant;
- a partner admin: the deals of their organization, and deals it is a further partner on;
- a partner rep: the deals they registered, and deals shared with them (a guardian grant).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet

from deals.models import (
    OPEN_STATUSES,
    Deal,
    DealConflict,
    DealPartner,
    DealStatus,
    DealTransition,
    DealUserObjectPermission,
)
from deals.normalize import matchable_domain, normalize_company
from partners.models import Membership
from partners.permissions import membership_permissions
from partners.tenancy import dangerously_bypass_rls, require_tenant

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "total": ("-total", "-id"),
    "close": ("expected_close_date", "id"),
    "customer": ("customer_name", "id"),
}


def deal_visibility(actor: Membership) -> Q | None:
    """The filter of deals ``actor`` may see, or None for all of the tenant's deals."""
    if not actor.is_active:
        return Q(pk__in=[])
    perms = membership_permissions(actor)
    if actor.is_staff_member and "deals.view_deal" in perms:
        return None
    if actor.is_partner_member and actor.partner_id:
        if actor.role == "partner_admin":
            # A subquery, not a join: no duplicate rows, so no DISTINCT (which would also
            # forbid the services' SELECT ... FOR UPDATE through this filter).
            further = DealPartner.objects.filter(partner_id=actor.partner_id).values("deal_id")
            return Q(partner_id=actor.partner_id) | Q(pk__in=further)
        shared = DealUserObjectPermission.objects.filter(
            user_id=actor.user_id, permission__codename="view_deal"
        ).values("content_object_id")
        return Q(partner_id=actor.partner_id, registered_by_id=actor.user_id) | Q(pk__in=shared)
    return Q(pk__in=[])


def deal_list(*, actor: Membership) -> QuerySet[Deal]:
    queryset = Deal.objects.select_related("partner", "registered_by")
    visibility = deal_visibility(actor)
    if visibility is not None:
        queryset = queryset.filter(visibility)
    return queryset


@dataclass
class DealFilters:
    q: str = ""
    status: str = ""
    stage: str = ""
    deal_type: str = ""
    partner_id: int | None = None
    registered_by_id: int | None = None
    direct: bool | None = None
    sort: str = "newest"


def deal_search(*, actor: Membership, filters: DealFilters) -> QuerySet[Deal]:
    queryset = deal_list(actor=actor)
    if filters.q:
        term = filters.q.strip()
        domain = matchable_domain(term)
        condition = Q(customer_name__icontains=term)
        if domain and "." in domain:
            condition |= Q(customer_domain_normalized=domain)
        queryset = queryset.filter(condition)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.stage:
        queryset = queryset.filter(stage=filters.stage)
    if filters.deal_type:
        queryset = queryset.filter(deal_type=filters.deal_type)
    if filters.partner_id:
        queryset = queryset.filter(partner_id=filters.partner_id)
    if filters.registered_by_id:
        queryset = queryset.filter(registered_by_id=filters.registered_by_id)
    if filters.direct is not None:
        queryset = queryset.filter(partner__isnull=filters.direct)
    return queryset.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def deal_timeline(*, deal: Deal) -> QuerySet[DealTransition]:
    return DealTransition.objects.filter(deal=deal).select_related("actor").order_by("at", "id")


@dataclass
class DealDetailRows:
    """What a deal's detail shows besides the deal's own row, as plain rows in display order:
    lines ``(id, quantity, unit_price, amount, product_id, product_sku, product_name)``,
    further partners ``(partner_id, partner_name, role)``, timeline ``(from_status,
    to_status, actor_id, actor_full_name, actor_email, automatic, comment, at)``."""

    lines: list[tuple]
    further_partners: list[tuple]
    timeline: list[tuple]


# What the API's detail prefetches (deals.api.views.DealViewSet._detail_prefetches) read,
# with the same joins: a line's product and a further partner's row are required (a row the
# tenant cannot see drops the entry), a timeline entry's actor is optional.
_DETAIL_ROWS_SQL = (
    """
    SELECT l.id, l.quantity, l.unit_price, l.amount, p.id, p.sku, p.name
    FROM deals_dealline l JOIN deals_product p ON p.id = l.product_id
    WHERE l.tenant_id = %(tenant)s AND l.deal_id = %(deal)s ORDER BY l.id
    """,
    """
    SELECT p.id, p.name, f.role
    FROM deals_dealpartner f JOIN partners_partner p ON p.id = f.partner_id
    WHERE f.tenant_id = %(tenant)s AND f.deal_id = %(deal)s ORDER BY f.id
    """,
    """
    SELECT t.from_status, t.to_status, u.id, u.full_name, u.email, t.automatic, t.comment, t.at
    FROM deals_dealtransition t LEFT JOIN partners_user u ON u.id = t.actor_id
    WHERE t.tenant_id = %(tenant)s AND t.deal_id = %(deal)s ORDER BY t.at, t.id
    """,
)


def deal_detail_rows(*, deal: Deal) -> DealDetailRows:
    """The lines, further partners and timeline of a deal the caller has read through the
    actor's scope (the rows are the deal's; row-level security applies), in three plain
    statements: a submit answers with the detail of the deal it wrote, and the same reads
    through the ORM (three prefetches, their model instances) cost more than their SQL."""
    params = {"tenant": require_tenant().pk, "deal": deal.pk}
    results = []
    with connection.cursor() as cursor:
        for sql in _DETAIL_ROWS_SQL:
            cursor.execute(sql, params)
            results.append(cursor.fetchall())
    return DealDetailRows(*results)


def deal_conflicts(*, deal: Deal) -> QuerySet[DealConflict]:
    """For reviewers only: the stored candidates with their partner and score."""
    return (
        DealConflict.objects.filter(deal=deal)
        .select_related("candidate__partner", "candidate__registered_by")
        .order_by("-score", "id")
    )


def deal_conflicted_by(*, deal: Deal) -> QuerySet[DealConflict]:
    """For reviewers only: the other direction, later submissions that found ``deal`` as
    their candidate (conflicts are stored on the submission that found them)."""
    return (
        DealConflict.objects.filter(candidate=deal)
        .select_related("deal__partner", "deal__registered_by")
        .order_by("-score", "id")
    )


def later_conflict_counts(*, deal_ids: list[int]) -> dict[int, int]:
    """For a page of deals: how many later submissions found each one as a candidate."""
    from django.db.models import Count

    rows = (
        DealConflict.objects.filter(candidate_id__in=deal_ids)
        .values("candidate_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["candidate_id"]: row["count"] for row in rows}


def review_queue(*, actor: Membership) -> QuerySet[Deal]:
    """Pending first (submitted, then waiting on the partner), oldest first."""
    from django.db.models import Case, IntegerField, Value, When

    return (
        deal_list(actor=actor)
        .filter(status__in=["submitted", "more_info"])
        .annotate(
            queue_rank=Case(
                When(status="submitted", then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("queue_rank", "submitted_at", "id")
    )


def own_registrations_for_customer(
    *, actor: Membership, customer_name: str, customer_domain: str = ""
) -> QuerySet[Deal]:
    """The partner's own open registrations of the same customer (a hint, not a conflict)."""
    name = normalize_company(customer_name)
    domain = matchable_domain(customer_domain)
    condition = Q(customer_name_normalized=name) if name else Q(pk__in=[])
    if domain:
        condition |= Q(customer_domain_normalized=domain)
    return deal_list(actor=actor).filter(
        condition, partner_id=actor.partner_id, status__in=["draft", *OPEN_STATUSES]
    )


def conflict_candidates(
    *,
    tenant_id: int,
    deal_id: int | None,
    domain: str,
    name: str,
    country: str,
    threshold: Decimal,
    limit: int = 50,
) -> list[tuple[int, float, bool]]:
    """(deal id, score, matched by domain) of open deals of the tenant that may be the same
    customer: the same normalized domain, or a company name at least ``threshold`` similar
    (pg_trgm) in the same country. Two index-friendly branches, united.

    similarity() is a ``real``: the threshold is compared as a ``real`` too, or a name exactly
    at a threshold such as 0.7 (0.699999988 in single precision) would fall just under it."""
    # Under row-level security PostgreSQL keeps pg_trgm's `%` (not LEAKPROOF) out of index
    # conditions: the trigram index would go unused and the query would read every open deal
    # of the tenant (300 ms at a million deals). So this read runs in dangerously_bypass_rls,
    # bound to the transaction's tenant by the policy's own predicate in both branches.
    with dangerously_bypass_rls(), connection.cursor() as cursor:
        # `%` uses the trigram index with this threshold; similarity() re-checks exactly.
        # `%` compares the real score with a double threshold, so it is given a hair less.
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
                       [str(float(threshold) - 1e-6)])  # fmt: skip
        cursor.execute(
            """
            SELECT id, max(score) AS score, bool_or(by_domain) AS by_domain FROM (
                SELECT d.id, 1.0::float8 AS score, true AS by_domain
                FROM deals_deal d
                WHERE d.tenant_id = %(tenant)s AND %(domain)s <> ''
                  AND d.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                  AND d.customer_domain_normalized = %(domain)s
                  AND d.status IN ('submitted', 'more_info', 'approved')
                  AND d.id <> %(deal)s
                UNION ALL
                SELECT d.id, similarity(d.customer_name_normalized, %(name)s)::float8, false
                FROM deals_deal d
                WHERE d.tenant_id = %(tenant)s AND d.country = %(country)s
                  AND d.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                  AND d.customer_name_normalized %% %(name)s
                  AND similarity(d.customer_name_normalized, %(name)s) >= %(threshold)s::real
                  AND d.status IN ('submitted', 'more_info', 'approved')
                  AND d.id <> %(deal)s
            ) candidates
            GROUP BY id
            ORDER BY score DESC, id
            LIMIT %(limit)s
            """,
            {
                "tenant": tenant_id,
                "deal": deal_id or 0,
                "domain": domain,
                "name": name,
                "country": country,
                "threshold": float(threshold),
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    return [(row[0], float(row[1]), bool(row[2])) for row in rows]


def note_is_internal(*, from_status: str, to_status: str, automatic: bool) -> bool:
    """Whether a timeline comment is kept from partner users: a reviewer's approval note
    (an override of the first-approved rule may name the rival registration). The portal's
    deal page and the API both ask this."""
    return to_status == DealStatus.APPROVED and from_status != DealStatus.APPROVED and not automatic
