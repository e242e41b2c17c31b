"""API of leads and their routing: thin. Parse with a serializer, call deals.leads or
deals.selectors_leads, render. Scope, object lookup and role checks live in partners.api.base.

- ``/api/v1/leads/``: vendor staff with ``deals.manage_lead`` list, create (routed at once) and
  read leads with their offers and routing reasons; ``POST /leads/import/`` imports a CSV file
  (all rows or none; ``dry_run`` checks it only); ``POST /leads/{id}/reroute/`` offers a lead to
  the next best partner.
- ``/api/v1/lead-offers/``: partner users with ``deals.respond_lead`` list the offers made to
  their organization and accept or decline them. The routing reason and score stay with the
  vendor; the contact's details are shown once the offer is accepted.

Another tenant's lead, or an offer made to another partner, is a 404; a role without the
permission a 403; bad input a 400 with the field and nothing written.
"""

from __future__ import annotations

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from deals import leads, selectors_leads
from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus
from partners.api.base import TenantViewSet
from partners.api.errors import error_responses
from partners.models import Partner, User

_MANAGE = [leads.MANAGE]
_RESPOND = [leads.RESPOND]


# ---------------------------------------------------------------- serializers


class _UserRef(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "full_name", "email"]
        read_only_fields = fields


class _PartnerRef(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name"]
        read_only_fields = fields


class LeadOfferStaffSerializer(serializers.ModelSerializer):
    """An offer as the vendor sees it: the partner, the answer, and why it was chosen."""

    partner = _PartnerRef(read_only=True)
    responded_by = _UserRef(read_only=True, allow_null=True)
    reason = serializers.JSONField(
        read_only=True,
        help_text=_(
            "Every routing factor: country/region match, competency, win_rate (with won and "
            "lost), open_leads and capacity, tier, the weights, the score, how many candidates "
            "there were and what triggered the offer."
        ),
    )

    class Meta:
        model = LeadOffer
        fields = [
            "id", "partner", "status", "score", "reason", "offered_at", "expires_at",
            "responded_at", "responded_by", "decline_reason",
        ]  # fmt: skip
        read_only_fields = fields


class LeadSerializer(serializers.ModelSerializer):
    created_by = _UserRef(read_only=True, allow_null=True)
    current_offer = serializers.SerializerMethodField(
        help_text=_("The pending or accepted offer, if any.")
    )
    deal_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("The registration an accepted lead became.")
    )

    class Meta:
        model = Lead
        fields = [
            "id", "company_name", "company_domain", "country", "region", "competency",
            "contact_name", "contact_email", "contact_phone", "estimated_value", "currency",
            "notes", "status", "created_at", "created_by", "current_offer", "deal_id",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(LeadOfferStaffSerializer(allow_null=True))
    def get_current_offer(self, lead: Lead) -> dict | None:
        offers = getattr(lead, "current_offers", None)
        if offers is None:
            offers = list(
                LeadOffer.objects.filter(
                    lead=lead, status__in=selectors_leads.CURRENT_OFFER_STATUSES
                ).select_related("partner", "responded_by")
            )
        return LeadOfferStaffSerializer(offers[0]).data if offers else None


class LeadDetailSerializer(LeadSerializer):
    offers = serializers.SerializerMethodField(help_text=_("Every offer, the first one first."))
    routing_gaps = serializers.SerializerMethodField(
        help_text=_(
            "For an unrouted lead: how many active partners pass each routing filter in turn "
            "(serving_geography, with_competency, not_offered_before, with_capacity)."
        )
    )

    class Meta(LeadSerializer.Meta):
        fields = [*LeadSerializer.Meta.fields, "offers", "routing_gaps"]
        read_only_fields = fields

    @extend_schema_field(LeadOfferStaffSerializer(many=True))
    def get_offers(self, lead: Lead) -> list[dict]:
        history = selectors_leads.lead_offer_history(lead=lead)
        return LeadOfferStaffSerializer(history, many=True).data

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField(), allow_null=True))
    def get_routing_gaps(self, lead: Lead) -> dict | None:
        return selectors_leads.lead_routing_gaps(lead=lead)


