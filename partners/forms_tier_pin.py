"""The form that pins a partner's tier until a date, shared by the partner admin's "Pin
tier…" action and the staff console's partner page. It only parses; ``tier_pin`` decides."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.tiers import Tier


class TierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Tier) -> str:
        return obj.name


class TierPinForm(forms.Form):
    """``tiers`` are the tenant's tiers (the only ones offered and accepted); the empty
    choice pins the partner to no tier."""

    tier = TierChoiceField(
        label=_("Tier"),
        queryset=Tier.objects.none(),
        required=False,
        empty_label=_("No tier"),
    )
    until = forms.DateField(
        label=_("Pinned until"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text=_("Inclusive; the tier engine evaluates the partner again the day after."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the tier history."),
    )

    def __init__(self, *args, tiers: QuerySet[Tier], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = tiers

    def clean_until(self):
        until = self.cleaned_data["until"]
        # The same rule as tier_pin, checked here so it shows next to the field.
        if until < timezone.localdate():
            raise forms.ValidationError(_("The pin must end today or later."))
        return until


class TierUnpinForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)
