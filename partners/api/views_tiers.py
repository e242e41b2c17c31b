"""API views of tiers: the tier ladder (read by every member, written by tenant admins), the
tier history, the proposals that wait for approval, the engine's run, and competencies.

Thin like every API view: parse with a serializer, call a selector, ``partners.tier_services``
or ``partners.tier_engine``, render. Scope, lookup and role checks live in partners.api.base.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from partners import metrics as metric_registry
from partners import selectors, tier_engine, tier_services
from partners.api import filters
from partners.api import serializers_tiers as s
from partners.api.base import TenantViewSet
from partners.api.errors import error_responses
from partners.api.keyset import KeysetCursorPagination
from partners.models import Competency
from partners.tenancy import require_tenant
from partners.tiers import Tier, TierChange, TierProposal, changes_need_approval

# ---------------------------------------------------------------- tiers


def _criteria(data: dict) -> list[tier_services.CriterionInput] | None:
    rows = data.pop("criteria", None)
    if rows is None:
        return None
    return [tier_services.CriterionInput(**row) for row in rows]


@extend_schema_view(
    list=extend_schema(
        summary="List the tiers of the program, best first",
        description="Every member of the tenant, partner users too: criteria and benefits.",
        responses={200: s.TierSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get one tier",
        responses={200: s.TierSerializer, **error_responses(401, 404)},
    ),
    create=extend_schema(
        summary="Add a tier",
        description=(
            "Tenant admins (`partners.add_tier`). Each criterion names a metric of "
            "GET /tiers/metrics/, an operator and a threshold; rank and name are unique. "
            "Partners move when the engine next runs (or POST /tiers/evaluate/)."
        ),
        request=s.TierWriteSerializer,
        responses={201: s.TierSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a tier",
        description=(
            "Tenant admins (`partners.change_tier`). Only the fields sent change; "
            "`criteria`, when sent, replace the stored ones."
        ),
        request=s.TierWriteSerializer,
        responses={200: s.TierSerializer, **error_responses(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a tier nobody holds",
        description=(
            "Tenant admins (`partners.delete_tier`). A tier partners are in, or that a "
            "pending proposal names, answers 400."
        ),
        responses={204: None, **error_responses(400, 401, 403, 404)},
    ),
    metrics=extend_schema(
        summary="The metrics a tier criterion may name",
        responses={200: s.MetricSerializer(many=True), **error_responses(401)},
    ),
    evaluate=extend_schema(
        summary="Run the tier engine now, or preview it",
        description=(
            "Tenant admins (`partners.change_tier`). Evaluates every active partner: with "
            '`"dry_run": true` (the default) it only says what would change and why; '
            "otherwise it applies the changes (or, when the program wants changes approved, "
            "leaves them as proposals) and returns them."
        ),
        request=s.TierEvaluateSerializer,
        responses={200: s.TierEvaluationSerializer, **error_responses(400, 401, 403)},
    ),
)
class TierViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    model = Tier
    serializer_class = s.TierSerializer
    pagination_class = KeysetCursorPagination
    filter_backends: list = []
    ordering = ("-rank", "-id")
    # Every member reads the ladder (partners see what the next tier takes).
    required_perms = {
        "GET": [],
        "POST": ["partners.add_tier"],
        "PATCH": ["partners.change_tier"],
        "DELETE": ["partners.delete_tier"],
    }

    def scope_queryset(self, *, actor):
        return selectors.tier_list()

    def _render(self, tier: Tier) -> dict:
        return s.TierSerializer(self.get_queryset().get(pk=tier.pk)).data

    def create(self, request, *args, **kwargs):
        serializer = s.TierWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        tier = tier_services.tier_create(actor=self.membership, criteria=_criteria(data), **data)
        return Response(self._render(tier), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        tier = self.get_object()
        serializer = s.TierWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        tier = tier_services.tier_update(
            actor=self.membership, tier=tier, criteria=_criteria(data), **data
        )
        return Response(self._render(tier))

    def perform_destroy(self, instance):
        tier_services.tier_delete(actor=self.membership, tier=instance)

    @action(detail=False, methods=["get"], pagination_class=None)
    def metrics(self, request, *args, **kwargs):
        rows = [
            {"key": m.key, "label": str(m.label), "unit": m.unit}
            for m in metric_registry.all_metrics()
        ]
        return Response(s.MetricSerializer(rows, many=True).data)

    @action(
        detail=False,
        methods=["post"],
        pagination_class=None,
        required_perms={"POST": ["partners.change_tier"]},
    )
    def evaluate(self, request, *args, **kwargs):
        serializer = s.TierEvaluateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dry_run = serializer.validated_data["dry_run"]
        tenant = require_tenant()
        proposals = tier_engine.tiers_evaluate(tenant=tenant, dry_run=dry_run)
        body = {
            "dry_run": dry_run,
            "changes_need_approval": changes_need_approval(tenant),
            "changes": [
                {
                    "partner": {"id": p.partner_id, "name": p.partner_name},
                    "from_tier": p.from_tier,
                    "to_tier": p.to_tier,
                    "kind": p.kind,
                    "reason": p.reason,
                    "metrics": p.metrics,
                    "warnings": p.warnings,
                    "change": p.change_id,
                    "proposal": p.proposal_id,
                }
                for p in proposals
            ],
        }
        return Response(s.TierEvaluationSerializer(body).data)


# ---------------------------------------------------------------- tier history


@extend_schema_view(
    list=extend_schema(
        summary="List tier changes, newest first",
        description=(
            "Staff with `partners.view_tierchange`: every partner's (channel managers: the "
            "partners assigned to them), each with the metric values that decided it."
        ),
        responses={200: s.TierChangeSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one tier change",
        responses={200: s.TierChangeSerializer, **error_responses(401, 403, 404)},
    ),
)
class TierChangeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = TierChange
    serializer_class = s.TierChangeSerializer
    filterset_class = filters.TierChangeFilter
    pagination_class = KeysetCursorPagination
    ordering = ("-at", "-id")
    required_perms = {"GET": ["partners.view_tierchange"]}

    def scope_queryset(self, *, actor):
        return selectors.tier_change_list(actor=actor)


# ---------------------------------------------------------------- tier proposals


@extend_schema_view(
    list=extend_schema(
        summary="The queue of tier changes waiting for approval, oldest first",
        description=(
            "When the program wants tier changes approved, the engine leaves them here. "
            "Staff with `partners.view_tierproposal` (channel managers: their partners')."
        ),
        responses={200: s.TierProposalSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one tier proposal (in any status)",
        responses={200: s.TierProposalSerializer, **error_responses(401, 403, 404)},
    ),
    approve=extend_schema(
        summary="Approve a tier proposal: the partner changes tier",
        description="`partners.decide_tier_proposal`. The change is recorded in the history.",
        request=s.TierProposalDecisionSerializer,
        responses={200: s.TierProposalSerializer, **error_responses(400, 401, 403, 404)},
    ),
    reject=extend_schema(
        summary="Reject a tier proposal",
        description=(
            "`partners.decide_tier_proposal`, with a note saying why. The engine does not "
            "propose the same change again until its conclusion changes."
        ),
        request=s.TierProposalDecisionSerializer,
        responses={200: s.TierProposalSerializer, **error_responses(400, 401, 403, 404)},
    ),
)
class TierProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = TierProposal
    serializer_class = s.TierProposalSerializer
    pagination_class = KeysetCursorPagination
    filter_backends: list = []
    ordering = ("created_at", "id")
    required_perms = {
        "GET": ["partners.view_tierproposal"],
        "POST": ["partners.view_tierproposal", "partners.decide_tier_proposal"],
    }

    def scope_queryset(self, *, actor):
        if self.action == "list":
            return selectors.tier_proposal_queue(actor=actor)
        return selectors.tier_proposal_list(actor=actor)

    def _decide(self, request, *, approve: bool) -> Response:
        proposal = self.get_object()
        serializer = s.TierProposalDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proposal = tier_engine.tier_proposal_decide(
            actor=self.membership,
            proposal=proposal,
            approve=approve,
            note=serializer.validated_data["note"],
        )
        return Response(s.TierProposalSerializer(self.get_queryset().get(pk=proposal.pk)).data)

    @action(detail=True, methods=["post"])
    def approve(self, request, *args, **kwargs):
        return self._decide(request, approve=True)

    @action(detail=True, methods=["post"])
    def reject(self, request, *args, **kwargs):
        return self._decide(request, approve=False)


# ---------------------------------------------------------------- competencies


@extend_schema_view(
    list=extend_schema(
        summary="List the program's competencies",
        description="Every member: the values a partner profile's `competencies` may hold.",
        responses={200: s.CompetencySerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get one competency",
        responses={200: s.CompetencySerializer, **error_responses(401, 404)},
    ),
)
class CompetencyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Competency
    serializer_class = s.CompetencySerializer
    pagination_class = KeysetCursorPagination
    filter_backends: list = []
    ordering = ("name", "id")
    required_perms: dict = {}

    def scope_queryset(self, *, actor):
        return selectors.competency_list()
