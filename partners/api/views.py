"""API views of the partners app: thin. Parse with a serializer, call a selector or a
service, render. Scope, object lookup and role checks live in partners.api.base."""

from __future__ import annotations

from django.utils.translation import gettext as _
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

from partners import notifications, selectors, services
from partners.api import filters
from partners.api import serializers as s
from partners.api.authentication import MembershipTokenAuthentication
from partners.api.base import TenantAPIView, TenantViewSet
from partners.api.errors import error_responses
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


@extend_schema_view(
    list=extend_schema(
        summary="List partner organizations",
        description="Vendor staff see every partner; partner users only their own.",
        responses={200: s.PartnerSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one partner organization",
        responses={200: s.PartnerSerializer, **error_responses(401, 403, 404)},
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Partner
    serializer_class = s.PartnerSerializer
    filterset_class = filters.PartnerFilter
    ordering = "pk"
    # Staff read the directory with view_partner; a partner user reads their own organization.
    required_perms = {"GET": [("partners.view_partner", "partners.access_partner_portal")]}

    def scope_queryset(self, *, actor):
        return selectors.partner_list(actor=actor)


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
