"""Serializers of the partners API. Output serializers render rows; input serializers only
parse and validate a request, and the view hands the result to a service."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from partners import selectors
from partners.models import (
    ApiToken,
    Invitation,
    Membership,
    Notification,
    Partner,
    Tenant,
    User,
)
from partners.roles import Role

# ---------------------------------------------------------------- summaries


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]


class PartnerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name", "domain"]


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "default_currency", "time_zone"]


class TenantSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name"]


# ---------------------------------------------------------------- partners


class PartnerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name", "domain", "status", "created_at"]
        read_only_fields = fields


# ---------------------------------------------------------------- memberships


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)
    partner = PartnerSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "partner", "is_active", "created_at"]
        read_only_fields = fields


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Send role, is_active or both."))
        return attrs


# ---------------------------------------------------------------- invitations


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as others see it: never the token, its hash, or the accept link."""

    partner = PartnerSummarySerializer(read_only=True, allow_null=True)
    invited_by = UserSummarySerializer(read_only=True, allow_null=True)
    state = serializers.ChoiceField(
        choices=["pending", "accepted", "revoked", "expired"], read_only=True
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "partner",
            "state",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)
    partner = serializers.PrimaryKeyRelatedField(
        queryset=Partner.objects.none(),
        required=False,
        allow_null=True,
        help_text=_(
            "The partner organization, for partner roles. Partner admins always invite into "
            "their own organization."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = self.context.get("actor")
        if actor is not None:
            # Only partners the actor can see are valid choices; any other id is "not found".
            self.fields["partner"].queryset = selectors.partner_list(actor=actor)


# ---------------------------------------------------------------- API tokens


class TokenCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, write_only=True
    )
    tenant = serializers.SlugField(max_length=63, help_text=_("The tenant's slug."))
    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("A label to recognise the token by, e.g. the integration using it."),
    )


class TokenSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at"]
        read_only_fields = fields


class IssuedTokenSerializer(serializers.Serializer):
    key = serializers.CharField(
        read_only=True, help_text=_("The secret. Shown once; only its hash is stored.")
    )
    token = TokenSummarySerializer(read_only=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(source="membership.user", read_only=True)
    membership = serializers.IntegerField(source="membership_id", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "membership", "user"]
        read_only_fields = fields


# ---------------------------------------------------------------- me


class MeMembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices)
    partner = PartnerSummarySerializer(allow_null=True)


class TenantMembershipSerializer(serializers.Serializer):
    """One of the user's memberships, for switching tenants."""

    tenant = TenantSummarySerializer()
    role = serializers.ChoiceField(choices=Role.choices)
    is_current = serializers.BooleanField()


class MeSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    tenant = TenantSerializer()
    membership = MeMembershipSerializer()
    permissions = serializers.ListField(child=serializers.CharField())
    memberships = TenantMembershipSerializer(many=True)


# ---------------------------------------------------------------- notifications


class NotificationSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        help_text="Path of the object inside the tenant, e.g. `deals/12/` (open it under "
        "`/t/<tenant slug>/`); empty when there is nothing to open."
    )
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "is_read", "read_at", "created_at"]
        read_only_fields = fields

    def get_is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class NotificationsMarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread before.")
