"""The company profile form a partner admin fills in on the portal."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from partners.services import PARTNER_PROFILE_FIELDS


class ListField(forms.CharField):
    """A list typed as text, one item per comma or line (countries, regions)."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        return [item.strip() for item in re.split(r"[,\n]", text) if item.strip()]


class PartnerProfileForm(forms.Form):
    """The fields of ``services.PARTNER_PROFILE_FIELDS``; the service normalizes and
    validates them (country codes), the form only parses what was typed."""

    legal_name = forms.CharField(
        label=_("Legal name"), max_length=300, required=False,
        help_text=_("As on your contracts and invoices."),
    )  # fmt: skip
    employee_count = forms.IntegerField(
        label=_("Employees"), min_value=0, max_value=10_000_000, required=False
    )
    countries = ListField(
        label=_("Countries served"), required=False, max_length=2000,
        help_text=_("Two-letter country codes, separated by commas: US, CA, MX."),
    )  # fmt: skip
    regions = ListField(
        label=_("Regions served"), required=False, max_length=2000,
        help_text=_("Separated by commas: North America, EMEA."),
    )  # fmt: skip

    def __init__(self, *args, partner: Partner, **kwargs) -> None:
        kwargs.setdefault("initial", {f: getattr(partner, f) for f in PARTNER_PROFILE_FIELDS})
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in PARTNER_PROFILE_FIELDS:
                del self.fields[name]

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields}
