"""Admin of deal registration, on the tenant-scoped site (see ``partners/admin_base.py``).

Tenant admins configure the program here: the product catalog, the reasons a deal can be
lost, and the rules of engagement (one row per tenant, created on first open). Deals, leads
and their offers are read-only: they change only through the portal, the console and the
API, whose services keep the state machine, the timeline and the events.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deals import catalog, services
from deals.models import (
    Deal,
    DealConflict,
    DealLine,
    DealPartner,
    DealTransition,
    EngagementRules,
    Lead,
    LeadOffer,
    LostReason,
    Product,
)
from partners.admin_base import (
    ReadOnlyAdminMixin,
    TenantScopedAdmin,
    TenantScopedForm,
    admin_tenant,
    adopt,
    is_operator_mode,
    role_allows,
)
from partners.money import MAX_AMOUNT, minor_units


class DealsAdmin(TenantScopedAdmin):
    """Django checks the permission before it looks the row up, so a view-only model would
    answer 403 to a POST or a delete of a row that is not there. A row outside the tenant
    answers 404 whatever the method, like everywhere else."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        return super().delete_view(request, object_id, extra_context)


# ---------------------------------------------------------------- catalog


class ProductAdminForm(TenantScopedForm):
    class Meta:
        model = Product
        fields = ("sku", "name", "category", "list_price", "currency", "active")

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            raise forms.ValidationError(_("Use a three-letter ISO 4217 code, such as USD or EUR."))
        return currency

    def clean_list_price(self):
        price = self.cleaned_data.get("list_price")
        if price is not None and price > MAX_AMOUNT:
            raise forms.ValidationError(_("The list price is out of range."))
        return price


@admin.register(Product)
class ProductAdmin(DealsAdmin):
    form = ProductAdminForm
    list_display = ("sku", "name", "category", "list_price", "currency", "active")
    list_filter = ("active", "category", "currency")
    search_fields = ("sku", "name", "category")
    fields = ("sku", "name", "category", "list_price", "currency", "active")
    ordering = ("name", "id")

    def save_in_tenant(self, request, obj, form, change, *, actor):
        if actor is None:  # operators: no membership to act as; the form has checked the row
            return super().save_in_tenant(request, obj, form, change, actor=actor)
        values = {name: form.cleaned_data[name] for name in catalog.PRODUCT_FIELDS}
        if change:
            product = Product.objects.get(pk=obj.pk)
            saved = catalog.product_update(actor=actor, product=product, changes=values)
        else:
            saved = catalog.product_create(actor=actor, data=catalog.ProductInput(**values))
        adopt(obj, saved)


@admin.register(LostReason)
class LostReasonAdmin(DealsAdmin):
    list_display = ("name", "active")
    list_filter = ("active",)
    search_fields = ("name",)
    fields = ("name", "active")


# ---------------------------------------------------------------- rules of engagement


class EngagementRulesForm(TenantScopedForm):
    class Meta:
        model = EngagementRules
        fields = "__all__"

    def clean_allowed_currencies(self):
        currencies = [c.strip().upper() for c in self.cleaned_data.get("allowed_currencies") or []]
        for currency in currencies:
            if minor_units(currency) > 2:
                raise forms.ValidationError(
                    _("Deals in %(cur)s are not supported yet.") % {"cur": currency}
                )
        return list(dict.fromkeys(currencies))

    def clean_auto_approve_currency(self):
        return (self.cleaned_data.get("auto_approve_currency") or "").strip().upper()

    def clean(self):
        cleaned = super().clean()
        currency = cleaned.get("auto_approve_currency")
        allowed = cleaned.get("allowed_currencies")
        if currency and allowed and currency not in allowed:
            self.add_error(
                "auto_approve_currency",
                _("Choose one of the allowed currencies: %(list)s.") % {"list": ", ".join(allowed)},
            )
        return cleaned


@admin.register(EngagementRules)
class EngagementRulesAdmin(DealsAdmin):
    """One row per tenant: the list opens it (made with defaults the first time)."""

    form = EngagementRulesForm
    list_display = ("__str__", "name_similarity_threshold", "protection_days",
                    "auto_approve_max_total", "auto_approve_currency")  # fmt: skip
    fieldsets = (
        (
            gettext_lazy("Conflicts"),
            {"fields": ("name_similarity_threshold",)},
        ),
        (
            gettext_lazy("Protection and expiry"),
            {"fields": ("protection_days", "expiry_warning_days", "extension_days")},
        ),
        (
            gettext_lazy("Auto-approval"),
            {"fields": ("auto_approve_max_total", "auto_approve_currency")},
        ),
        (
            gettext_lazy("Currencies and service levels"),
            {"fields": ("allowed_currencies", "review_sla_hours", "lead_response_sla_hours")},
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if admin_tenant(request) is None or is_operator_mode(request):
            return super().changelist_view(request, extra_context)
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # answers 403
        rules = services.engagement_rules()
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[rules.pk])
        )


