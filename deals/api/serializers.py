"""Serializers of the deals API. Output serializers render rows for the member asking (the
``viewer`` in the context); input serializers only parse a request, and the view hands the
result to a service.

What a partner user never sees in a deal, whoever registered it: conflicts (``conflict_count``
is null), and any other partner organization's name. On a deal their organization is only a
further partner on, the registering partner, its people and the other further partners are
left out too (``partner`` and ``registered_by`` are null, actors on the timeline are null).
Amounts are strings (``"1250.00"``) with ``currency`` alongside; never floats.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from deals import selectors
from deals.models import (
    Deal,
    DealConflict,
    DealLine,
    DealStage,
    DealTransition,
    DealType,
    LostReason,
    PartnerRole,
    Product,
)
from deals.services import MAX_LINES, MAX_QUANTITY, FurtherPartnerInput, LineInput
from deals.sync import EXTERNAL_ID_MAX_LENGTH
from partners.models import Membership, Partner, User
from partners.money import MAX_AMOUNT

_MAX_ID = 2**63 - 1
_MONEY = {"max_digits": 16, "decimal_places": 2}


def _money_input(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        **_MONEY, min_value=0, max_value=MAX_AMOUNT, coerce_to_string=True, **kwargs
    )


def _id_input(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=_MAX_ID, **kwargs)


def _text(max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


# ---------------------------------------------------------------- references


class UserRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "full_name", "email"]
        read_only_fields = fields


class PartnerRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        allow_null=True,
        help_text=_("Null when a partner user looks at another organization."),
    )

    class Meta:
        model = Partner
        fields = ["id", "name"]
        read_only_fields = fields


class ProductRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name"]
        read_only_fields = fields


class LostReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = LostReason
        fields = ["id", "name"]
        read_only_fields = fields


# ---------------------------------------------------------------- products


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "category", "list_price", "currency", "active"]
        read_only_fields = fields


class ProductWriteSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    category = _text(100)
    list_price = _money_input()
    currency = serializers.CharField(
        min_length=3, max_length=3, help_text=_("ISO 4217 code, e.g. USD.")
    )
    active = serializers.BooleanField(required=False)


class ProductUpdateSerializer(ProductWriteSerializer):
    """Every field optional: only the fields sent change."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


# ---------------------------------------------------------------- deals: output


class DealLineSerializer(serializers.ModelSerializer):
    product = ProductRefSerializer(read_only=True)

    class Meta:
        model = DealLine
        fields = ["id", "product", "quantity", "unit_price", "amount"]
        read_only_fields = fields


class FurtherPartnerSerializer(serializers.Serializer):
    partner = PartnerRefSerializer(read_only=True)
    role = serializers.ChoiceField(choices=PartnerRole.choices, read_only=True)


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(
        read_only=True,
        allow_null=True,
        help_text=_("Null for the system, and for partner users on another's registration."),
    )

    class Meta:
        model = DealTransition
        fields = ["from_status", "to_status", "actor", "automatic", "comment", "at"]
        read_only_fields = fields


def _viewer(serializer: serializers.Serializer) -> Membership | None:
    return serializer.context.get("viewer")


def _sees_registrant(viewer: Membership | None, deal: Deal) -> bool:
    """Staff see everyone; a partner user sees the registrant of their organization's deals."""
    return viewer is None or not viewer.is_partner_member or deal.partner_id == viewer.partner_id


_DEAL_COLUMNS = {field.name for field in Deal._meta.concrete_fields if not field.is_relation}


@functools.cache
def _list_fields() -> dict[str, serializers.Field]:
    """DealSerializer's fields, built once: the list renders dates and amounts through them."""
    return dict(DealSerializer().fields)


