"""Forms of the lead pages. They parse; deals.leads validates the rules and writes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from deals import leads, services
from deals.models import LeadStatus


class LeadForm(forms.Form):
    company_name = forms.CharField(label=_("Company"), max_length=200)
    company_domain = forms.CharField(
        label=_("Website"), max_length=253, required=False,
        help_text=_("The company's domain, such as example.com."),
    )  # fmt: skip
    country = forms.CharField(
        label=_("Country"), max_length=2, min_length=2,
        help_text=_("Two-letter ISO code, such as US or DE."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 2}),
    )  # fmt: skip
    region = forms.CharField(
        label=_("Region"), max_length=50, required=False,
        help_text=_("Partners serving this region are candidates too, such as EMEA."),
    )  # fmt: skip
    competency = forms.CharField(
        label=_("Competency needed"), max_length=100, required=False,
        help_text=_("Only partners with this competency are offered the lead."),
    )  # fmt: skip
    contact_name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    contact_email = forms.EmailField(label=_("Contact email"), required=False)
    contact_phone = forms.CharField(
        label=_("Contact phone"), max_length=50, required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )  # fmt: skip
    estimated_value = forms.DecimalField(
        label=_("Estimated value"), required=False, min_value=0, max_digits=14,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )  # fmt: skip
    currency = forms.ChoiceField(label=_("Currency"))
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=leads.MAX_NOTES,
        widget=forms.Textarea(attrs={"rows": 4}),
    )  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        currencies = services.allowed_currencies()
        self.fields["currency"].choices = [(code, code) for code in currencies]
        self.fields["currency"].initial = leads.default_currency(currencies)

    def to_input(self) -> leads.LeadInput:
        data = self.cleaned_data
        return leads.LeadInput(
            company_name=data["company_name"],
            company_domain=data["company_domain"],
            country=data["country"],
            region=data["region"],
            competency=data["competency"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
            contact_phone=data["contact_phone"],
            estimated_value=data["estimated_value"],
            currency=data["currency"],
            notes=data["notes"],
        )


class LeadImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, comma-separated, with a header row; at most %(n)d leads.")
        % {"n": leads.MAX_IMPORT_ROWS},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > leads.MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB.") % {"mb": leads.MAX_IMPORT_BYTES // 2**20}
            )
        return upload


class ImportCommitForm(forms.Form):
    token = forms.RegexField(regex=r"^[A-Za-z0-9_-]{16,64}$", widget=forms.HiddenInput)


class LeadFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *LeadStatus.choices]
    )
    q = forms.CharField(
        label=_("Search"), required=False, max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Company or domain")}),
    )  # fmt: skip


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you decline this lead?"), max_length=leads.MAX_DECLINE_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The vendor sees your reason; the lead goes to another partner."),
    )  # fmt: skip
