"""django-filter filter sets of the partners API. An invalid value answers 400 with the field."""

from __future__ import annotations

from datetime import date

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import BigIntegerField, DateField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError as DRFValidationError

from partners import selectors
from partners.models import (
    Invitation,
    Membership,
    Notification,
    Partner,
    PartnerSegment,
    PartnerStatus,
    PartnerType,
)
from partners.roles import Role
from partners.tiers import TierChange, TierChangeKind

_MAX_ID = 2**63 - 1


class _StrictBooleanField(forms.NullBooleanField):
    """true/false/1/0; anything else is a 400, not silently "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise ValidationError(_("Use true or false."), code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = _StrictBooleanField


def _visible_partners(request):
    membership = getattr(request, "membership", None) if request is not None else None
    if membership is None:
        return Partner.objects.none()
    return selectors.partner_list(actor=membership)


class MembershipFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = StrictBooleanFilter()
    partner = django_filters.ModelChoiceFilter(
        queryset=_visible_partners, help_text=_("Id of a partner organization.")
    )

    class Meta:
        model = Membership
        fields = ["role", "is_active", "partner"]


class InvitationFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    state = django_filters.ChoiceFilter(
        choices=[(s, s) for s in ("pending", "accepted", "revoked", "expired")],
        method="filter_state",
    )

    class Meta:
        model = Invitation
        fields = ["role", "state"]

    def filter_state(self, queryset, name, value):
        now = timezone.now()
        if value == "accepted":
            return queryset.filter(accepted_at__isnull=False)
        open_ = queryset.filter(accepted_at__isnull=True)
        if value == "revoked":
            return open_.filter(revoked_at__isnull=False)
        if value == "expired":
            return open_.filter(revoked_at__isnull=True, expires_at__lte=now)
        return open_.filter(Q(revoked_at__isnull=True) & Q(expires_at__gt=now))


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A row id: a positive whole number that fits a bigint, else 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", _MAX_ID)
        super().__init__(*args, **kwargs)


class _TierIdListField(forms.Field):
    """Repeated ``?tier=`` values: tier ids, 0 meaning "no tier"."""

    widget = forms.SelectMultiple

    def to_python(self, value):
        values = value if isinstance(value, list | tuple) else [value] if value else []
        ids = []
        for item in values:
            text = str(item).strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 19) or int(text) > _MAX_ID:
                raise ValidationError(_("Use tier ids, or 0 for no tier."), code="invalid")
            ids.append(int(text))
        return ids


@extend_schema_field({"type": "array", "items": {"type": "integer", "minimum": 0}})
class TierIdListFilter(django_filters.Filter):
    field_class = _TierIdListField


def _partner_orderings() -> list[tuple[str, str]]:
    return [(key, key) for sort in selectors.PARTNER_SORTS for key in (sort, f"-{sort}")]


# Sort keys that may be NULL, and what stands in for NULL so that such partners come last in
# either direction, as the directory selector sorts them (NULLS LAST): type, asc, desc.
_NULL_STAND_INS = {
    "activated_on": (DateField, date.max, date.min),
    "tier__rank": (BigIntegerField, 2**62, -1),
}


def partner_page_keys(sort: str) -> tuple[dict[str, Coalesce], tuple[str, ...]]:
    """The annotations and the keys the partner list is paged by for ``sort`` (a key of
    ``selectors.PARTNER_SORTS``, with "-" for descending): the selector's sort, NULLs last,
    ending in the id so that the keys are unique (see partners.api.keyset)."""
    descending = sort.startswith("-")
    fields = selectors.PARTNER_SORTS.get(sort.lstrip("-"), selectors.PARTNER_SORTS["name"])
    annotations: dict[str, Coalesce] = {}
    keys: list[str] = []
    for index, field_name in enumerate(dict.fromkeys((*fields, "id"))):
        key = field_name
        if field_name in _NULL_STAND_INS:
            output, ascending_stand_in, descending_stand_in = _NULL_STAND_INS[field_name]
            stand_in = descending_stand_in if descending else ascending_stand_in
            key = f"sort_key_{index}"
            annotations[key] = Coalesce(
                F(field_name), Value(stand_in, output_field=output()), output_field=output()
            )
        keys.append(f"-{key}" if descending else key)
    return annotations, tuple(keys)


class PartnerFilter(django_filters.FilterSet):
    """The partner directory's parameters. They are validated here (a bad value is a 400
    naming it) and applied by ``selectors.partner_directory``, the one implementation the
    console page, its CSV export and the API share; so :meth:`filter_queryset` adds nothing.
    """

    q = django_filters.CharFilter(
        max_length=200, help_text=_("Name, legal name or domain contains.")
    )
    tier = TierIdListFilter(
        help_text=_("Tier id; repeat for several; 0 means partners without a tier.")
    )
    partner_type = django_filters.MultipleChoiceFilter(
        choices=PartnerType.choices, help_text=_("Repeat for several.")
    )
    status = django_filters.MultipleChoiceFilter(
        choices=PartnerStatus.choices, help_text=_("Repeat for several.")
    )
    segment = django_filters.MultipleChoiceFilter(
        choices=PartnerSegment.choices, help_text=_("Repeat for several.")
    )
    region = django_filters.CharFilter(max_length=50, help_text=_("A region served."))
    country = django_filters.CharFilter(
        max_length=2,
        validators=[RegexValidator(r"^[A-Za-z]{2}$", _("Use a two-letter country code."))],
        help_text=_("ISO 3166 two-letter code of a country served."),
    )
    competency = django_filters.CharFilter(max_length=100, help_text=_("A competency held."))
    manager = IdFilter(help_text=_("Membership id of an assigned manager."))
    ordering = django_filters.ChoiceFilter(
        choices=_partner_orderings(),
        help_text=_(
            "Sort key: name, created, activated, status, tier or type; a leading - sorts "
            "descending. Default name."
        ),
    )

    class Meta:
        model = Partner
        fields: list[str] = []

    def filter_queryset(self, queryset):
        return queryset  # applied by selectors.partner_directory (see the class docstring)

    def partner_filters(self, *, actor: Membership) -> selectors.PartnerFilters:
        """The validated parameters as the directory selector's filters (call is_valid())."""
        data = self.form.cleaned_data
        manager = data.get("manager")
        manager_user_id = None
        if manager is not None:
            manager_user_id = (
                selectors.membership_list(actor=actor)
                .filter(pk=manager)
                .values_list("user_id", flat=True)
                .first()
            )
            if manager_user_id is None:
                raise DRFValidationError({"manager": [_("No member of this tenant has this id.")]})
        return selectors.PartnerFilters(
            q=data.get("q") or "",
            tier=list(data.get("tier") or []),
            partner_type=list(data.get("partner_type") or []),
            status=list(data.get("status") or []),
            segment=list(data.get("segment") or []),
            region=(data.get("region") or "").strip(),
            country=(data.get("country") or "").upper(),
            competency=(data.get("competency") or "").strip(),
            manager=manager_user_id,
            sort=data.get("ordering") or "name",
        )


class TierChangeFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text=_("Id of a partner organization."))
    kind = django_filters.ChoiceFilter(choices=TierChangeKind.choices)

    class Meta:
        model = TierChange
        fields: list[str] = []


class NotificationFilter(django_filters.FilterSet):
    unread = StrictBooleanFilter(
        method="filter_unread", help_text=_("true: only unread; false: only read.")
    )
    kind = django_filters.CharFilter(help_text=_("An event kind, e.g. deal.approved."))

    class Meta:
        model = Notification
        fields = ["unread", "kind"]

    def filter_unread(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(read_at__isnull=value)
