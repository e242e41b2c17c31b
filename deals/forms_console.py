"""Forms of the staff console's deal pages: the list filters, the review decisions, bulk
approval, closing a deal on the partner's behalf. Querysets are set per request (the tenant is
known then); every form only parses, the services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from deals.models import DealStage, DealStatus, DealType, LostReason
from deals.selectors import SORTS, DealFilters
from partners.models import Partner, Tenant, User
from partners.money import MAX_AMOUNT

#: More than this many ids in one bulk approval is refused (the service caps it too).
BULK_MAX = 500

SORT_LABELS = {
    "newest": _("Newest first"),
    "oldest": _("Oldest first"),
    "total": _("Largest total"),
    "close": _("Closing soonest"),
    "customer": _("Customer A to Z"),
}


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} <{obj.email}>" if obj.full_name else obj.email


class DealFilterForm(forms.Form):
    """The deals list's search, filters and sort (a GET form, also used by the CSV export)."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": _("Customer name or domain")}),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *DealStatus.choices]
    )
    stage = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("Any stage")), *DealStage.choices]
    )
    deal_type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any type")), *DealType.choices]
    )
    partner = forms.ModelChoiceField(
        label=_("Partner"),
        required=False,
        queryset=Partner.objects.none(),
        empty_label=_("Any partner"),
    )
    owner = OwnerChoiceField(
        label=_("Registered by"),
        required=False,
        queryset=User.objects.none(),
        empty_label=_("Anyone"),
    )
    direct = forms.ChoiceField(
        label=_("Source"),
        required=False,
        choices=[
            ("", _("Partner and direct deals")),
            ("no", _("Partner registrations only")),
            ("yes", _("Direct deals only")),
        ],
    )
    sort = forms.ChoiceField(
        label=_("Sort"), required=False, choices=[(key, SORT_LABELS[key]) for key in SORTS]
    )

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Partner.objects.order_by("name").only("id", "name")
        # Everyone who has (or had) a membership here may own deals: partner users register
        # them, staff record direct ones.
        self.fields["owner"].queryset = (
            User.objects.filter(memberships__tenant_id=tenant.pk)
            .order_by("full_name", "email")
            .only("id", "full_name", "email")
        )

    def filters(self) -> DealFilters:
        data = self.cleaned_data
        direct = {"yes": True, "no": False}.get(data.get("direct") or "")
        return DealFilters(
            q=data.get("q") or "",
            status=data.get("status") or "",
            stage=data.get("stage") or "",
            deal_type=data.get("deal_type") or "",
            partner_id=data["partner"].pk if data.get("partner") else None,
            registered_by_id=data["owner"].pk if data.get("owner") else None,
            direct=direct,
            sort=data.get("sort") or "newest",
        )


class DealIdsField(forms.Field):
    """The ticked rows of the review queue: a list of deal ids."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Tick at least one registration to approve."),
        "invalid": _("Unknown registration."),
        "too_many": _("Approve at most %(max)d registrations at once."),
    }

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        try:
            ids = [int(item) for item in value]
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(item <= 0 for item in ids):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(ids))

    def validate(self, value: list[int]) -> None:
        super().validate(value)
        if len(value) > BULK_MAX:
            raise ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": BULK_MAX}
            )


class BulkApproveForm(forms.Form):
    deal_ids = DealIdsField(label=_("Registrations"))


def _comment(label, *, required: bool = False, help_text="") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=4000,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DecisionForm(forms.Form):
    """Base of the review page's forms: unique element ids, so several fit on one page."""

    prefix_id = "decision"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"id_{self.prefix_id}_%s")
        super().__init__(*args, **kwargs)


class ApproveForm(DecisionForm):
    prefix_id = "approve"

    comment = _comment(_("Internal note (optional, not shown to the partner)"))
    override_reason = _comment(
        _("Override reason"),
        help_text=_(
            "A conflicting registration is already approved, and the first approved "
            "registration wins. Approve this one too only with a reason."
        ),
    )


class RejectForm(DecisionForm):
    prefix_id = "reject"

    reason = _comment(_("Reason for the partner"), required=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].error_messages["required"] = _(
            "Give the partner a reason for the rejection."
        )


class RequestInfoForm(DecisionForm):
    prefix_id = "info"

    question = _comment(_("What do you need to know?"), required=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["question"].error_messages["required"] = _("Say what information you need.")


class ExtensionDecisionForm(DecisionForm):
    prefix_id = "extension"

    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("decline", _("Decline"))]
    )
    comment = _comment(_("Comment (optional)"))

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"


class MarkWonForm(DecisionForm):
    prefix_id = "won"

    final_amount = forms.DecimalField(
        label=_("Final amount"), max_digits=16, decimal_places=2, min_value=0,
        max_value=MAX_AMOUNT,
    )  # fmt: skip
    closed_on = forms.DateField(
        label=_("Closed on"), widget=forms.DateInput(attrs={"type": "date"})
    )


class MarkLostForm(DecisionForm):
    prefix_id = "lost"

    reason = forms.ModelChoiceField(
        label=_("Why was it lost?"),
        queryset=LostReason.objects.none(),
        empty_label=_("Choose a reason"),
    )
    comment = _comment(_("Comment (optional)"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = LostReason.objects.filter(active=True).order_by("name")
        self.fields["reason"].error_messages["required"] = _("Choose why the deal was lost.")
