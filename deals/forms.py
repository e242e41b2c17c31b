"""Forms of the deal registration pages.

``DealEntry`` is the deal form with its line items and further partners. The partner portal
uses it to register and edit deals; the staff console uses it (``partner=None``) to record
direct deals. It turns valid input into ``services.DealInput`` and maps the services'
``ValidationError`` back onto the fields. Lines are added and removed by submit buttons (htmx
only makes that faster), so the form works without JavaScript.

Choices that depend on the tenant (currencies, products, partners, lost reasons) are read per
request, when the tenant is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from deals import selectors, services
from deals.models import (
    Deal,
    DealStage,
    DealStatus,
    DealType,
    LostReason,
    PartnerRole,
    Product,
)
from partners.models import Partner
from partners.money import MAX_AMOUNT, minor_units

LINE_PREFIX = "lines"
PARTNER_PREFIX = "partners"
MAX_FURTHER_PARTNERS = 10
# Money inputs: 12 digits before the point and 2 after, the bounds of the ledger's columns.
MONEY_INPUT = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}

DEAL_FIELDS = (
    "customer_name",
    "customer_domain",
    "country",
    "contact_name",
    "contact_email",
    "contact_phone",
    "currency",
    "expected_close_date",
    "stage",
    "deal_type",
    "notes",
)
# What an approved registration keeps: the customer it protects, and the currency of its lines.
LOCKED_WHEN_APPROVED = ("customer_name", "customer_domain", "country", "currency")


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def apply_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: its fields where the form has them, the
    rest (and a message without a field) above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def product_label(product: Product) -> str:
    price = formats.number_format(
        product.list_price,
        decimal_pos=minor_units(product.currency),
        use_l10n=True,
        force_grouping=True,
    )
    return f"{product.name} ({product.sku}) · {price} {product.currency}"


# ---------------------------------------------------------------- the deal


class DealForm(forms.Form):
    customer_name = forms.CharField(label=_("Customer company"), max_length=200)
    customer_domain = forms.CharField(
        label=_("Customer website"),
        max_length=253,
        required=False,
        help_text=_("The company's domain, such as example.com."),
    )
    country = forms.CharField(
        label=_("Country"),
        min_length=2,
        max_length=2,
        help_text=_("Two-letter ISO code, such as US or DE."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 2}),
    )
    contact_name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    contact_email = forms.EmailField(label=_("Contact email"), required=False)
    contact_phone = forms.CharField(
        label=_("Contact phone"),
        max_length=50,
        required=False,
        widget=forms.TelInput(attrs={"autocomplete": "off"}),
    )
    currency = forms.ChoiceField(label=_("Currency"))
    expected_close_date = forms.DateField(label=_("Expected close date"), widget=_date_input())
    stage = forms.ChoiceField(label=_("Stage"), choices=DealStage.choices)
    deal_type = forms.ChoiceField(label=_("Type"), choices=DealType.choices)
    notes = forms.CharField(
        label=_("Notes"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, currencies: list[str], lock_customer: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in currencies]
        if len(currencies) == 1:
            self.fields["currency"].initial = currencies[0]
        if lock_customer:
            for name in LOCKED_WHEN_APPROVED:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("An approved registration keeps its customer.")

    def clean_customer_name(self) -> str:
        return self.cleaned_data["customer_name"].strip()

    def clean_customer_domain(self) -> str:
        return self.cleaned_data["customer_domain"].strip()

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise ValidationError(_("Use a two-letter ISO country code, such as US or DE."))
        return country


class DealLineForm(forms.Form):
    # A ChoiceField over products read once per request, not a ModelChoiceField that would
    # query the catalog again for every line.
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, empty_value=None)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=services.MAX_QUANTITY)
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        required=False,
        max_value=MAX_AMOUNT,
        help_text=_("Leave empty for the list price."),
        **MONEY_INPUT,
    )

    def __init__(self, *args, products: dict[int, Product], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.products = products
        self.fields["product"].choices = [("", _("Choose a product")), *(
            (pk, product_label(product)) for pk, product in products.items()
        )]  # fmt: skip
        self.fields["quantity"].widget.attrs["inputmode"] = "numeric"
        self.fields["unit_price"].widget.attrs["inputmode"] = "decimal"


class BaseRowFormSet(forms.BaseFormSet):
    """A formset whose rows are all "extra" forms, so an untouched row is simply skipped.

    Unbound, it shows ``rows`` (initial values: a deal being edited, or a POST being
    rearranged) and ``blank`` empty rows. Bound, every form compares itself with ``blank_row``
    to decide whether it was filled in.
    """

    blank_row: dict = {}

    def __init__(self, data=None, *, rows: list[dict] | None = None, blank: int = 0, **kwargs):
        self.rows = list(rows or [])
        super().__init__(data, **kwargs)
        if not self.is_bound:
            self.extra = len(self.rows) + blank

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if not self.is_bound and index is not None and index < len(self.rows):
            kwargs["initial"] = {**self.blank_row, **self.rows[index]}
        else:
            kwargs["initial"] = dict(self.blank_row)
        return kwargs

    def filled_forms(self) -> list[forms.Form]:
        return [form for form in self.forms if form.cleaned_data]


class BaseDealLineFormSet(BaseRowFormSet):
    blank_row = {"quantity": 1}

    def __init__(self, *args, currency: str | None = None, **kwargs):
        self.currency = currency
        super().__init__(*args, **kwargs)

    def clean(self) -> None:
        if any(self.errors):
            return
        filled = self.filled_forms()
        if not filled:
            raise ValidationError(_("Add at least one product line."))
        if len(filled) > services.MAX_LINES:
            raise ValidationError(
                _("A deal can have at most %(n)d lines.") % {"n": services.MAX_LINES}
            )
        for form in filled:
            product = form.products.get(form.cleaned_data["product"])
            if (
                self.currency
                and product is not None
                and form.cleaned_data.get("unit_price") is None
                and product.currency != self.currency
            ):
                form.add_error(
                    "unit_price",
                    _("%(sku)s is priced in %(cur)s: enter a unit price in %(deal_cur)s.")
                    % {"sku": product.sku, "cur": product.currency, "deal_cur": self.currency},
                )


DealLineFormSet = forms.formset_factory(
    DealLineForm,
    formset=BaseDealLineFormSet,
    extra=0,
    max_num=services.MAX_LINES,
    absolute_max=services.MAX_LINES,
    validate_max=True,
)


class FurtherPartnerForm(forms.Form):
    partner = forms.TypedChoiceField(label=_("Partner organization"), coerce=int, empty_value=None)
    role = forms.ChoiceField(label=_("Role"), choices=PartnerRole.choices)

    def __init__(self, *args, partners: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partner"].choices = [("", _("Choose a partner")), *partners]


class BaseFurtherPartnerFormSet(BaseRowFormSet):
    blank_row = {"role": PartnerRole.CO_SELL}

    def clean(self) -> None:
        if any(self.errors):
            return
        chosen = [form.cleaned_data["partner"] for form in self.filled_forms()]
        if len(chosen) != len(set(chosen)):
            raise ValidationError(_("Name each further partner once."))


FurtherPartnerFormSet = forms.formset_factory(
    FurtherPartnerForm,
    formset=BaseFurtherPartnerFormSet,
    extra=0,
    max_num=MAX_FURTHER_PARTNERS,
    absolute_max=MAX_FURTHER_PARTNERS,
    validate_max=True,
)


def _raw_rows(data, prefix: str, names: Iterable[str], limit: int) -> list[dict]:
    """The rows of a posted formset as raw strings, to show them again unbound."""
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS", 0))
    except (TypeError, ValueError):
        total = 0
    return [
        {name: data.get(f"{prefix}-{index}-{name}", "") for name in names}
        for index in range(max(0, min(total, limit)))
    ]


def _deal_initial(deal: Deal) -> tuple[dict, list[dict], list[dict]]:
    initial = {name: getattr(deal, name) for name in DEAL_FIELDS}
    lines = [
        {"product": line.product_id, "quantity": line.quantity, "unit_price": line.unit_price}
        for line in deal.lines.all()
    ]
    further = [{"partner": fp.partner_id, "role": fp.role} for fp in deal.further_partners.all()]
    return initial, lines, further


class DealEntry:
    """The deal form, its lines and its further partners, validated as one.

    ``partner`` is the registering partner (``None`` for a direct deal). ``partner_choices``
    is the queryset of partner organizations that may be named as further partners; with
    ``None`` the further partners are not editable and an edited deal keeps the ones it has.
    """

    #: ``action`` values of the buttons that rearrange the form instead of saving it.
    REARRANGING = ("add_line", "remove_line", "add_partner", "remove_partner")

    def __init__(
        self,
        data=None,
        *,
        partner: Partner | None,
        partner_choices: QuerySet[Partner] | None = None,
        deal: Deal | None = None,
    ) -> None:
        self.partner = partner
        self.deal = deal
        self.lock_customer = deal is not None and deal.status == DealStatus.APPROVED
        self.currencies = services.allowed_currencies()
        self.products = {
            product.pk: product for product in Product.objects.filter(active=True).order_by("name")
        }
        self._partner_choices = self._further_choices(partner_choices)
        deal_initial, line_rows, partner_rows = _deal_initial(deal) if deal else ({}, [], [])
        self.existing_further = partner_rows
        rearranged = data is not None and self._rearrange_action(data) is not None
        if rearranged:
            deal_initial, line_rows, partner_rows = self._rows_from_post(data, deal_initial)
            data = None
        self.rearranged = rearranged
        self.form = DealForm(
            data,
            currencies=self.currencies,
            lock_customer=self.lock_customer,
            initial=deal_initial or None,
        )
        self.lines = DealLineFormSet(
            data,
            prefix=LINE_PREFIX,
            rows=line_rows,
            blank=0 if line_rows else 1,
            form_kwargs={"products": self.products},
        )
        self.further = None
        if self._partner_choices is not None and (self._partner_choices or partner_rows):
            self.further = FurtherPartnerFormSet(
                data,
                prefix=PARTNER_PREFIX,
                rows=partner_rows,
                form_kwargs={"partners": self._partner_choices},
            )

    # -- building

    def _further_choices(self, queryset: QuerySet[Partner] | None) -> list[tuple[int, str]] | None:
        if queryset is None:
            return None
        if self.partner is not None:
            queryset = queryset.exclude(pk=self.partner.pk)
        return list(queryset.order_by("name").values_list("pk", "name"))

    @classmethod
    def _rearrange_action(cls, data) -> tuple[str, int | None] | None:
        action, _sep, index = (data.get("action") or "").partition(":")
        if action not in cls.REARRANGING:
            return None
        try:
            return action, int(index) if index else None
        except ValueError:
            return action, None

    def _rows_from_post(self, data, deal_initial: dict) -> tuple[dict, list[dict], list[dict]]:
        """The posted values as initial values, with a line or partner added or removed."""
        action, index = self._rearrange_action(data)
        initial = dict(deal_initial)
        for name in DEAL_FIELDS:
            if not (self.lock_customer and name in LOCKED_WHEN_APPROVED) and name in data:
                initial[name] = data.get(name, "")
        line_rows = _raw_rows(data, LINE_PREFIX, ("product", "quantity", "unit_price"),
                              services.MAX_LINES)  # fmt: skip
        partner_rows = _raw_rows(data, PARTNER_PREFIX, ("partner", "role"), MAX_FURTHER_PARTNERS)
        if action == "add_line" and len(line_rows) < services.MAX_LINES:
            line_rows.append(dict(BaseDealLineFormSet.blank_row))
        elif action == "remove_line" and index is not None and 0 <= index < len(line_rows):
            del line_rows[index]
        elif action == "add_partner" and len(partner_rows) < MAX_FURTHER_PARTNERS:
            partner_rows.append(dict(BaseFurtherPartnerFormSet.blank_row))
        elif action == "remove_partner" and index is not None and 0 <= index < len(partner_rows):
            del partner_rows[index]
        if not line_rows:
            line_rows.append(dict(BaseDealLineFormSet.blank_row))
        return initial, line_rows, partner_rows

    # -- validating

    def is_valid(self) -> bool:
        if self.rearranged:
            return False
        form_ok = self.form.is_valid()
        self.lines.currency = self.form.cleaned_data.get("currency") if form_ok else None
        lines_ok = self.lines.is_valid()
        further_ok = self.further is None or self.further.is_valid()
        return form_ok and lines_ok and further_ok

    @property
    def has_errors(self) -> bool:
        if not self.form.is_bound:
            return False
        return bool(
            self.form.errors
            or self.lines.total_error_count()
            or (self.further is not None and self.further.total_error_count())
        )

    def to_input(self) -> services.DealInput:
        """The valid input as the services take it."""
        cleaned = self.form.cleaned_data
        lines = [
            services.LineInput(
                product_id=form.cleaned_data["product"],
                quantity=form.cleaned_data["quantity"],
                unit_price=form.cleaned_data.get("unit_price"),
            )
            for form in self.lines.filled_forms()
        ]
        if self.further is not None:
            further = [
                services.FurtherPartnerInput(
                    partner_id=form.cleaned_data["partner"], role=form.cleaned_data["role"]
                )
                for form in self.further.filled_forms()
            ]
        else:  # not editable here: an edited deal keeps the further partners it has
            further = [
                services.FurtherPartnerInput(partner_id=row["partner"], role=row["role"])
                for row in self.existing_further
            ]
        return services.DealInput(
            **{name: cleaned[name] for name in DEAL_FIELDS},
            lines=lines,
            further_partners=further,
        )

    def apply_errors(self, exc: ValidationError) -> None:
        """Map a service's ValidationError onto the form, the lines and the partners."""
        if not hasattr(exc, "error_dict"):
            self.form.add_error(None, exc.messages)
            return
        for field, errors in exc.error_dict.items():
            messages = ValidationError(errors).messages
            if field in self.form.fields:
                self.form.add_error(field, messages)
            elif field == "lines":
                self.lines._non_form_errors.extend(messages)
            elif field == "further_partners" and self.further is not None:
                self.further._non_form_errors.extend(messages)
            else:
                self.form.add_error(None, messages)

    # -- for the template

    @property
    def customer_name(self) -> str:
        return str(self._value("customer_name") or "")

    @property
    def customer_domain(self) -> str:
        return str(self._value("customer_domain") or "")

    def _value(self, name: str):
        return self.form[name].value()  # the posted value, or the initial one (disabled too)