class DealSerializer(serializers.ModelSerializer):
    """A deal in a list."""

    direct = serializers.BooleanField(
        source="is_direct", read_only=True, help_text=_("Recorded by vendor staff, no partner.")
    )
    partner = PartnerRefSerializer(
        read_only=True,
        allow_null=True,
        help_text=_("The registering partner; null for direct deals (and see above)."),
    )
    registered_by = UserRefSerializer(read_only=True, allow_null=True)
    lost_reason = LostReasonSerializer(read_only=True, allow_null=True)
    conflict_count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("Candidates found on submission; null for partner users."),
    )

    class Meta:
        model = Deal
        fields = [
            "id",
            "external_id",
            "status",
            "customer_name",
            "customer_domain",
            "country",
            "contact_name",
            "contact_email",
            "contact_phone",
            "currency",
            "total",
            "expected_close_date",
            "stage",
            "deal_type",
            "direct",
            "partner",
            "registered_by",
            "notes",
            "created_at",
            "updated_at",
            "submitted_at",
            "decided_at",
            "auto_approved",
            "protection_ends_at",
            "extension_status",
            "won_amount",
            "closed_on",
            "lost_reason",
            "conflict_count",
        ]
        read_only_fields = fields

    def to_representation(self, deal: Deal) -> dict:
        if type(self) is DealSerializer:
            data = self._list_representation(deal)
        elif type(self) is DealDetailSerializer:
            data = self._detail_representation(deal)
        else:
            data = super().to_representation(deal)
        viewer = _viewer(self)
        if viewer is not None and viewer.is_partner_member:
            data["conflict_count"] = None
            if not _sees_registrant(viewer, deal):
                data["partner"] = None
                data["registered_by"] = None
        return data

    def _list_representation(self, deal: Deal) -> dict:
        """What ``super().to_representation`` renders, built directly (a list renders many
        rows): the same keys in the same order and the same values (dates, times and amounts
        as the declared fields render them), without DRF's per-field attribute look-ups and
        nested serializers. The declared fields still describe the schema; a test compares
        both."""
        partner, user, reason = deal.partner, deal.registered_by, deal.lost_reason
        return _deal_dict(
            deal,
            _RowFormats(),
            partner=None if partner is None else (partner.id, partner.name),
            registered_by=None if user is None else (user.id, user.full_name, user.email),
            lost_reason=None if reason is None else (reason.id, reason.name),
        )

    def _detail_representation(self, deal: Deal) -> dict:
        """What ``super().to_representation`` renders for DealDetailSerializer: the list
        row, then the detail's own fields rendered by the fields of one serializer built once
        (building one per response, with its nested serializers, costs more than rendering)."""
        data = self._list_representation(deal)
        fields = _detail_fields()
        rows = self.context.get("detail_rows")
        related = {} if rows is None else _detail_related(rows)
        for name in _DETAIL_ONLY:
            field = fields[name]
            attribute = related[name] if name in related else field.get_attribute(deal)
            data[name] = None if attribute is None else field.to_representation(attribute)
        return data


#: The columns of a list row, read with ``values_list(*LIST_COLUMNS, named=True)``: the
#: deal's own and the names the row shows of its partner, registrant and lost reason (all
#: NOT NULL columns, so None means no such row).
LIST_COLUMNS = (
    *(name for name in DealSerializer.Meta.fields if name in _DEAL_COLUMNS),
    "partner_id",
    "partner__name",
    "registered_by_id",
    "registered_by__full_name",
    "registered_by__email",
    "lost_reason_id",
    "lost_reason__name",
)


def deal_list_rows(rows, *, viewer: Membership | None) -> list[dict]:
    """A page of the deal list from ``LIST_COLUMNS`` rows: what DealSerializer renders for
    each deal (no model instances are built for a list; a test compares both)."""
    formats = _RowFormats()
    partner_viewer = viewer is not None and viewer.is_partner_member
    rendered = []
    for row in rows:
        data = _deal_dict(
            row,
            formats,
            partner=None if row.partner__name is None else (row.partner_id, row.partner__name),
            registered_by=None
            if row.registered_by__email is None
            else (row.registered_by_id, row.registered_by__full_name, row.registered_by__email),
            lost_reason=None
            if row.lost_reason__name is None
            else (row.lost_reason_id, row.lost_reason__name),
        )
        if partner_viewer:
            data["conflict_count"] = None
            if row.partner_id != viewer.partner_id:  # _sees_registrant
                data["partner"] = None
                data["registered_by"] = None
        rendered.append(data)
    return rendered