class LeadCreateSerializer(serializers.Serializer):
    company_name = serializers.CharField(max_length=200)
    company_domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    country = serializers.CharField(help_text=_("Two-letter ISO 3166 code, e.g. DE."))
    region = serializers.CharField(max_length=50, required=False, allow_blank=True)
    competency = serializers.CharField(max_length=100, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    estimated_value = serializers.DecimalField(
        max_digits=20, decimal_places=None, required=False, allow_null=True,
        coerce_to_string=True, help_text=_('A string such as "25000.00".'),
    )  # fmt: skip
    currency = serializers.CharField(
        required=False, allow_blank=True,
        help_text=_("One of the program's currencies; omitted means the default."),
    )  # fmt: skip
    notes = serializers.CharField(
        max_length=leads.MAX_NOTES, required=False, allow_blank=True, trim_whitespace=False
    )

    def to_input(self) -> leads.LeadInput:
        return leads.LeadInput(**self.validated_data)


class LeadImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("The CSV file (UTF-8, comma-separated, header row)."))
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text=_("Check every row and write nothing.")
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row of the file; the header is row 1."))
    column = serializers.CharField()
    message = serializers.CharField()


class ImportPreviewSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    rows = serializers.IntegerField()
    file_errors = serializers.ListField(child=serializers.CharField())
    errors = ImportErrorSerializer(many=True)


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class OfferedLeadSerializer(serializers.ModelSerializer):
    """The lead as the partner it is offered to sees it: contact details once accepted."""

    class Meta:
        model = Lead
        fields = [
            "id", "company_name", "company_domain", "country", "region", "competency",
            "estimated_value", "currency", "notes", "contact_name", "contact_email",
            "contact_phone",
        ]  # fmt: skip
        read_only_fields = fields


class LeadOfferSerializer(serializers.ModelSerializer):
    """An offer as the partner sees it. ``status`` is ``expired`` once the time to answer has
    passed, even before the expiry job has moved the lead on."""

    lead = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    deal_id = serializers.SerializerMethodField(
        help_text=_("The approved registration an accepted lead became.")
    )

    class Meta:
        model = LeadOffer
        fields = [
            "id", "status", "lead", "offered_at", "expires_at", "responded_at",
            "decline_reason", "deal_id",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=OfferStatus.choices))
    def get_status(self, offer: LeadOffer) -> str:
        if offer.status == OfferStatus.PENDING and offer.expires_at <= timezone.now():
            return OfferStatus.EXPIRED
        return offer.status

    @extend_schema_field(OfferedLeadSerializer)
    def get_lead(self, offer: LeadOffer) -> dict:
        data = OfferedLeadSerializer(offer.lead).data
        if offer.status != OfferStatus.ACCEPTED:
            for key in ("contact_name", "contact_email", "contact_phone"):
                data[key] = None
        return data

    def get_deal_id(self, offer: LeadOffer) -> int | None:
        return offer.lead.deal_id if offer.status == OfferStatus.ACCEPTED else None


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=leads.MAX_DECLINE_REASON)


# ---------------------------------------------------------------- filters


class LeadFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=LeadStatus.choices)
    country = django_filters.CharFilter(method="filter_country", max_length=2)

    class Meta:
        model = Lead
        fields = ["status", "country"]

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.upper())


class LeadOfferFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OfferStatus.choices)

    class Meta:
        model = LeadOffer
        fields = ["status"]


# ---------------------------------------------------------------- parsing a CSV body


