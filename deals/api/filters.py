"""django-filter filter sets of the deals API. An invalid value answers 400 with the field.

The deal filters are those of the pages (``deals.selectors.deal_search``), applied to the rows
the actor may see; ``ordering`` is validated here and applied by the cursor pagination.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from deals.catalog import product_search
from deals.models import Deal, DealStage, DealStatus, DealType, Product
from deals.normalize import matchable_domain
from partners.api.filters import StrictBooleanFilter

_MAX_ID = 2**63 - 1

#: ``ordering`` values -> the stable keys rows are paged by (the id breaks ties).
DEAL_ORDERINGS: dict[str, tuple[str, str]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-total": ("-total", "-id"),
    "total": ("total", "id"),
    "expected_close": ("expected_close_date", "id"),
    "-expected_close": ("-expected_close_date", "-id"),
}
DEFAULT_DEAL_ORDERING = "-created"


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A row id: a positive whole number that fits a bigint, else 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", _MAX_ID)
        super().__init__(*args, **kwargs)


class DealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DealStatus.choices)
    stage = django_filters.ChoiceFilter(choices=DealStage.choices)
    deal_type = django_filters.ChoiceFilter(choices=DealType.choices)
    partner = IdFilter(field_name="partner_id", help_text=_("Id of the registering partner."))
    registered_by = IdFilter(
        field_name="registered_by_id", help_text=_("Id of the person who registered it.")
    )
    direct = StrictBooleanFilter(
        method="filter_direct",
        help_text=_("true: only direct deals (no partner); false: only registrations."),
    )
    q = django_filters.CharFilter(
        method="filter_q",
        max_length=200,
        help_text=_("Customer company name (contains) or website domain (exact)."),
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text=_("ISO 8601 date-time; created at or after it."),
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text=_("ISO 8601 date-time; created before it."),
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(key, key) for key in DEAL_ORDERINGS],
        method="filter_ordering",
        help_text=_(
            "Sort key: created, total or expected_close; a leading - sorts descending. "
            "Default -created."
        ),
    )

    class Meta:
        model = Deal
        fields: list[str] = []

    def filter_direct(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(partner__isnull=value)

    def filter_q(self, queryset, name, value):
        # The same search as the pages' deal_search: name contains, or the exact domain.
        term = value.strip()
        if not term:
            return queryset
        condition = Q(customer_name__icontains=term)
        domain = matchable_domain(term)
        if domain and "." in domain:
            condition |= Q(customer_domain_normalized=domain)
        return queryset.filter(condition)

    def filter_ordering(self, queryset, name, value):
        return queryset  # applied by the pagination, which pages by these keys


class ProductFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()
    currency = django_filters.CharFilter(max_length=3, help_text=_("ISO 4217 code."))
    category = django_filters.CharFilter()
    q = django_filters.CharFilter(
        method="filter_q", max_length=200, help_text=_("SKU or name contains.")
    )

    class Meta:
        model = Product
        fields = ["active", "currency", "category"]

    def filter_q(self, queryset, name, value):
        return product_search(queryset, value)