class _RowFormats:
    """Dates, times and amounts as DealSerializer's declared fields render them, with the
    look-ups (settings, time zone) done once for many rows."""

    def __init__(self) -> None:
        self.fields = _list_fields()
        self.zone = timezone.get_current_timezone()
        self.iso = (api_settings.DATETIME_FORMAT or "").lower() == ISO_8601
        self.iso_date = (api_settings.DATE_FORMAT or "").lower() == ISO_8601
        self.plain_money = {
            name: field.decimal_places is not None
            and field.max_digits is not None
            and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
            and not field.localize
            and not field.normalize_output
            for name, field in self.fields.items()
            if isinstance(field, serializers.DecimalField)
        }

    def when(self, name: str, value):
        # DateTimeField.to_representation for an aware value and ISO 8601.
        if value is None:
            return None
        if value.tzinfo is None or not self.iso:
            return self.fields[name].to_representation(value)
        text = value.astimezone(self.zone).isoformat()
        if text[-6:] == "+00:00":
            return text[:-6] + "Z"
        return text

    def day(self, name: str, value):
        if value is None:
            return None
        if self.iso_date and type(value) is date:
            return value.isoformat()
        return self.fields[name].to_representation(value)

    def money(self, name: str, value):
        # DecimalField.to_representation quantizes to its places; a stored amount already
        # has them (numeric(16, 2)), and then renders as itself.
        if value is None:
            return None
        field = self.fields[name]
        if type(value) is Decimal and self.plain_money.get(name):
            _sign, digits, exponent = value.as_tuple()
            if exponent == -field.decimal_places and len(digits) <= field.max_digits:
                return f"{value:f}"
        return field.to_representation(value)


def _str_or_none(value):
    return None if value is None else str(value)


def _deal_dict(deal, formats: _RowFormats, *, partner, registered_by, lost_reason) -> dict:
    """The list rendering of a deal (a model instance or a ``LIST_COLUMNS`` row): the keys of
    ``DealSerializer.Meta.fields`` in order."""
    text, when, day, money = _str_or_none, formats.when, formats.day, formats.money
    return {
        "id": deal.id,
        "external_id": text(deal.external_id),
        "status": text(deal.status),
        "customer_name": text(deal.customer_name),
        "customer_domain": text(deal.customer_domain),
        "country": text(deal.country),
        "contact_name": text(deal.contact_name),
        "contact_email": text(deal.contact_email),
        "contact_phone": text(deal.contact_phone),
        "currency": text(deal.currency),
        "total": money("total", deal.total),
        "expected_close_date": day("expected_close_date", deal.expected_close_date),
        "stage": text(deal.stage),
        "deal_type": text(deal.deal_type),
        "direct": deal.partner_id is None,  # Deal.is_direct
        "partner": None if partner is None else {"id": partner[0], "name": str(partner[1])},
        "registered_by": None
        if registered_by is None
        else {
            "id": registered_by[0],
            "full_name": str(registered_by[1]),
            "email": str(registered_by[2]),
        },
        "notes": text(deal.notes),
        "created_at": when("created_at", deal.created_at),
        "updated_at": when("updated_at", deal.updated_at),
        "submitted_at": when("submitted_at", deal.submitted_at),
        "decided_at": when("decided_at", deal.decided_at),
        "auto_approved": None if deal.auto_approved is None else bool(deal.auto_approved),
        "protection_ends_at": when("protection_ends_at", deal.protection_ends_at),
        "extension_status": text(deal.extension_status),
        "won_amount": money("won_amount", deal.won_amount),
        "closed_on": day("closed_on", deal.closed_on),
        "lost_reason": None
        if lost_reason is None
        else {"id": lost_reason[0], "name": str(lost_reason[1])},
        "conflict_count": None if deal.conflict_count is None else int(deal.conflict_count),
    }