# ---------------------------------------------------------------- lifecycle actions


class SubmitForm(forms.Form):
    """Submit a draft, or answer a more-info request (then the answer is required)."""

    comment = forms.CharField(
        label=_("Comment for the reviewer"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, answer_required: bool = False, **kwargs) -> None:
        super().__init__(*args, prefix="submit", **kwargs)
        if answer_required:
            self.fields["comment"].required = True
            self.fields["comment"].label = _("Your answer")
            self.fields["comment"].error_messages["required"] = _(
                "Answer the reviewer's question, or say what you changed."
            )


class WonForm(forms.Form):
    final_amount = forms.DecimalField(label=_("Final amount"), max_value=MAX_AMOUNT, **MONEY_INPUT)
    closed_on = forms.DateField(label=_("Close date"), widget=_date_input())

    def __init__(self, *args, deal: Deal, today: date, **kwargs) -> None:
        kwargs.setdefault("initial", {"final_amount": deal.total, "closed_on": today})
        super().__init__(*args, prefix="won", **kwargs)
        self.fields["final_amount"].help_text = _("In %(currency)s.") % {"currency": deal.currency}
        self.fields["final_amount"].widget.attrs["inputmode"] = "decimal"
        self.fields["closed_on"].widget.attrs["max"] = today.isoformat()


class LostForm(forms.Form):
    reason = forms.TypedChoiceField(label=_("Why was it lost?"), coerce=int, empty_value=None)
    comment = forms.CharField(
        label=_("Comment"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, reasons: list[LostReason], **kwargs) -> None:
        super().__init__(*args, prefix="lost", **kwargs)
        self.reasons = {reason.pk: reason for reason in reasons}
        self.fields["reason"].choices = [("", _("Choose a reason")), *(
            (reason.pk, reason.name) for reason in reasons
        )]  # fmt: skip

    def lost_reason(self) -> LostReason | None:
        return self.reasons.get(self.cleaned_data["reason"])


class ExtensionForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need more time?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="extension", **kwargs)


# ---------------------------------------------------------------- lists


SORT_LABELS = {
    "newest": _("Newest first"),
    "oldest": _("Oldest first"),
    "total": _("Largest total"),
    "close": _("Closing soonest"),
    "customer": _("Customer A-Z"),
}


def status_label_for_partner(status: str) -> str:
    """What a partner reads for a status: a submission is "under review", never more."""
    if status == DealStatus.SUBMITTED:
        return str(_("Under review"))
    return str(DealStatus(status).label)


class DealFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"), max_length=200, required=False, widget=forms.SearchInput()
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _("Customer or website")
        self.fields["status"].choices = [("", _("Any status")), *(
            (value, status_label_for_partner(value)) for value in DealStatus.values
        )]  # fmt: skip
        self.fields["stage"].choices = [("", _("Any stage")), *DealStage.choices]
        self.fields["sort"].choices = [(key, SORT_LABELS.get(key, key)) for key in selectors.SORTS]

    def filters(self) -> selectors.DealFilters:
        cleaned = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return selectors.DealFilters(
            q=(cleaned.get("q") or "").strip(),
            status=cleaned.get("status") or "",
            stage=cleaned.get("stage") or "",
            sort=cleaned.get("sort") or "newest",
        )
