"""Serializers of the partners API. Output serializers render rows; input serializers only
parse and validate a request, and the view hands the result to a service."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners import selectors
from partners.models import (
    STATUSES_NEEDING_REASON,
    ApiToken,
    Invitation,
    Membership,
    Notification,
    Partner,
    PartnerSegment,
    PartnerStatus,
    PartnerStatusChange,
    PartnerType,
    Tenant,
    User,
)
from partners.roles import Role
from partners.tiers import Operator, Tier

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


class TierSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "rank", "name"]
        read_only_fields = fields


class ManagerSerializer(serializers.ModelSerializer):
    """An assigned manager: the membership (its id is what assignments send) and the person."""

    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "role", "user"]
        read_only_fields = fields


class PartnerListSerializer(serializers.ListSerializer):
    """Renders a page of partners with their managers looked up once for the whole page."""

    def to_representation(self, data):
        partners = list(data.all() if hasattr(data, "all") else data)
        self.context["managers"] = selectors.partner_manager_memberships(
            partner_ids=[p.pk for p in partners]
        )
        return super().to_representation(partners)


class PartnerSerializer(serializers.ModelSerializer):
    """A partner organization: profile, status (and why), tier and assigned managers."""

    tier = TierSummarySerializer(read_only=True, allow_null=True)
    managers = serializers.SerializerMethodField()

    class Meta:
        model = Partner
        fields = [
            "id",
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
            "status",
            "status_reason",
            "status_changed_at",
            "activated_on",
            "tier",
            "tier_pinned_until",
            "managers",
            "created_at",
        ]
        read_only_fields = fields
        list_serializer_class = PartnerListSerializer

    @extend_schema_field(ManagerSerializer(many=True))
    def get_managers(self, partner: Partner):
        managers = self.context.get("managers")
        if managers is None or partner.pk not in managers:
            managers = selectors.partner_manager_memberships(partner_ids=[partner.pk])
        return ManagerSerializer(managers[partner.pk], many=True).data


#: Why a field a request may not send is refused, for the fields with a route of their own.
_ELSEWHERE = {
    "status": _("Change the status with POST /partners/{id}/status/ (or suspend/reactivate)."),
    "status_reason": _("Send the reason with the status change."),
    "managers": _("Assign managers with POST /partners/{id}/managers/."),
    "tier": _(
        "The tier follows the tier engine; tenant admins pin it with POST /partners/{id}/pin-tier/."
    ),
}


class StrictSerializer(serializers.Serializer):
    """A field the serializer does not declare is a 400 naming it, not silently ignored."""

    def to_internal_value(self, data):
        names = data.keys() if hasattr(data, "keys") else []
        unknown = {
            name: [_ELSEWHERE.get(name, _("This field cannot be set here."))]
            for name in sorted(set(names) - set(self.fields))
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class PartnerProfileSerializer(StrictSerializer):
    """The profile fields staff set (``services.STAFF_PROFILE_FIELDS``)."""

    name = serializers.CharField(max_length=200)
    legal_name = serializers.CharField(max_length=300, allow_blank=True, required=False)
    domain = serializers.CharField(max_length=253, help_text=_("Website domain, e.g. example.com."))
    partner_type = serializers.ChoiceField(choices=PartnerType.choices, required=False)
    segment = serializers.ChoiceField(
        choices=PartnerSegment.choices, allow_blank=True, required=False
    )
    employee_count = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, allow_null=True, required=False
    )
    countries = serializers.ListField(
        child=serializers.CharField(max_length=10),
        max_length=300,
        required=False,
        help_text=_("ISO 3166 two-letter codes."),
    )
    regions = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=100, required=False
    )
    competencies = serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=100,
        required=False,
        help_text=_("Names from GET /competencies/."),
    )
    lead_capacity = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)


class PartnerCreateSerializer(PartnerProfileSerializer):
    status = serializers.ChoiceField(choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE)
    status_reason = serializers.CharField(
        max_length=500,
        allow_blank=True,
        default="",
        help_text=_("Why, for a partner created suspended or offboarded."),
    )
    managers = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Membership.objects.none(),
        required=False,
        help_text=_("Membership ids of channel managers or tenant admins to assign."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.context.get("actor") is not None:
            self.fields["managers"].child_relation.queryset = selectors.manager_candidates()

    def validate(self, attrs):
        # As for a status change: the partner's users are shown why they cannot register.
        if attrs.get("status") in STATUSES_NEEDING_REASON and not attrs["status_reason"].strip():
            raise serializers.ValidationError(
                {"status_reason": [_("Say why; the partner's users will see it.")]}
            )
        return attrs


class PartnerUpdateSerializer(PartnerProfileSerializer):
    """A partial change. Staff who manage the partner send any profile field; the partner's
    own admins ``legal_name``, ``employee_count``, ``countries`` and ``regions``."""

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


class PartnerManagersSerializer(StrictSerializer):
    managers = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Membership.objects.none(),
        allow_empty=True,
        help_text=_(
            "Membership ids of active channel managers or tenant admins: exactly these will "
            "manage the partner (an empty list removes every manager)."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.context.get("actor") is not None:
            self.fields["managers"].child_relation.queryset = selectors.manager_candidates()
        self.fields["managers"].child_relation.error_messages["does_not_exist"] = _(
            "No active channel manager or tenant admin of this tenant has id {pk_value}."
        )


class PartnerStatusUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=PartnerStatus.choices)
    reason = serializers.CharField(
        max_length=2000,
        allow_blank=True,
        default="",
        help_text=_("Needed to suspend or offboard; the partner's users see it."),
    )


class PartnerSuspendSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=2000, allow_blank=True, help_text=_("Why; the partner's users see it.")
    )


class PartnerReactivateSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, allow_blank=True, default="")


class PartnerTierPinSerializer(StrictSerializer):
    tier = serializers.PrimaryKeyRelatedField(
        queryset=Tier.objects.none(),
        allow_null=True,
        help_text=_("Id of one of the tenant's tiers (GET /tiers/), or null for no tier."),
    )
    until = serializers.DateField(
        help_text=_("The last day of the pin (inclusive): today or later."),
    )
    reason = serializers.CharField(
        max_length=500,
        allow_blank=True,
        default="",
        help_text=_("Kept in the tier history (a default names who pinned and until when)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.context.get("actor") is not None:
            self.fields["tier"].queryset = selectors.tier_list()
        self.fields["tier"].error_messages["does_not_exist"] = _(
            "No tier of this tenant has id {pk_value}."
        )


class PartnerTierUnpinSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, allow_blank=True, default="")


class PartnerStatusChangeSerializer(serializers.ModelSerializer):
    changed_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = PartnerStatusChange
        fields = ["id", "from_status", "to_status", "at", "changed_by", "reason"]
        read_only_fields = fields


class MetricValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(help_text=_('"currency", "fraction" (0-1), or "" for a count.'))
    value = serializers.CharField(
        allow_null=True, help_text=_("A decimal number as a string; null: no value yet.")
    )


class CriterionProgressSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    operator = serializers.ChoiceField(choices=Operator.choices)
    threshold = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    met = serializers.BooleanField()
    missing = serializers.CharField(
        allow_null=True, help_text=_("How much is missing to meet it (null when met).")
    )


class TierProgressSerializer(serializers.Serializer):
    tier = TierSummarySerializer(allow_null=True)
    next_tier = TierSummarySerializer(allow_null=True)
    criteria = CriterionProgressSerializer(
        many=True, help_text=_("The next tier's criteria, each with the partner's value.")
    )


class PartnerMetricsSerializer(serializers.Serializer):
    partner = serializers.IntegerField()
    evaluated_at = serializers.DateTimeField()
    metrics = MetricValueSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    progress = TierProgressSerializer()


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
