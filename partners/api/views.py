"""API views of the partners app: thin. Parse with a serializer, call a selector or a
service, render. Scope, object lookup and role checks live in partners.api.base."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import utils as django_filters_utils
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from partners import metrics as metric_registry
from partners import notifications, selectors, services, tier_engine
from partners.api import filters
from partners.api import serializers as s
from partners.api import serializers_tiers as ser_tiers
from partners.api.authentication import MembershipTokenAuthentication
from partners.api.base import TenantAPIView, TenantViewSet
from partners.api.errors import error_responses
from partners.api.keyset import KeysetCursorPagination
from partners.api.throttling import TokenCreateRateThrottle
from partners.models import ApiToken, Invitation, Membership, Notification, Partner
from partners.permissions import membership_permissions

# ---------------------------------------------------------------- root


class ApiRootView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Where the schema and the docs are",
        responses=inline_serializer(
            "ApiRoot", fields={"schema": serializers.CharField(), "docs": serializers.CharField()}
        ),
        auth=[],
    )
    def get(self, request):
        return Response({"schema": "/api/schema/", "docs": "/api/docs/"})


# ---------------------------------------------------------------- tokens


class TokenCreateView(APIView):
    """Exchange a member's email and password for an API token of one tenant."""

    authentication_classes: list = []  # credentials are in the body; no session, no CSRF
    permission_classes = [AllowAny]
    throttle_classes = [TokenCreateRateThrottle]

    @extend_schema(
        summary="Create an API token",
        description=(
            "Wrong credentials, an unknown tenant and a tenant the person is not a member of "
            "all answer the same 400, so the answer does not tell which it was. The key is "
            "shown once."
        ),
        request=s.TokenCreateSerializer,
        responses={201: s.IssuedTokenSerializer, **error_responses(400, 429)},
        auth=[],
    )
    def post(self, request):
        serializer = s.TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            issued = services.api_token_create(
                request=request._request,
                email=data["email"],
                password=data["password"],
                tenant_slug=data["tenant"],
                name=data["name"],
            )
        except services.TokenRequestRefused:
            raise ValidationError(
                _("Unable to create a token with these credentials for this tenant.")
            ) from None
        body = s.IssuedTokenSerializer({"key": issued.key, "token": issued.token}).data
        return Response(body, status=status.HTTP_201_CREATED)