class DealDetailSerializer(DealSerializer):
    """One deal with its lines, further partners and timeline."""

    lines = DealLineSerializer(many=True, read_only=True, source="lines.all")
    further_partners = FurtherPartnerSerializer(
        many=True,
        read_only=True,
        source="further_partners.all",
        help_text=_(
            "Partner users see the organizations' ids and roles, never their names; on a "
            "deal they are only a further partner on, only their own entry."
        ),
    )
    timeline = TimelineEntrySerializer(many=True, read_only=True, source="transitions.all")

    class Meta(DealSerializer.Meta):
        fields = [
            *DealSerializer.Meta.fields,
            "extension_reason",
            "lines",
            "further_partners",
            "timeline",
        ]
        read_only_fields = fields

    def to_representation(self, deal: Deal) -> dict:
        data = super().to_representation(deal)
        viewer = _viewer(self)
        if viewer is None or not viewer.is_partner_member:
            return data
        further = []
        for entry in data["further_partners"]:
            own = entry["partner"]["id"] == viewer.partner_id
            if own:
                further.append(entry)
            elif _sees_registrant(viewer, deal):
                further.append({**entry, "partner": {**entry["partner"], "name": None}})
        data["further_partners"] = further
        # A reviewer's approval note is internal, as on the portal's deal page: an override
        # of the first-approved rule may name the rival registration.
        data["timeline"] = [
            {**entry, "comment": ""}
            if selectors.note_is_internal(
                from_status=entry["from_status"],
                to_status=entry["to_status"],
                automatic=entry["automatic"],
            )
            else entry
            for entry in data["timeline"]
        ]
        if not _sees_registrant(viewer, deal):
            data["timeline"] = [{**entry, "actor": None} for entry in data["timeline"]]
        return data


_DETAIL_ONLY = [
    name for name in DealDetailSerializer.Meta.fields if name not in DealSerializer.Meta.fields
]


def _detail_related(rows) -> dict[str, list]:
    """deals.selectors.DealDetailRows as the objects the detail's nested serializers read
    (the attributes of DealLine, DealPartner and DealTransition they render)."""
    return {
        "lines": [
            SimpleNamespace(
                id=line_id,
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
                product=SimpleNamespace(id=product_id, sku=sku, name=name),
            )
            for line_id, quantity, unit_price, amount, product_id, sku, name in rows.lines
        ],
        "further_partners": [
            SimpleNamespace(partner=SimpleNamespace(id=partner_id, name=name), role=role)
            for partner_id, name, role in rows.further_partners
        ],
        "timeline": [
            SimpleNamespace(
                from_status=from_status,
                to_status=to_status,
                actor=None
                if email is None
                else SimpleNamespace(id=actor_id, full_name=full_name, email=email),
                automatic=automatic,
                comment=comment,
                at=at,
            )
            for from_status, to_status, actor_id, full_name, email, automatic, comment, at in (
                rows.timeline
            )
        ],
    }


@functools.cache
def _detail_fields() -> dict[str, serializers.Field]:
    """DealDetailSerializer's fields, built once (they use no context)."""
    return dict(DealDetailSerializer().fields)


class ConflictCandidateSerializer(serializers.ModelSerializer):
    direct = serializers.BooleanField(source="is_direct", read_only=True)
    partner = PartnerRefSerializer(read_only=True, allow_null=True)
    registered_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "status",
            "customer_name",
            "customer_domain",
            "country",
            "currency",
            "total",
            "expected_close_date",
            "direct",
            "partner",
            "registered_by",
            "created_at",
            "submitted_at",
            "decided_at",
        ]
        read_only_fields = fields


class DealConflictSerializer(serializers.ModelSerializer):
    """A candidate found when the deal was submitted, with its score (staff only)."""

    candidate = ConflictCandidateSerializer(read_only=True)

    class Meta:
        model = DealConflict
        fields = ["id", "match_type", "score", "found_at", "candidate"]
        read_only_fields = fields


class DealConflictedBySerializer(serializers.ModelSerializer):
    """A later submission that found this deal as its candidate, with the score."""

    deal = ConflictCandidateSerializer(read_only=True)

    class Meta:
        model = DealConflict
        fields = ["id", "match_type", "score", "found_at", "deal"]
        read_only_fields = fields


class DealConflictsSerializer(serializers.Serializer):
    candidates = DealConflictSerializer(
        many=True,
        read_only=True,
        help_text=_("Open deals found when this deal was submitted, best match first."),
    )
    found_by = DealConflictedBySerializer(
        many=True,
        read_only=True,
        help_text=_("Later submissions that found this deal as their candidate."),
    )


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Ids of the deals approved.")
    )
    skipped = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=_(
            "Ids left alone: not visible, not submitted, or with conflicts to review one by one."
        ),
    )


