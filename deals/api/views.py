"""API views of deal registration: thin. Parse with a serializer, call a selector or a
service, render. Scope, object lookup and role checks live in partners.api.base.

Who may do what (the same permissions as the pages):

- read deals: vendor staff with ``deals.view_deal`` (every deal of the tenant), partner users
  with ``deals.register_deal`` (partner admins their organization's deals and those it is a
  further partner on; reps their own and those shared with them);
- register deals, submit, request an extension: partner users (``deals.register_deal``);
- record direct deals: staff with ``deals.record_direct_deal`` (``"direct": true``);
- approve, reject, request information, decide extensions, see conflicts: reviewers
  (``deals.review_deal``, ``deals.view_dealconflict``);
- mark won or lost: the registering partner or a reviewer; export: ``deals.export_deal``.

Another tenant's or partner's deal, or a colleague's for a rep, is a 404; a role without the
permission a 403; an illegal transition a 400 with code ``invalid``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from deals import catalog, selectors, services, sync
from deals.api import export as csv_export
from deals.api import filters as f
from deals.api import serializers as s
from deals.models import Deal, DealLine, DealPartner, DealTransition, LostReason, Product
from deals.services import DealInput
from partners.api.base import TenantViewSet, parse_id
from partners.api.errors import error_responses
from partners.api.pagination import CursorPagination
from partners.tenancy import require_tenant

_READ_DEALS = ("deals.view_deal", "deals.register_deal")


class DealCursorPagination(CursorPagination):
    """Pages deals by the key ``ordering`` chose. A cursor made under another ordering (its
    position a date where an amount is expected) is an invalid cursor, like a garbled one."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            raise NotFound(self.invalid_cursor_message) from None


_REGISTER = ["deals.register_deal"]
_REVIEW = ["deals.review_deal"]
_OWNER_OR_REVIEWER = [("deals.register_deal", "deals.review_deal")]


# ---------------------------------------------------------------- products