class TokenCurrentView(TenantAPIView):
    """The token this request is authenticated with (a session has none: 401)."""

    authentication_classes = [MembershipTokenAuthentication]

    @extend_schema(
        summary="Describe the token in use",
        responses={200: s.ApiTokenSerializer, **error_responses(401)},
    )
    def get(self, request):
        return Response(s.ApiTokenSerializer(request.auth).data)

    @extend_schema(
        summary="Revoke the token in use",
        description="Afterwards the key answers 401.",
        responses={204: None, **error_responses(401)},
    )
    def delete(self, request):
        services.api_token_revoke(actor=self.membership, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


_ALL_TOKENS = OpenApiParameter(
    "all",
    OpenApiTypes.BOOL,
    description=(
        "Every live token of the tenant instead of only your own (tenant admins: "
        "`partners.view_apitoken` to list, `partners.delete_apitoken` to revoke)."
    ),
)


@extend_schema_view(
    list=extend_schema(
        summary="List live API tokens",
        parameters=[_ALL_TOKENS],
        responses={200: s.ApiTokenSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    destroy=extend_schema(
        summary="Revoke an API token",
        parameters=[_ALL_TOKENS],
        responses={204: None, **error_responses(401, 403, 404)},
    ),
)
class TokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    model = ApiToken
    serializer_class = s.ApiTokenSerializer
    filter_backends: list = []

    def _all_members(self) -> bool:
        value = self.request.query_params.get("all", "")
        if value.lower() in {"", "0", "false"}:
            return False
        if value.lower() in {"1", "true"}:
            return True
        raise ValidationError({"all": [_("Use 1 or 0.")]})

    @property
    def required_perms(self):
        if self._all_members():
            return {"GET": ["partners.view_apitoken"], "DELETE": ["partners.delete_apitoken"]}
        return {}

    def scope_queryset(self, *, actor):
        return selectors.api_token_list(actor=actor, all_members=self._all_members())

    def perform_destroy(self, instance):
        services.api_token_revoke(actor=self.membership, token=instance)


# ---------------------------------------------------------------- me


class MeView(TenantAPIView):
    @extend_schema(
        summary="Who am I, in which tenant, with which role",
        description=(
            "The person, the tenant of this request, the membership acting in it and what its "
            "role may do, and the person's other tenants (to switch to them)."
        ),
        responses={200: s.MeSerializer, **error_responses(401)},
    )
    def get(self, request):
        membership = self.membership
        tenant = request._request.tenant
        others = selectors.memberships_for_user(user=request.user)
        body = {
            "user": request.user,
            "tenant": tenant,
            "membership": {
                "id": membership.pk,
                "role": membership.role,
                "partner": membership.partner,
            },
            "permissions": sorted(membership_permissions(membership)),
            "memberships": [
                {"tenant": m.tenant, "role": m.role, "is_current": m.tenant_id == tenant.pk}
                for m in others
            ],
        }
        return Response(s.MeSerializer(body).data)


# ---------------------------------------------------------------- memberships


@extend_schema_view(
    list=extend_schema(
        summary="List people of the tenant",
        description="Vendor staff see the tenant's people; partner admins their organization's.",
        responses={200: s.MembershipSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one membership",
        responses={200: s.MembershipSerializer, **error_responses(401, 403, 404)},
    ),
    partial_update=extend_schema(
        summary="Change a membership's role or deactivate it",
        request=s.MembershipUpdateSerializer,
        responses={200: s.MembershipSerializer, **error_responses(400, 401, 403, 404)},
    ),
)
class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Membership
    serializer_class = s.MembershipSerializer
    filterset_class = filters.MembershipFilter
    ordering = "pk"
    required_perms = {
        "GET": ["partners.view_membership"],
        # Staff need change_membership; partner admins manage their own organization's people
        # with invite_partner_user. membership_update decides which applies.
        "PATCH": [
            "partners.view_membership",
            ("partners.change_membership", "partners.invite_partner_user"),
        ],
    }

    def scope_queryset(self, *, actor):
        return selectors.membership_list(actor=actor)

    def partial_update(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = s.MembershipUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_update(
            actor=self.membership, membership=membership, **serializer.validated_data
        )
        return Response(s.MembershipSerializer(membership).data)


# ---------------------------------------------------------------- invitations


@extend_schema_view(
    list=extend_schema(
        summary="List invitations",
        responses={200: s.InvitationSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one invitation",
        responses={200: s.InvitationSerializer, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Invite someone",
        description=(
            "Emails an invitation link to the address. The link is only in the email: the "
            "response describes the invitation but never carries its secret."
        ),
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationSerializer, **error_responses(400, 401, 403)},
    ),
    revoke=extend_schema(
        summary="Revoke a pending invitation",
        request=None,
        responses={200: s.InvitationSerializer, **error_responses(400, 401, 403, 404)},
    ),
)
class InvitationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    model = Invitation
    serializer_class = s.InvitationSerializer
    filterset_class = filters.InvitationFilter
    required_perms = {
        "GET": ["partners.view_invitation"],
        "POST": ["partners.add_invitation"],
    }

    def scope_queryset(self, *, actor):
        return selectors.invitation_list(actor=actor)

    def create(self, request, *args, **kwargs):
        serializer = s.InvitationCreateSerializer(
            data=request.data, context={"actor": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        issued = services.invitation_create(actor=self.membership, **serializer.validated_data)
        return Response(
            s.InvitationSerializer(issued.invitation).data, status=status.HTTP_201_CREATED
        )

    @action(detail=True, methods=["post"], required_perms={"POST": ["partners.delete_invitation"]})
    def revoke(self, request, *args, **kwargs):
        invitation = self.get_object()
        invitation = services.invitation_revoke(actor=self.membership, invitation=invitation)
        return Response(s.InvitationSerializer(invitation).data)


# ---------------------------------------------------------------- partners

_READ_PARTNERS = ("partners.view_partner", "partners.access_partner_portal")
_PARTNER_ERRORS = error_responses(400, 401, 403, 404)
_ACTION_PERMISSIONS = (
    "Staff who manage the partner (`partners.change_partner`: tenant admins every partner, "
    "channel managers those assigned to them)."
)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


@extend_schema_view(
    list=extend_schema(
        summary="List partner organizations (the partner directory)",
        description=(
            "Staff with `partners.view_all_partners` see every partner of the tenant, channel "
            "managers those assigned to them, partner users only their own organization. "
            "Filters combine (AND); repeat `tier`, `partner_type`, `status` or `segment` for "
            "several values. Cursor-paginated (`page_size` up to 200) in the `ordering` given."
        ),
        responses={200: s.PartnerSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one partner organization",
        description="Profile, status and why, tier and assigned managers.",
        responses={200: s.PartnerSerializer, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Add a partner organization",
        description=(
            "`partners.add_partner` (tenant admins). `managers` are membership ids of "
            "channel managers or tenant admins. Name and domain are unique in the program."
        ),
        request=s.PartnerCreateSerializer,
        responses={201: s.PartnerSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a partner's profile",
        description=(
            "Staff who manage the partner change any profile field; the partner's own "
            "admins (`partners.change_partner_profile`) `legal_name`, `employee_count`, "
            "`countries` and `regions`. Any other field answers 400 naming it. Status, "
            "managers and tier have their own routes."
        ),
        request=s.PartnerUpdateSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    managers=extend_schema(
        summary="Set a partner's assigned managers",
        description=(
            "`partners.assign_partner_manager` (tenant admins). The managers sent replace the "
            "assigned ones; each gets the partner in their directory and queue."
        ),
        request=s.PartnerManagersSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    suspend=extend_schema(
        summary="Suspend a partner",
        description=(
            f"{_ACTION_PERMISSIONS} Its users can no longer register deals and are shown "
            "the reason."
        ),
        request=s.PartnerSuspendSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    reactivate=extend_schema(
        summary="Reactivate a suspended partner",
        description=_ACTION_PERMISSIONS,
        request=s.PartnerReactivateSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    set_status=extend_schema(
        summary="Move a partner to another status",
        description=(
            f"{_ACTION_PERMISSIONS} Along applicant → onboarding → active ⇄ suspended → "
            "offboarded (→ onboarding); suspending and offboarding need a reason."
        ),
        request=s.PartnerStatusUpdateSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    pin_tier=extend_schema(
        summary="Pin a partner's tier until a date",
        description=(
            "`partners.change_tier` (tenant admins). Puts the partner in `tier` (null: no "
            "tier) and the tier engine leaves it there until `until` (inclusive); the change "
            "is kept in the tier history with `reason`. A date in the past or a tier of "
            "another tenant answers 400."
        ),
        request=s.PartnerTierPinSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    unpin_tier=extend_schema(
        summary="Remove a partner's tier pin",
        description=(
            "`partners.change_tier` (tenant admins). The tier stays as it is until the next "
            "run of the tier engine evaluates the partner again. A partner whose tier is not "
            "pinned answers 400."
        ),
        request=s.PartnerTierUnpinSerializer,
        responses={200: s.PartnerSerializer, **_PARTNER_ERRORS},
    ),
    status_history=extend_schema(
        summary="A partner's status changes, newest first",
        description="`partners.view_partnerstatuschange` (tenant admins, channel managers).",
        responses={200: s.PartnerStatusChangeSerializer(many=True), **_PARTNER_ERRORS},
    ),
    tier_history=extend_schema(
        summary="A partner's tier changes, newest first",
        description=(
            "Each change with the metric values that decided it. Staff with "
            "`partners.view_tierchange`; partner users for their own organization."
        ),
        responses={200: ser_tiers.TierChangeSerializer(many=True), **_PARTNER_ERRORS},
    ),
    metrics=extend_schema(
        summary="A partner's metrics and progress toward the next tier",
        description=(
            "Every registered metric's current value (computed now, as the tier engine "
            "would), and each criterion of the next tier with the value and what is missing. "
            "Staff with `partners.view_tierchange`; partner users for their own organization."
        ),
        responses={200: s.PartnerMetricsSerializer, **_PARTNER_ERRORS},
    ),
    people=extend_schema(
        summary="A partner's people",
        description=(
            "The memberships of the partner organization. Staff with "
            "`partners.view_membership`; partner users for their own organization."
        ),
        responses={200: s.MembershipSerializer(many=True), **_PARTNER_ERRORS},
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Partner
    serializer_class = s.PartnerSerializer
    # Validated by the filter set, applied by selectors.partner_directory (see scope_queryset).
    filterset_class = filters.PartnerFilter
    pagination_class = KeysetCursorPagination
    required_perms = {
        # Staff read the directory with view_partner; a partner user reads their own.
        "GET": [_READ_PARTNERS],
        "POST": ["partners.add_partner"],
        # Staff change_partner (and the service checks they manage it); partner admins
        # change_partner_profile (and the service checks it is their own organization).
        "PATCH": [("partners.change_partner", "partners.change_partner_profile")],
    }
    #: The keys the nested lists are paged by (the directory's come from ``ordering``).
    NESTED_ORDERING = {
        "status_history": ("-at", "-id"),
        "tier_history": ("-at", "-id"),
        "people": ("id",),
    }
    _page_keys: tuple[str, ...] = ("name", "id")

    @property
    def ordering(self) -> tuple[str, ...]:  # read by the keyset pagination
        return self.NESTED_ORDERING.get(getattr(self, "action", None), self._page_keys)

    def scope_queryset(self, *, actor):
        if self.action != "list":
            return selectors.partner_list(actor=actor)
        directory = self._directory_filters(actor)
        annotations, self._page_keys = filters.partner_page_keys(directory.sort)
        return selectors.partner_directory(actor=actor, filters=directory).annotate(**annotations)

    def filter_queryset(self, queryset):
        return queryset  # the directory selector has applied the filters (scope_queryset)

    def _directory_filters(self, actor) -> selectors.PartnerFilters:
        params = filters.PartnerFilter(
            self.request.query_params, queryset=Partner.objects.none(), request=self.request
        )
        if not params.is_valid():
            raise django_filters_utils.translate_validation(params.errors)
        return params.partner_filters(actor=actor)

    @staticmethod
    def _render(partner: Partner) -> dict:
        return s.PartnerSerializer(partner).data

    def create(self, request, *args, **kwargs):
        serializer = s.PartnerCreateSerializer(
            data=request.data, context={"actor": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        partner = services.partner_create(actor=self.membership, **serializer.validated_data)
        return Response(self._render(partner), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_update(
            actor=self.membership, partner=partner, **serializer.validated_data
        )
        return Response(self._render(partner))

    @action(
        detail=True,
        methods=["post"],
        required_perms={"POST": ["partners.assign_partner_manager"]},
    )
    def managers(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerManagersSerializer(
            data=request.data, context={"actor": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        partner = services.partner_assign_managers(
            actor=self.membership, partner=partner, managers=serializer.validated_data["managers"]
        )
        return Response(self._render(partner))

    @action(detail=True, methods=["post"], required_perms={"POST": ["partners.change_partner"]})
    def suspend(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerSuspendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_suspend(
            actor=self.membership, partner=partner, reason=serializer.validated_data["reason"]
        )
        return Response(self._render(partner))

    @action(detail=True, methods=["post"], required_perms={"POST": ["partners.change_partner"]})
    def reactivate(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerReactivateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_reactivate(
            actor=self.membership, partner=partner, reason=serializer.validated_data["reason"]
        )
        return Response(self._render(partner))

    @action(
        detail=True,
        methods=["post"],
        url_path="status",
        required_perms={"POST": ["partners.change_partner"]},
    )
    def set_status(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerStatusUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_set_status(
            actor=self.membership, partner=partner, **serializer.validated_data
        )
        return Response(self._render(partner))

    @action(
        detail=True,
        methods=["post"],
        url_path="pin-tier",
        required_perms={"POST": [tier_engine.PIN_PERMISSION]},
    )
    def pin_tier(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerTierPinSerializer(
            data=request.data, context={"actor": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tier_engine.tier_pin(
            actor=self.membership, partner=partner, tier=data["tier"], until=data["until"],
            reason=data["reason"].strip(),
        )  # fmt: skip
        return Response(self._render(self.get_object()))

    @action(
        detail=True,
        methods=["post"],
        url_path="unpin-tier",
        required_perms={"POST": [tier_engine.PIN_PERMISSION]},
    )
    def unpin_tier(self, request, *args, **kwargs):
        partner = self.get_object()
        serializer = s.PartnerTierUnpinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = tier_engine.tier_unpin(
            actor=self.membership, partner=partner, reason=serializer.validated_data["reason"]
        )
        return Response(self._render(partner))

    def _nested_page(self, rows, serializer_class):
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @action(
        detail=True,
        methods=["get"],
        url_path="status-history",
        filter_backends=[],
        required_perms={"GET": ["partners.view_partnerstatuschange"]},
    )
    def status_history(self, request, *args, **kwargs):
        partner = self.get_object()
        return self._nested_page(
            selectors.partner_status_history(partner=partner), s.PartnerStatusChangeSerializer
        )

    @action(
        detail=True,
        methods=["get"],
        url_path="tier-history",
        filter_backends=[],
        required_perms={"GET": [("partners.view_tierchange", "partners.access_partner_portal")]},
    )
    def tier_history(self, request, *args, **kwargs):
        partner = self.get_object()
        return self._nested_page(
            selectors.tier_history(partner=partner), ser_tiers.TierChangeSerializer
        )

    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=None,
        required_perms={"GET": [("partners.view_tierchange", "partners.access_partner_portal")]},
    )
    def metrics(self, request, *args, **kwargs):
        partner = self.get_object()
        now = timezone.now()
        values, warnings = selectors.partner_metrics(partner=partner, now=now)
        progress = selectors.partner_tier_progress(partner=partner, now=now)
        body = {
            "partner": partner.pk,
            "evaluated_at": now,
            "metrics": [
                {
                    "key": metric.key,
                    "label": str(metric.label),
                    "unit": metric.unit,
                    "value": _decimal_text(values.get(metric.key)),
                }
                for metric in metric_registry.all_metrics()
            ],
            "warnings": warnings,
            "progress": {
                "tier": progress.tier,
                "next_tier": progress.next_tier,
                "criteria": [
                    {
                        "metric": c.metric,
                        "label": c.label,
                        "unit": c.unit,
                        "operator": c.operator,
                        "threshold": _decimal_text(c.threshold),
                        "value": _decimal_text(c.value),
                        "met": c.met,
                        "missing": _decimal_text(c.missing),
                    }
                    for c in progress.criteria
                ],
            },
        }
        return Response(s.PartnerMetricsSerializer(body).data)

    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        required_perms={"GET": [("partners.view_membership", "partners.access_partner_portal")]},
    )
    def people(self, request, *args, **kwargs):
        partner = self.get_object()
        rows = selectors.membership_list(actor=self.membership).filter(partner_id=partner.pk)
        return self._nested_page(rows, s.MembershipSerializer)


# ---------------------------------------------------------------- notifications


@extend_schema_view(
    list=extend_schema(
        summary="List your notifications",
        description="Your own in-app notifications, newest first. Nobody sees another's.",
        responses={200: s.NotificationSerializer(many=True), **error_responses(400, 401)},
    ),
    read=extend_schema(
        summary="Mark one of your notifications read",
        request=None,
        responses={200: s.NotificationSerializer, **error_responses(401, 404)},
    ),
    read_all=extend_schema(
        summary="Mark all your notifications read",
        request=None,
        responses={200: s.NotificationsMarkedSerializer, **error_responses(401)},
    ),
)
class NotificationViewSet(mixins.ListModelMixin, TenantViewSet):
    model = Notification
    serializer_class = s.NotificationSerializer
    filterset_class = filters.NotificationFilter
    # Every member has an inbox: no role permission, the scope is the member's own rows.
    required_perms: dict = {}

    def scope_queryset(self, *, actor):
        return notifications.notification_list(actor=actor)

    @action(detail=True, methods=["post"])
    def read(self, request, *args, **kwargs):
        notification = notifications.mark_read(
            actor=self.membership, notification=self.get_object()
        )
        return Response(s.NotificationSerializer(notification).data)

    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request, *args, **kwargs):
        marked = notifications.mark_all_read(actor=self.membership)
        return Response(s.NotificationsMarkedSerializer({"marked": marked}).data)
