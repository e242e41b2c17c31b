"""Forms of the staff console's partner pages: the directory filters, the partner profile
(create and edit), managers and status. Choices come from the tenant, so they are set per
request; every form only parses, the services decide."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from partners import selectors
from partners.models import (
    STATUSES_NEEDING_REASON,
    Membership,
    Partner,
    PartnerSegment,
    PartnerStatus,
    PartnerType,
)
from partners.tiers import Tier

SORT_LABELS = {
    "name": (_("Name, A to Z"), _("Name, Z to A")),
    "created": (_("Added, oldest first"), _("Added, newest first")),
    "activated": (_("Activated, earliest first"), _("Activated, latest first")),
    "status": (_("Status, A to Z"), _("Status, Z to A")),
    "tier": (_("Tier, lowest first"), _("Tier, highest first")),
    "type": (_("Type, A to Z"), _("Type, Z to A")),
}
#: Tier filter value that stands for "no tier" (``PartnerFilters.tier`` uses 0 for it).
NO_TIER = "0"


def sort_choices() -> list[tuple[str, str]]:
    choices = []
    for key in selectors.PARTNER_SORTS:
        ascending, descending = SORT_LABELS.get(key, (key, f"-{key}"))
        choices += [(key, ascending), (f"-{key}", descending)]
    return choices


def split_items(value: str) -> list[str]:
    """``"US, DE; FR"`` -> ``["US", "DE", "FR"]``: items separated by commas or semicolons."""
    return [item.strip() for item in re.split(r"[,;]", value or "") if item.strip()]


class ManagerChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        name = obj.user.full_name or obj.user.email
        return f"{name} <{obj.user.email}> ({obj.get_role_display()})"


class PartnerFilterForm(forms.Form):
    """The directory's search, filters and sort (a GET form, shared by the CSV export)."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": _("Name or website domain")}),
    )
    tier = forms.MultipleChoiceField(label=_("Tier"), required=False)
    partner_type = forms.MultipleChoiceField(
        label=_("Type"), required=False, choices=PartnerType.choices
    )
    status = forms.MultipleChoiceField(
        label=_("Status"), required=False, choices=PartnerStatus.choices
    )
    segment = forms.MultipleChoiceField(
        label=_("Segment"), required=False, choices=PartnerSegment.choices
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    country = forms.CharField(
        label=_("Country"),
        required=False,
        max_length=2,
        widget=forms.TextInput(attrs={"placeholder": _("Two-letter code, such as DE")}),
    )
    competency = forms.ChoiceField(label=_("Competency"), required=False)
    manager = forms.TypedChoiceField(label=_("Manager"), required=False, coerce=int)
    sort = forms.ChoiceField(label=_("Sort"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        tiers = Tier.objects.order_by("-rank").values_list("pk", "name")
        self.fields["tier"].choices = [(NO_TIER, _("No tier")), *((str(p), n) for p, n in tiers)]
        self.fields["region"].choices = [
            ("", _("Any region")),
            *((r, r) for r in selectors.partner_region_names()),
        ]
        self.fields["competency"].choices = [
            ("", _("Any competency")),
            *((c, c) for c in selectors.competency_names()),
        ]
        self.fields["manager"].choices = [
            ("", _("Anyone")),
            *(
                (m.user_id, m.user.full_name or m.user.email)
                for m in selectors.manager_candidates()
            ),
        ]
        self.fields["sort"].choices = sort_choices()
        for name in self.MULTI:
            # Rendered as a dropdown of checkboxes (directory.html), never a tall list box.
            self.fields[name].widget = forms.CheckboxSelectMultiple(
                choices=self.fields[name].choices
            )

    #: The multiple-choice filters.
    MULTI = ("tier", "partner_type", "status", "segment")

    def filter_groups(self) -> tuple[list, list]:
        """(multiple-choice fields with their number of checked choices, the other fields
        except the search), for the template."""
        multi, single = [], []
        for field in self.visible_fields():
            if field.name in self.MULTI:
                value = field.value() or []
                multi.append((field, len(value) if isinstance(value, list) else 1))
            elif field.name != "q":
                single.append(field)
        return multi, single

    def clean_country(self) -> str:
        country = (self.cleaned_data.get("country") or "").strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise ValidationError(_("Enter a two-letter country code, such as DE."))
        return country

    def filters(self) -> selectors.PartnerFilters:
        data = self.cleaned_data
        return selectors.PartnerFilters(
            q=data.get("q") or "",
            tier=[int(t) for t in data.get("tier") or []],
            partner_type=list(data.get("partner_type") or []),
            status=list(data.get("status") or []),
            segment=list(data.get("segment") or []),
            region=data.get("region") or "",
            country=data.get("country") or "",
            competency=data.get("competency") or "",
            manager=data.get("manager") or None,
            sort=data.get("sort") or "name",
        )


class ItemsField(forms.CharField):
    """A list typed as text, items separated by commas or semicolons."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        return split_items(super().to_python(value))


class PartnerForm(forms.Form):
    """A partner's profile as staff edit it (``services.STAFF_PROFILE_FIELDS``); creating a
    partner also sets its first status and, for those who may, its managers."""

    name = forms.CharField(label=_("Name"), max_length=200)
    legal_name = forms.CharField(label=_("Legal name"), max_length=300, required=False)
    domain = forms.CharField(
        label=_("Website domain"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "example.com"}),
    )
    partner_type = forms.ChoiceField(label=_("Type"), choices=PartnerType.choices)
    segment = forms.ChoiceField(
        label=_("Segment"), required=False, choices=[("", "—"), *PartnerSegment.choices]
    )
    employee_count = forms.IntegerField(label=_("Employees"), required=False, min_value=0)
    countries = ItemsField(
        label=_("Countries served"),
        required=False,
        max_length=1000,
        help_text=_("Two-letter codes separated by commas or semicolons, such as DE, AT, CH."),
    )
    regions = ItemsField(
        label=_("Regions served"),
        required=False,
        max_length=1000,
        help_text=_("Separated by commas or semicolons, such as EMEA; DACH."),
    )
    competencies = forms.MultipleChoiceField(
        label=_("Competencies"), required=False, widget=forms.CheckboxSelectMultiple
    )
    lead_capacity = forms.IntegerField(
        label=_("Open-lead capacity"),
        min_value=0,
        initial=10,
        help_text=_("How many offered or accepted leads the partner can work at once."),
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=PartnerStatus.choices, initial=PartnerStatus.ACTIVE
    )
    status_reason = forms.CharField(
        label=_("Status reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed for a suspended or offboarded partner; its users will see it."),
    )
    managers = ManagerChoiceField(
        label=_("Managers"),
        required=False,
        queryset=Membership.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    PROFILE_FIELDS = (
        "name", "legal_name", "domain", "partner_type", "segment", "employee_count",
        "countries", "regions", "competencies", "lead_capacity",
    )  # fmt: skip

    def __init__(
        self, *args, creating: bool, can_assign: bool, partner: Partner | None = None, **kwargs
    ) -> None:
        if partner is not None:
            kwargs.setdefault(
                "initial", {name: getattr(partner, name) for name in self.PROFILE_FIELDS}
            )
        super().__init__(*args, **kwargs)
        self.creating = creating
        names = selectors.competency_names()
        # A competency the partner holds that the tenant has since dropped stays visible,
        # so saving the form does not silently remove it (the service then refuses it).
        held = list(partner.competencies) if partner is not None else []
        self.fields["competencies"].choices = [
            (c, c) for c in sorted(set(names) | set(held))
        ]  # fmt: skip
        if not creating:
            del self.fields["status"], self.fields["status_reason"], self.fields["managers"]
        elif not can_assign:
            del self.fields["managers"]
        else:
            self.fields["managers"].queryset = selectors.manager_candidates()

    def clean(self):
        cleaned = super().clean()
        needs_reason = self.creating and cleaned.get("status") in STATUSES_NEEDING_REASON
        if needs_reason and not (cleaned.get("status_reason") or "").strip():
            self.add_error("status_reason", _("Say why; the partner's users will see it."))
        return cleaned

    def profile(self) -> dict:
        """The profile values for ``partner_create`` / ``partner_update``."""
        data = self.cleaned_data
        values = {name: data[name] for name in self.PROFILE_FIELDS if name in data}
        values["segment"] = values.get("segment") or ""
        return values

    def changed_profile(self) -> dict:
        """Only the profile values the form changed (for ``partner_update``)."""
        values = self.profile()
        return {name: value for name, value in values.items() if name in self.changed_data}


class ManagersForm(forms.Form):
    managers = ManagerChoiceField(
        label=_("Managers"),
        required=False,
        queryset=Membership.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Channel managers see and act on the partners assigned to them."),
    )

    def __init__(self, *args, current_user_ids: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        candidates = selectors.manager_candidates()
        self.fields["managers"].queryset = candidates
        if not self.is_bound:
            self.initial["managers"] = [m.pk for m in candidates if m.user_id in current_user_ids]


class StatusForm(forms.Form):
    """Move a partner to another status. The page offers a button per transition of
    ``STATUS_TRANSITIONS``; the service decides (and explains) what is allowed."""

    status = forms.ChoiceField(label=_("New status"), choices=PartnerStatus.choices)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed to suspend or offboard; the partner's users will see it."),
    )