# ---------------------------------------------------------------- deals: input


class LineInputSerializer(serializers.Serializer):
    product = _id_input(help_text=_("Id of an active product of the catalog."))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = _money_input(
        required=False,
        allow_null=True,
        help_text=_("Defaults to the product's list price (needed if priced in another currency)."),
    )


class FurtherPartnerInputSerializer(serializers.Serializer):
    partner = _id_input(help_text=_("Id of another partner organization of the program."))
    role = serializers.ChoiceField(choices=PartnerRole.choices)


class DealWriteSerializer(serializers.Serializer):
    """The fields of a deal (POST; PUT by external id)."""

    customer_name = serializers.CharField(max_length=200)
    customer_domain = _text(253, help_text=_("The customer's website, e.g. example.com."))
    country = serializers.CharField(
        min_length=2, max_length=2, help_text=_("ISO 3166 two-letter code.")
    )
    contact_name = _text(200)
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    contact_phone = _text(50)
    currency = serializers.CharField(
        min_length=3, max_length=3, help_text=_("One of the program's currencies.")
    )
    expected_close_date = serializers.DateField(help_text=_("Today or later."))
    stage = serializers.ChoiceField(choices=DealStage.choices, required=False)
    deal_type = serializers.ChoiceField(choices=DealType.choices, required=False)
    notes = _text(10_000)
    lines = LineInputSerializer(many=True, min_length=1, max_length=MAX_LINES)
    further_partners = FurtherPartnerInputSerializer(many=True, required=False, max_length=20)

    def to_service_changes(self) -> dict:
        """validated_data in the shape of deals.services.DealInput's fields."""
        changes = dict(self.validated_data)
        for name in ("submit", "direct"):
            changes.pop(name, None)
        if "lines" in changes:
            changes["lines"] = [
                LineInput(
                    product_id=line["product"],
                    quantity=line["quantity"],
                    unit_price=line.get("unit_price"),
                )
                for line in changes["lines"]
            ]
        if "further_partners" in changes:
            changes["further_partners"] = [
                FurtherPartnerInput(partner_id=row["partner"], role=row["role"])
                for row in changes["further_partners"]
            ]
        return changes


class DealCreateSerializer(DealWriteSerializer):
    external_id = _text(
        EXTERNAL_ID_MAX_LENGTH, help_text=_("The deal's id in your CRM; unique in the program.")
    )
    submit = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Partner users: submit for review at once instead of keeping a draft."),
    )
    direct = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "Vendor staff (deals.record_direct_deal): record a direct deal, with no partner. "
            "It is approved at once."
        ),
    )


class DealUpsertSerializer(DealWriteSerializer):
    submit = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Partner users: submit a draft (or a more-info answer) after saving it."),
    )


class DealUpdateSerializer(DealWriteSerializer):
    """PATCH: only the fields sent change; lines and further partners are replaced whole."""

    external_id = _text(EXTERNAL_ID_MAX_LENGTH)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return attrs


# ---------------------------------------------------------------- transitions


class SubmitSerializer(serializers.Serializer):
    comment = _text(2000, help_text=_("E.g. the answer to a more-info request."))


class ApproveSerializer(serializers.Serializer):
    comment = _text(2000)
    override_reason = _text(
        2000,
        help_text=_(
            "Required when a conflicting registration is already approved (first approved "
            "wins): why this one is approved anyway."
        ),
    )


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text=_("Shown to the partner."))


class RequestInfoSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=2000, help_text=_("Shown to the partner."))


class MarkWonSerializer(serializers.Serializer):
    final_amount = _money_input(help_text=_("In the deal's currency."))
    closed_on = serializers.DateField(help_text=_("Today or earlier."))


class MarkLostSerializer(serializers.Serializer):
    reason = _id_input(help_text=_("Id of one of the program's lost reasons."))
    comment = _text(2000)


class RequestExtensionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class DecideExtensionSerializer(serializers.Serializer):
    approve = serializers.BooleanField(help_text=_("true approves, false declines."))
    comment = _text(2000)


class BulkApproveSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=_id_input(), min_length=1, max_length=500, help_text=_("Deal ids (at most 500).")
    )
