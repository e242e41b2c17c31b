"""Serializers of the tier endpoints: tiers with their criteria and benefits, tier changes,
tier proposals, the engine's run, competencies and the metric registry."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners import metrics as metric_registry
from partners.api.serializers import (
    PartnerSummarySerializer,
    StrictSerializer,
    TierSummarySerializer,
    UserSummarySerializer,
)
from partners.models import Competency
from partners.tiers import Operator, Tier, TierChange, TierChangeKind, TierCriterion, TierProposal

_INT_MAX = 2**31 - 1

# ---------------------------------------------------------------- tiers


class TierCriterionSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()
    unit = serializers.SerializerMethodField()

    class Meta:
        model = TierCriterion
        fields = ["id", "metric", "label", "unit", "operator", "threshold"]
        read_only_fields = fields

    def get_label(self, criterion: TierCriterion) -> str:
        metric = metric_registry.get(criterion.metric)
        return str(metric.label) if metric else criterion.metric

    def get_unit(self, criterion: TierCriterion) -> str:
        metric = metric_registry.get(criterion.metric)
        return metric.unit if metric else ""


class TierSerializer(serializers.ModelSerializer):
    """A tier: its rank (higher is better), entry criteria (all must hold) and benefits
    (empty: the program's own rule applies)."""

    criteria = TierCriterionSerializer(many=True, read_only=True)

    class Meta:
        model = Tier
        fields = [
            "id",
            "rank",
            "name",
            "description",
            "criteria",
            "deal_protection_days",
            "auto_approve_max_total",
            "commission_multiplier",
            "mdf_allowance",
            "lead_routing_priority",
        ]
        read_only_fields = fields


class CriterionWriteSerializer(serializers.Serializer):
    metric = serializers.CharField(
        max_length=100, help_text=_("A metric key from GET /tiers/metrics/.")
    )
    operator = serializers.ChoiceField(choices=Operator.choices, default=Operator.GTE)
    threshold = serializers.DecimalField(max_digits=20, decimal_places=4)


class TierWriteSerializer(StrictSerializer):
    rank = serializers.IntegerField(
        min_value=0, max_value=_INT_MAX, help_text=_("Higher ranks are better tiers; unique.")
    )
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, max_length=5000, required=False)
    criteria = CriterionWriteSerializer(
        many=True,
        required=False,
        max_length=50,
        help_text=_(
            "Entry criteria, all of which must hold; none makes an entry tier. On a change, "
            "the list sent replaces the stored one."
        ),
    )
    deal_protection_days = serializers.IntegerField(
        min_value=1, max_value=_INT_MAX, allow_null=True, required=False
    )
    auto_approve_max_total = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, allow_null=True, required=False
    )
    commission_multiplier = serializers.DecimalField(
        max_digits=5, decimal_places=3, min_value=0, required=False
    )
    mdf_allowance = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, allow_null=True, required=False
    )
    lead_routing_priority = serializers.IntegerField(
        min_value=-_INT_MAX, max_value=_INT_MAX, required=False
    )

    def validate_criteria(self, rows):
        # A partial change does not make a criterion's own fields optional.
        for number, row in enumerate(rows, start=1):
            missing = sorted({"metric", "threshold"} - set(row))
            if missing:
                raise serializers.ValidationError(
                    _("Criterion %(number)d needs %(fields)s.")
                    % {"number": number, "fields": " and ".join(missing)}
                )
        return rows

    def validate(self, attrs):
        if self.partial and not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(help_text=_('"currency", "fraction" (0-1), or "" for a count.'))


# ---------------------------------------------------------------- history and proposals


class _MetricValuesMixin(serializers.Serializer):
    """``metrics`` holds ``{"values": {key: "decimal" | null}, "warnings": [...]}``."""

    metrics = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(child=serializers.CharField(allow_null=True)))
    def get_metrics(self, row) -> dict:
        return dict((row.metrics or {}).get("values") or {})

    def get_warnings(self, row) -> list[str]:
        return list((row.metrics or {}).get("warnings") or [])


class TierChangeSerializer(_MetricValuesMixin, serializers.ModelSerializer):
    partner = PartnerSummarySerializer(read_only=True)
    from_tier = TierSummarySerializer(read_only=True, allow_null=True)
    to_tier = TierSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = TierChange
        fields = [
            "id",
            "partner",
            "from_tier",
            "to_tier",
            "kind",
            "at",
            "reason",
            "metrics",
            "warnings",
        ]
        read_only_fields = fields


class TierProposalSerializer(_MetricValuesMixin, serializers.ModelSerializer):
    partner = PartnerSummarySerializer(read_only=True)
    from_tier = TierSummarySerializer(read_only=True, allow_null=True)
    to_tier = TierSummarySerializer(read_only=True, allow_null=True)
    decided_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = TierProposal
        fields = [
            "id",
            "partner",
            "from_tier",
            "to_tier",
            "kind",
            "reason",
            "metrics",
            "warnings",
            "created_at",
            "status",
            "decided_by",
            "decided_at",
            "note",
        ]
        read_only_fields = fields


class TierProposalDecisionSerializer(StrictSerializer):
    note = serializers.CharField(
        max_length=2000,
        allow_blank=True,
        default="",
        help_text=_("Why (needed to reject); shown in the tier history."),
    )


# ---------------------------------------------------------------- the engine


class TierEvaluateSerializer(StrictSerializer):
    dry_run = serializers.BooleanField(
        default=True, help_text=_("true (the default): only say what would change.")
    )


class EvaluatedPartnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class EvaluatedChangeSerializer(serializers.Serializer):
    """One change the engine made, proposed for approval, or (dry run) would make."""

    partner = EvaluatedPartnerSerializer()
    from_tier = TierSummarySerializer(allow_null=True)
    to_tier = TierSummarySerializer(allow_null=True)
    kind = serializers.ChoiceField(choices=TierChangeKind.choices)
    reason = serializers.CharField()
    metrics = serializers.DictField(child=serializers.CharField(allow_null=True))
    warnings = serializers.ListField(child=serializers.CharField())
    change = serializers.IntegerField(
        allow_null=True, help_text=_("The tier change written (null in a dry run).")
    )
    proposal = serializers.IntegerField(
        allow_null=True, help_text=_("The proposal waiting for approval, when changes need it.")
    )


class TierEvaluationSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    changes_need_approval = serializers.BooleanField()
    changes = EvaluatedChangeSerializer(many=True)


# ---------------------------------------------------------------- competencies


class CompetencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Competency
        fields = ["id", "name", "description"]
        read_only_fields = fields