@extend_schema_view(
    list=extend_schema(
        summary="List the product catalog",
        description=(
            "Partner users see the active products (those a registration may use); vendor "
            "staff see every product."
        ),
        responses={200: s.ProductSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one product",
        responses={200: s.ProductSerializer, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Add a product to the catalog",
        description="Tenant admins (`deals.add_product`). The SKU is unique in the program.",
        request=s.ProductWriteSerializer,
        responses={201: s.ProductSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a product",
        description=(
            "Tenant admins (`deals.change_product`). Retire a product with "
            '`{"active": false}`; deals keep the lines they have.'
        ),
        request=s.ProductUpdateSerializer,
        responses={200: s.ProductSerializer, **error_responses(400, 401, 403, 404)},
    ),
)
class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Product
    serializer_class = s.ProductSerializer
    filterset_class = f.ProductFilter
    ordering = ("name", "id")
    required_perms = {
        "GET": ["deals.view_product"],
        "POST": ["deals.add_product"],
        "PATCH": ["deals.view_product", "deals.change_product"],
    }

    def scope_queryset(self, *, actor):
        return catalog.product_list(actor=actor)

    def create(self, request, *args, **kwargs):
        serializer = s.ProductWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = catalog.product_create(
            actor=self.membership, data=catalog.ProductInput(**serializer.validated_data)
        )
        return Response(s.ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        product = self.get_object()
        serializer = s.ProductUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = catalog.product_update(
            actor=self.membership, product=product, changes=dict(serializer.validated_data)
        )
        return Response(s.ProductSerializer(product).data)


# ---------------------------------------------------------------- deals


_DETAIL = {200: s.DealDetailSerializer}
_TRANSITION_ERRORS = error_responses(400, 401, 403, 404)
_EXTERNAL_ID = OpenApiParameter(
    "external_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The deal's id in your CRM (1 to 100 characters, no slash).",
)


def _transition_schema(summary: str, description: str, request) -> dict:
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={**_DETAIL, **_TRANSITION_ERRORS},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List deals",
        description=(
            "The deals you may see, newest first unless `ordering` says otherwise, "
            "cursor-paginated (`page_size` up to 200). Staff see every deal of the program; "
            "partner admins their organization's and those it is a further partner on; "
            "partner reps their own and those shared with them."
        ),
        responses={200: s.DealSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one deal with its lines, further partners and timeline",
        responses={**_DETAIL, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Register a deal, or record a direct deal",
        description=(
            "Partner users register a deal of their organization: a draft, or submitted for "
            'review at once with `"submit": true` (conflict detection and auto-approval run '
            'then). Vendor staff with `deals.record_direct_deal` send `"direct": true` to '
            "record a direct deal (no partner), which is approved at once. Bad input answers "
            "400 with every field's reason and writes nothing."
        ),
        request=s.DealCreateSerializer,
        responses={201: s.DealDetailSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a deal",
        description=(
            "Drafts and deals waiting on a more-info answer change freely; an approved deal "
            "keeps its customer (name, domain, country). Only the fields sent change; `lines` "
            "and `further_partners`, when sent, replace the stored ones. Partner users change "
            "their own organization's deals; reviewers any deal."
        ),
        request=s.DealUpdateSerializer,
        responses={**_DETAIL, **_TRANSITION_ERRORS},
    ),
)
class DealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Deal
    serializer_class = s.DealSerializer
    filterset_class = f.DealFilter
    pagination_class = DealCursorPagination
    required_perms = {
        "GET": [_READ_DEALS],
        "POST": [("deals.register_deal", "deals.record_direct_deal")],
        "PATCH": _OWNER_OR_REVIEWER,
    }

    # -- scope, order, rendering

    @property
    def ordering(self) -> tuple[str, ...]:  # read by the cursor pagination
        request = getattr(self, "request", None)
        key = request.query_params.get("ordering") if request is not None else None
        return f.DEAL_ORDERINGS.get(key or "", f.DEAL_ORDERINGS[f.DEFAULT_DEAL_ORDERING])

    def filter_queryset(self, queryset: QuerySet[Deal]) -> QuerySet[Deal]:
        # Without a filter parameter the filter set changes nothing (every filter skips an
        # absent value), so the common unfiltered list does not build and validate its form.
        params = self.request.query_params
        if not any(name in params for name in f.DealFilter.base_filters):
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        # The page is read as plain rows (values_list): a list builds no model instances,
        # and deal_list_rows renders what DealSerializer would (a test compares them).
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset.values_list(*s.LIST_COLUMNS, named=True))
        return self.get_paginated_response(s.deal_list_rows(page, viewer=self.membership))

    #: Actions whose service re-reads (and locks) the deal through the actor's scope before
    #: anything else: the view's look-up only has to answer 404, so it reads the id alone.
    SERVICE_REREADS = frozenset(
        {
            "submit",
            "approve",
            "reject",
            "request_info",
            "mark_won",
            "mark_lost",
            "request_extension",
            "decide_extension",
        }
    )

    def scope_queryset(self, *, actor) -> QuerySet[Deal]:
        if self.action in self.SERVICE_REREADS:
            return selectors.deal_list(actor=actor).select_related(None).only("pk")
        queryset = self._visible(actor)
        if self.action == "retrieve":
            queryset = self._with_details(queryset)
        return queryset

    @staticmethod
    def _visible(actor) -> QuerySet[Deal]:
        return selectors.deal_list(actor=actor).select_related("lost_reason")

    @staticmethod
    def _detail_prefetches() -> list[Prefetch]:
        return [
            Prefetch("lines", DealLine.objects.select_related("product").order_by("id")),
            Prefetch(
                "further_partners", DealPartner.objects.select_related("partner").order_by("id")
            ),
            Prefetch(
                "transitions", DealTransition.objects.select_related("actor").order_by("at", "id")
            ),
        ]

    @classmethod
    def _with_details(cls, queryset: QuerySet[Deal]) -> QuerySet[Deal]:
        return queryset.prefetch_related(*cls._detail_prefetches())

    #: What each action parses (also what OPTIONS describes); the rest render deals.
    INPUT_SERIALIZERS = {
        "create": s.DealCreateSerializer,
        "partial_update": s.DealUpdateSerializer,
        "upsert": s.DealUpsertSerializer,
        "submit": s.SubmitSerializer,
        "approve": s.ApproveSerializer,
        "reject": s.RejectSerializer,
        "request_info": s.RequestInfoSerializer,
        "mark_won": s.MarkWonSerializer,
        "mark_lost": s.MarkLostSerializer,
        "request_extension": s.RequestExtensionSerializer,
        "decide_extension": s.DecideExtensionSerializer,
        "bulk_approve": s.BulkApproveSerializer,
    }

    def get_serializer_class(self):
        if self.action in self.INPUT_SERIALIZERS:
            return self.INPUT_SERIALIZERS[self.action]
        if self.action == "retrieve":
            return s.DealDetailSerializer
        return s.DealSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["viewer"] = self.membership
        return context

    def _detail(self, deal: Deal, *, status_code: int = status.HTTP_200_OK) -> Response:
        """The deal as it now stands, read back through the actor's scope."""
        queryset = self._visible(self.membership).filter(tenant_id=require_tenant().pk)
        fresh = self._with_details(queryset).filter(pk=deal.pk).first()
        body = s.DealDetailSerializer(fresh or deal, context=self.get_serializer_context()).data
        return Response(body, status=status_code)

    def _written(self, deal: Deal) -> Response:
        """The deal a transition service returns, as it now stands: the row it read through
        the actor's scope under a lock and then wrote, so only the related rows are read
        (as plain rows: deals.selectors.deal_detail_rows)."""
        context = {
            **self.get_serializer_context(),
            "detail_rows": selectors.deal_detail_rows(deal=deal),
        }
        return Response(s.DealDetailSerializer(deal, context=context).data)

    def _parse(self, request):
        serializer = self.INPUT_SERIALIZERS[self.action](data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer

    # -- create and edit

    def create(self, request, *args, **kwargs):
        serializer = self._parse(request)
        deal = sync.deal_register(
            actor=self.membership,
            data=DealInput(**serializer.to_service_changes()),
            submit=serializer.validated_data["submit"],
            direct=serializer.validated_data["direct"],
        )
        return self._detail(deal, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        deal = self.get_object()
        serializer = self._parse(request)
        deal = sync.deal_edit(
            actor=self.membership, deal=deal, changes=serializer.to_service_changes()
        )
        return self._detail(deal)

    @extend_schema(
        summary="Create or update a deal by its CRM id (idempotent upsert)",
        description=(
            "For CRM sync. The body is a deal, as for `POST /deals/` (without `external_id` "
            "and `direct`).\n\n"
            "- No deal of the program has this external id: a partner user's request "
            'registers one for their organization (a draft, or submitted with `"submit": '
            "true`); a vendor staff member's records a direct deal. Answers 201.\n"
            "- Your deal has it (for partner users: one of your organization's): it is "
            "updated, like `PATCH` with every field, when it is a draft, waits on a more-info "
            'answer or is approved; with `"submit": true` a draft or more-info deal is then '
            "submitted. Answers 200.\n"
            "- The same request again changes nothing and records nothing: it answers 200 "
            "with the deal as it stands. A request that would change a deal in another "
            "state (submitted, rejected, won, lost, expired) answers 400.\n"
            "- Another deal of the program has the id (another partner's, or a colleague's "
            "a rep cannot see): 400 on `external_id`."
        ),
        parameters=[_EXTERNAL_ID],
        request=s.DealUpsertSerializer,
        responses={
            200: s.DealDetailSerializer,
            201: s.DealDetailSerializer,
            **error_responses(400, 401, 403),
        },
    )
    @action(
        detail=False,
        methods=["put"],
        url_path="by-external-id/<str:external_id>",
        url_name="upsert",
        required_perms={"PUT": [("deals.register_deal", "deals.record_direct_deal")]},
    )
    def upsert(self, request, external_id: str, *args, **kwargs):
        serializer = self._parse(request)
        deal, created = sync.deal_upsert_by_external_id(
            actor=self.membership,
            external_id=external_id,
            data=DealInput(**serializer.to_service_changes()),
            submit=serializer.validated_data["submit"],
        )
        return self._detail(deal, status_code=201 if created else 200)

    # -- transitions

    @_transition_schema(
        "Submit a draft, or answer a more-info request",
        "Partner users. Runs conflict detection; a conflict-free submission within the "
        "program's auto-approval limit is approved at once (see `status` and `timeline`).",
        s.SubmitSerializer,
    )
    @action(detail=True, methods=["post"], required_perms={"POST": _REGISTER})
    def submit(self, request, *args, **kwargs):
        # deal_submit's first step reads the deal through the actor's scope under a lock (a
        # hidden deal is a 404 there), so the view does not read it first; a bad body still
        # answers 404 for a hidden deal, as everywhere.
        pk = parse_id(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field))
        if pk is None:
            raise NotFound()
        serializer = s.SubmitSerializer(data=request.data)
        if not serializer.is_valid():
            self.get_object()
            raise ValidationError(serializer.errors)
        deal = services.deal_submit(
            actor=self.membership,
            deal=Deal(pk=pk, tenant=require_tenant()),
            comment=serializer.validated_data.get("comment", ""),
        )
        return self._written(deal)

    @_transition_schema(
        "Approve a submission",
        "Reviewers. First approved registration wins: while a conflicting registration is "
        "approved, approval needs an `override_reason` (else 400 on that field).",
        s.ApproveSerializer,
    )
    @action(detail=True, methods=["post"], required_perms={"POST": _REVIEW})
    def approve(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        deal = services.deal_approve(
            actor=self.membership,
            deal=deal,
            comment=data.get("comment", ""),
            override_reason=data.get("override_reason", ""),
        )
        return self._detail(deal)

    @_transition_schema(
        "Reject a submission", "Reviewers. The reason is shown to the partner.", s.RejectSerializer
    )
    @action(detail=True, methods=["post"], required_perms={"POST": _REVIEW})
    def reject(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        deal = services.deal_reject(actor=self.membership, deal=deal, reason=data["reason"])
        return self._detail(deal)

    @_transition_schema(
        "Ask the partner for more information",
        "Reviewers. The partner answers by editing the deal and submitting it again.",
        s.RequestInfoSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="request-info",
        url_name="request-info",
        required_perms={"POST": _REVIEW},
    )
    def request_info(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        deal = services.deal_request_info(
            actor=self.membership, deal=deal, question=data["question"]
        )
        return self._detail(deal)

    @_transition_schema(
        "Mark an approved deal won",
        "The registering partner or a reviewer, with the final amount (in the deal's "
        "currency) and the close date (not in the future).",
        s.MarkWonSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="mark-won",
        url_name="mark-won",
        required_perms={"POST": _OWNER_OR_REVIEWER},
    )
    def mark_won(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        deal = services.deal_mark_won(
            actor=self.membership,
            deal=deal,
            final_amount=data["final_amount"],
            closed_on=data["closed_on"],
        )
        return self._detail(deal)

    @_transition_schema(
        "Mark an approved deal lost",
        "The registering partner or a reviewer, with one of the program's lost reasons.",
        s.MarkLostSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="mark-lost",
        url_name="mark-lost",
        required_perms={"POST": _OWNER_OR_REVIEWER},
    )
    def mark_lost(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        reason = LostReason.objects.filter(pk=data["reason"]).first()  # the service checks it
        deal = services.deal_mark_lost(
            actor=self.membership, deal=deal, reason=reason, comment=data.get("comment", "")
        )
        return self._detail(deal)

    @_transition_schema(
        "Ask once to extend an approved registration's protection",
        "Partner users. A channel manager approves or declines the request.",
        s.RequestExtensionSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="request-extension",
        url_name="request-extension",
        required_perms={"POST": _REGISTER},
    )
    def request_extension(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        deal = services.deal_request_extension(
            actor=self.membership, deal=deal, reason=data["reason"]
        )
        return self._detail(deal)

    @_transition_schema(
        "Approve or decline an extension request",
        "Reviewers. Approval extends the protection by the program's extension days.",
        s.DecideExtensionSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="decide-extension",
        url_name="decide-extension",
        required_perms={"POST": _REVIEW},
    )
    def decide_extension(self, request, *args, **kwargs):
        deal = self.get_object()
        data = self._parse(request).validated_data
        deal = services.deal_decide_extension(
            actor=self.membership,
            deal=deal,
            approve=data["approve"],
            comment=data.get("comment", ""),
        )
        return self._detail(deal)

    @extend_schema(
        summary="Approve the conflict-free submissions among some deals",
        description=(
            "Reviewers. Submitted deals without conflicts are approved; every other id "
            "(not visible, not submitted, with conflicts) is left alone and listed as skipped."
        ),
        request=s.BulkApproveSerializer,
        responses={200: s.BulkApproveResultSerializer, **error_responses(400, 401, 403)},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="bulk-approve",
        url_name="bulk-approve",
        required_perms={"POST": _REVIEW},
        pagination_class=None,
        filter_backends=[],
    )
    def bulk_approve(self, request, *args, **kwargs):
        ids = list(dict.fromkeys(self._parse(request).validated_data["ids"]))
        approved = services.deals_bulk_approve(actor=self.membership, deal_ids=ids)
        approved_ids = {deal.pk for deal in approved}
        body = {
            "approved": [pk for pk in ids if pk in approved_ids],
            "skipped": [pk for pk in ids if pk not in approved_ids],
        }
        return Response(s.BulkApproveResultSerializer(body).data)

    # -- conflicts and export

    @extend_schema(
        summary="The conflict candidates of a deal (reviewers only)",
        description=(
            "Both directions, best match first, with the match type and score: the open "
            "registrations and direct deals found when this deal was submitted "
            "(`candidates`), and the later submissions that found this deal (`found_by`). "
            "Partner users get 403."
        ),
        responses={200: s.DealConflictsSerializer, **error_responses(401, 403, 404)},
    )
    @action(
        detail=True,
        methods=["get"],
        required_perms={"GET": ["deals.view_dealconflict"]},
        pagination_class=None,
        filter_backends=[],
    )
    def conflicts(self, request, *args, **kwargs):
        deal = self.get_object()
        body = {
            "candidates": selectors.deal_conflicts(deal=deal),
            "found_by": selectors.deal_conflicted_by(deal=deal),
        }
        return Response(s.DealConflictsSerializer(body).data)

    @extend_schema(
        summary="Export the deals list as CSV",
        operation_id="deals_export_csv",
        description=(
            "The deals of the list, with the same filters and `ordering`, as a CSV file "
            "(UTF-8, one header row). Amounts are decimal text with their currency column."
        ),
        filters=True,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **error_responses(400, 401, 403),
        },
    )
    def export_csv(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset()).order_by(*self.ordering)
        tenant = require_tenant()
        response = StreamingHttpResponse(
            csv_export.deals_csv(queryset, viewer=self.membership, tenant=tenant),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{csv_export.export_filename(tenant)}"'
        )
        return response


deal_export_view = DealViewSet.as_view(
    {"get": "export_csv"},
    required_perms={"GET": [_READ_DEALS, "deals.export_deal"]},
    content_negotiation_class=csv_export.JSONErrorsNegotiation,
    pagination_class=None,
)
