"""Admin of partner tiers (imported by ``partners/admin.py``).

Tenant admins configure their tiers (rank, benefits, entry criteria), read the history of
tier changes, preview what the tier engine would change (a dry run that writes nothing) and
run it now. The engine is ``partners.tier_engine.tiers_evaluate``; the metrics a criterion
may name are the registry of ``partners.metrics``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from partners import metrics
from partners.admin_base import (
    ReadOnlyAdminMixin,
    TenantScopedAdmin,
    admin_tenant,
    is_operator_mode,
    role_allows,
)
from partners.tier_engine import tiers_evaluate
from partners.tiers import (
    Tier,
    TierChange,
    TierChangeKind,
    TierCriterion,
    TierProposal,
    changes_need_approval,
)


class TierCriterionForm(forms.ModelForm):
    # Callable choices: read from the registry each time a form is built, so metrics
    # registered later (another app, a test) are offered too.
    # A blank first choice keeps an untouched extra row unchanged (so a tier without
    # criteria, such as the entry tier, saves without filling it in).
    metric = forms.ChoiceField(
        label=gettext_lazy("metric"), choices=lambda: [("", "---------"), *metrics.choices()]
    )

    class Meta:
        model = TierCriterion
        fields = ("metric", "operator", "threshold")


class TierCriterionInline(admin.TabularInline):
    model = TierCriterion
    form = TierCriterionForm
    fields = ("metric", "operator", "threshold")
    extra = 1

    def _perm(self, action: str) -> str:
        return f"partners.{action}_tiercriterion"

    def has_view_permission(self, request, obj=None):
        return role_allows(request, self._perm("view")) or self.has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return role_allows(request, self._perm("add"))

    def has_change_permission(self, request, obj=None):
        return role_allows(request, self._perm("change"))

    def has_delete_permission(self, request, obj=None):
        return role_allows(request, self._perm("delete"))


@admin.register(Tier)
class TierAdmin(TenantScopedAdmin):
    list_display = (
        "rank",
        "name",
        "entry_criteria",
        "deal_protection_days",
        "auto_approve_max_total",
        "commission_multiplier",
        "mdf_allowance",
        "lead_routing_priority",
    )
    list_display_links = ("rank", "name")
    ordering = ("-rank",)
    search_fields = ("name",)
    fields = (
        "rank",
        "name",
        "description",
        "deal_protection_days",
        "auto_approve_max_total",
        "commission_multiplier",
        "mdf_allowance",
        "lead_routing_priority",
    )
    inlines = (TierCriterionInline,)
    change_list_template = "admin/partners/tier/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("criteria")

    @admin.display(description=gettext_lazy("entry criteria"))
    def entry_criteria(self, obj):
        labels = dict(metrics.choices())
        return (
            "; ".join(
                f"{labels.get(c.metric, c.metric)} {c.get_operator_display()} {c.threshold}"
                for c in obj.criteria.all()
            )
            or "-"
        )

    def save_formset(self, request, form, formset, change):
        # Criteria belong to the tier's tenant (the form has set it on the tier).
        for inline_form in formset.forms:
            if inline_form.instance.tenant_id is None:
                inline_form.instance.tenant = form.instance.tenant
        super().save_formset(request, form, formset, change)

    # -- the engine: a dry-run preview and "re-evaluate now" (tenant mode only)
    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name=f"{info}_preview",
            ),
            path(
                "reevaluate/",
                self.admin_site.admin_view(self.reevaluate_view),
                name=f"{info}_reevaluate",
            ),
            *super().get_urls(),
        ]

    def _engine_tenant(self, request, perm: str):
        tenant = admin_tenant(request)
        if tenant is None or is_operator_mode(request):
            raise Http404  # the engine runs per tenant: from the tenant's own admin
        if not role_allows(request, perm):
            raise PermissionDenied
        return tenant

    def changelist_view(self, request, extra_context=None):
        tenant_mode = admin_tenant(request) is not None and not is_operator_mode(request)
        extra_context = {
            "can_preview_tiers": tenant_mode and role_allows(request, "partners.view_tier"),
            "can_reevaluate_tiers": tenant_mode and role_allows(request, "partners.change_tier"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def preview_view(self, request):
        tenant = self._engine_tenant(request, "partners.view_tier")
        with transaction.atomic():
            proposals = tiers_evaluate(tenant=tenant, dry_run=True)
        labels = dict(metrics.choices())
        rows = [
            {
                "proposal": p,
                "kind": TierChangeKind(p.kind).label,
                "metrics": [(labels.get(key, key), value) for key, value in p.metrics.items()],
            }
            for p in proposals
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Preview tier changes (dry run)"),
            "rows": rows,
            "can_reevaluate_tiers": role_allows(request, "partners.change_tier"),
        }
        return TemplateResponse(request, "admin/partners/tier/preview.html", context)

    def reevaluate_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = self._engine_tenant(request, "partners.change_tier")
        with transaction.atomic():
            proposals = tiers_evaluate(tenant=tenant, dry_run=False)
        count = len(proposals)
        if changes_need_approval(tenant):
            # Nothing changed yet: the changes wait in the staff console's approval queue.
            message = ngettext(
                "Tiers re-evaluated: %(count)d tier change waits for approval in the staff "
                "console (Tier approvals).",
                "Tiers re-evaluated: %(count)d tier changes wait for approval in the staff "
                "console (Tier approvals).",
                count,
            )
        else:
            message = ngettext(
                "Tiers re-evaluated: %(count)d partner changed tier.",
                "Tiers re-evaluated: %(count)d partners changed tier.",
                count,
            )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:partners_tier_changelist", current_app=self.admin_site.name)
        )


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("at", "partner", "kind", "from_tier", "to_tier", "reason")
    list_filter = ("kind", "to_tier", "from_tier")
    list_select_related = ("partner", "from_tier", "to_tier")
    search_fields = ("partner__name",)
    date_hierarchy = "at"
    fields = ("partner", "kind", "from_tier", "to_tier", "at", "reason", "metrics")
    readonly_fields = fields


@admin.register(TierProposal)
class TierProposalAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Tier changes the engine proposed when the tenant wants them approved. Decided in the
    staff console's approval queue (``/console/tiers/proposals/``); read-only here."""

    list_display = (
        "created_at",
        "partner",
        "kind",
        "from_tier",
        "to_tier",
        "status",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "kind", "to_tier")
    list_select_related = ("partner", "from_tier", "to_tier", "decided_by")
    search_fields = ("partner__name",)
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    fields = (
        "partner",
        "kind",
        "from_tier",
        "to_tier",
        "created_at",
        "reason",
        "metrics",
        "status",
        "decided_by",
        "decided_at",
        "note",
        "change",
    )
    readonly_fields = fields