class CSVParser(parsers.BaseParser):
    """``Content-Type: text/csv``: the body is the file."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"csv": stream.read(leads.MAX_IMPORT_BYTES + 1) if stream else b""}


def _truthy(value) -> bool:
    text = str(value).strip().lower()
    if text in {"", "0", "false"}:
        return False
    if text in {"1", "true"}:
        return True
    raise ValidationError({"dry_run": [_("Use true or false.")]})


# ---------------------------------------------------------------- leads


@extend_schema_view(
    list=extend_schema(
        summary="List leads",
        description="Vendor staff with `deals.manage_lead`; each lead with its current offer.",
        responses={200: LeadSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one lead with its offers and routing reasons",
        responses={200: LeadDetailSerializer, **error_responses(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Create a lead",
        description=(
            "The lead is routed at once: offered to the best partner (see the offer's `reason`), "
            "or `unrouted` when no partner can take it."
        ),
        request=LeadCreateSerializer,
        responses={201: LeadDetailSerializer, **error_responses(400, 401, 403)},
    ),
)
class LeadViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    model = Lead
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    required_perms = {"GET": _MANAGE, "POST": _MANAGE}

    def scope_queryset(self, *, actor):
        return selectors_leads.lead_list(actor=actor)

    def get_serializer_class(self):
        return LeadDetailSerializer if self.action == "retrieve" else LeadSerializer

    def create(self, request, *args, **kwargs):
        serializer = LeadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = leads.lead_create(actor=self.membership, data=serializer.to_input())
        return Response(LeadDetailSerializer(lead).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Import leads from a CSV file",
        description=(
            "Send the file as multipart (`file`, optional `dry_run`) or as the body with "
            "`Content-Type: text/csv` (`?dry_run=true` to check only). Columns: "
            f"{', '.join(leads.IMPORT_COLUMNS)} (header row required; company_name and "
            f"country required). At most {leads.MAX_IMPORT_ROWS} rows. All rows or none: "
            "any bad row answers 400 with every row's errors under `rows` (or the file's under "
            "`file`) and nothing is written. The leads are routed right after the import."
        ),
        request={
            "multipart/form-data": LeadImportSerializer,
            "text/csv": OpenApiTypes.BINARY,
        },
        responses={
            201: ImportResultSerializer,
            200: ImportPreviewSerializer,
            **error_responses(400, 401, 403),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[parsers.MultiPartParser, CSVParser],
    )
    def import_csv(self, request, *args, **kwargs):
        if "csv" in request.data:
            content = request.data["csv"]
            dry_run = _truthy(request.query_params.get("dry_run", ""))
        else:
            serializer = LeadImportSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            content = serializer.validated_data["file"].read(leads.MAX_IMPORT_BYTES + 1)
            dry_run = serializer.validated_data["dry_run"] or _truthy(
                request.query_params.get("dry_run", "")
            )
        if dry_run:
            parsed = leads.lead_import_preview(actor=self.membership, content=content)
            body = {
                "valid": parsed.valid,
                "rows": len(parsed.rows),
                "file_errors": parsed.file_errors,
                "errors": [
                    {"row": row.number, "column": column, "message": message}
                    for row in parsed.error_rows
                    for column, messages in row.errors.items()
                    for message in messages
                ],
            }
            return Response(ImportPreviewSerializer(body).data)
        created = leads.lead_import_csv(actor=self.membership, content=content)
        body = {"created": len(created), "ids": [lead.pk for lead in created]}
        return Response(ImportResultSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Route a lead again",
        description=(
            "A pending offer is withdrawn (that partner is not asked again) and the next best "
            "partner gets the lead; an unrouted lead gets another try. Accepted leads cannot "
            "be routed again (400)."
        ),
        request=None,
        responses={200: LeadDetailSerializer, **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def reroute(self, request, *args, **kwargs):
        lead = self.get_object()
        leads.lead_route(actor=self.membership, lead=lead)
        lead = self.get_queryset().get(pk=lead.pk)
        return Response(LeadDetailSerializer(lead).data)


# ---------------------------------------------------------------- offers (partner users)


@extend_schema_view(
    list=extend_schema(
        summary="List the leads offered to your organization",
        description="Partner users with `deals.respond_lead`: pending and past offers.",
        responses={200: LeadOfferSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="Get one offer",
        responses={200: LeadOfferSerializer, **error_responses(401, 403, 404)},
    ),
)
class LeadOfferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = LeadOffer
    serializer_class = LeadOfferSerializer
    filterset_class = LeadOfferFilter
    required_perms = {"GET": _RESPOND, "POST": _RESPOND}

    def scope_queryset(self, *, actor):
        return selectors_leads.offer_list(actor=actor)

    @extend_schema(
        summary="Accept an offered lead",
        description=(
            "The lead becomes an approved, protected registration of your organization "
            "(`deal_id`). Refused (400) once the offer is answered or its time has passed."
        ),
        request=None,
        responses={200: LeadOfferSerializer, **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        offer = leads.lead_accept(actor=self.membership, offer=self.get_object())
        return Response(LeadOfferSerializer(self.get_queryset().get(pk=offer.pk)).data)

    @extend_schema(
        summary="Decline an offered lead",
        description="Say why; the lead goes to the next best partner.",
        request=DeclineSerializer,
        responses={200: LeadOfferSerializer, **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, *args, **kwargs):
        offer = self.get_object()
        serializer = DeclineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = leads.lead_decline(
            actor=self.membership, offer=offer, reason=serializer.validated_data["reason"]
        )
        return Response(LeadOfferSerializer(self.get_queryset().get(pk=offer.pk)).data)
