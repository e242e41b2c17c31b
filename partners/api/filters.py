"""django-filter filter sets of the partners API. An invalid value answers 400 with the field."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners import selectors
from partners.models import Invitation, Membership, Notification, Partner, PartnerStatus
from partners.roles import Role


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


class PartnerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PartnerStatus.choices)

    class Meta:
        model = Partner
        fields = ["status"]


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