# ---------------------------------------------------------------- deals (read-only)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under a read-only parent, visible to whoever may view the parent."""

    extra = 0
    can_delete = False
    show_change_link = False
    parent_view_perm = "deals.view_deal"

    def has_view_permission(self, request, obj=None):
        return role_allows(request, self.parent_view_perm)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DealLineInline(ReadOnlyInline):
    model = DealLine
    fields = ("product", "quantity", "unit_price", "amount")
    readonly_fields = fields
    verbose_name = gettext_lazy("line")
    verbose_name_plural = gettext_lazy("lines")


class DealPartnerInline(ReadOnlyInline):
    model = DealPartner
    fields = ("partner", "role")
    readonly_fields = fields
    verbose_name = gettext_lazy("further partner")
    verbose_name_plural = gettext_lazy("further partners")


class DealTransitionInline(ReadOnlyInline):
    model = DealTransition
    fields = ("at", "from_status", "to_status", "actor", "automatic", "comment")
    readonly_fields = fields
    ordering = ("at", "id")
    verbose_name = gettext_lazy("timeline entry")
    verbose_name_plural = gettext_lazy("timeline")


class DealConflictInline(ReadOnlyInline):
    model = DealConflict
    fk_name = "deal"
    fields = ("candidate", "match_type", "score", "found_at")
    readonly_fields = fields
    parent_view_perm = "deals.view_dealconflict"
    verbose_name = gettext_lazy("conflict candidate")
    verbose_name_plural = gettext_lazy("conflict candidates")


_CUSTOMER_FIELDS = ("customer_name", "customer_domain", "country", "contact_name",
                    "contact_email", "contact_phone")  # fmt: skip
_DEAL_FIELDS = ("partner", "registered_by", "deal_type", "stage", "status", "total", "currency",
                "expected_close_date", "notes", "external_id")  # fmt: skip
_REVIEW_FIELDS = ("submitted_at", "decided_at", "decided_by", "auto_approved", "conflict_count",
                  "protection_ends_at", "expiry_warning_sent_at", "extension_status",
                  "extension_reason")  # fmt: skip


@admin.register(Deal)
class DealAdmin(ReadOnlyAdminMixin, DealsAdmin):
    list_display = ("customer_name", "partner", "status", "stage", "deal_type", "total",
                    "currency", "expected_close_date", "conflict_count", "created_at")  # fmt: skip
    list_filter = ("status", "stage", "deal_type", "currency", "auto_approved", "partner")
    list_select_related = ("partner",)
    search_fields = ("customer_name", "customer_domain", "contact_email", "external_id",
                     "partner__name")  # fmt: skip
    date_hierarchy = "created_at"
    inlines = (DealLineInline, DealPartnerInline, DealConflictInline, DealTransitionInline)
    fieldsets = (
        (gettext_lazy("Customer"), {"fields": _CUSTOMER_FIELDS}),
        (gettext_lazy("Deal"), {"fields": _DEAL_FIELDS}),
        (gettext_lazy("Review and protection"), {"fields": _REVIEW_FIELDS}),
        (gettext_lazy("Outcome"), {"fields": ("won_amount", "closed_on", "lost_reason")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [name for _title, block in self.fieldsets for name in block["fields"]]


# ---------------------------------------------------------------- leads (read-only)


class LeadOfferInline(ReadOnlyInline):
    model = LeadOffer
    fields = ("partner", "status", "score", "offered_at", "expires_at", "responded_at",
              "decline_reason")  # fmt: skip
    readonly_fields = fields
    ordering = ("offered_at", "id")
    parent_view_perm = "deals.view_lead"


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdminMixin, DealsAdmin):
    list_display = ("company_name", "country", "region", "competency", "status",
                    "estimated_value", "currency", "created_at")  # fmt: skip
    list_filter = ("status", "country", "region")
    search_fields = ("company_name", "company_domain", "contact_email")
    inlines = (LeadOfferInline,)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in ("id", "tenant")]


@admin.register(LeadOffer)
class LeadOfferAdmin(ReadOnlyAdminMixin, DealsAdmin):
    list_display = ("lead", "partner", "status", "score", "offered_at", "expires_at")
    list_filter = ("status", "partner")
    list_select_related = ("lead", "partner")
    search_fields = ("lead__company_name", "partner__name")

    def has_view_permission(self, request, obj=None):
        # Offers are part of a lead: whoever may read leads may read them.
        return self._in_tenant(request, obj) and role_allows(request, "deals.view_lead")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in ("id", "tenant")]
