"""Admin of the partners app, on the tenant-scoped site (see ``partners/admin_base.py``).

Tenant admins (``/t/<slug>/admin/``) manage their own tenant's settings, partners, people
(role and active flag; new people join by invitation), invitations and API tokens, and read
the event outbox and automation run log. Operators (``/admin/``) also manage tenants, users
and groups, and see every tenant's rows.
"""

from __future__ import annotations

import contextlib

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners import (
    admin_imports,  # noqa: F401  (registers the partner import admin)
    admin_tiers,  # noqa: F401  (registers the tier admins)
    partner_csv,
    selectors,
    services,
    tier_engine,
)
from partners.admin_base import (
    ReadOnlyAdminMixin,
    TenantScopedAdmin,
    TenantScopedForm,
    TrellisModelAdmin,
    admin_tenant,
    adopt,
    is_operator_mode,
    role_allows,
)
from partners.forms_tier_pin import TierPinForm
from partners.models import (
    STATUSES_NEEDING_REASON,
    ApiToken,
    AutomationRun,
    Competency,
    Invitation,
    Membership,
    OutboxEvent,
    Partner,
    PartnerStatus,
    PartnerStatusChange,
    Tenant,
    User,
)
from partners.permissions import membership_permissions
from partners.roles import PARTNER_ROLES, STAFF_ROLES, Role, invitable_roles
from partners.tenancy import tenant_context
from partners.tiers import (
    APPROVAL_SETTING,
    DEFAULT_GRACE_DAYS,
    GRACE_SETTING,
    Tier,
    changes_need_approval,
    demotion_grace_days,
)


def _check_role_and_partner(form: forms.ModelForm, cleaned: dict) -> None:
    """The rule services enforce, checked up front so it shows next to the field."""
    role, partner = cleaned.get("role"), cleaned.get("partner")
    if role in PARTNER_ROLES and partner is None:
        form.add_error("partner", _("Partner roles need a partner organization."))
    elif role in STAFF_ROLES and partner is not None:
        form.add_error("partner", _("Vendor staff do not belong to a partner."))


# ---------------------------------------------------------------- tenants


#: Tier-program settings kept in ``Tenant.settings`` that the tenant form edits as real
#: fields (never as raw JSON): the key, which is also the form field's name.
TIER_SETTING_FIELDS = (GRACE_SETTING, APPROVAL_SETTING)
MAX_GRACE_DAYS = 3650


class TenantAdminForm(forms.ModelForm):
    """The tenant's fields, the tier-program settings as form fields, and the rest of
    ``settings`` as JSON. The tier keys are taken out of the JSON shown and written back
    from their own fields, so the fields always win."""

    tier_demotion_grace_days = forms.IntegerField(
        label=gettext_lazy("demotion grace period (days)"),
        required=False,
        min_value=0,
        max_value=MAX_GRACE_DAYS,
        widget=forms.NumberInput(attrs={"placeholder": str(DEFAULT_GRACE_DAYS)}),
        help_text=format_lazy(
            gettext_lazy(
                "How long a partner may stay below its tier's criteria before the tier "
                "engine demotes it (0 to {max}). Empty: the default, {days} days."
            ),
            max=MAX_GRACE_DAYS,
            days=DEFAULT_GRACE_DAYS,
        ),
    )
    tier_changes_need_approval = forms.BooleanField(
        label=gettext_lazy("tier changes need approval"),
        required=False,
        help_text=gettext_lazy(
            "When ticked, the tier engine proposes promotions and demotions and a channel "
            "manager approves or rejects them in the staff console; otherwise they apply "
            "at once."
        ),
    )

    class Meta:
        model = Tenant
        fields = ("name", "slug", "default_currency", "time_zone", "settings", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.settings if isinstance(self.instance.settings, dict) else {}
        if "settings" in self.fields:
            self.initial["settings"] = {
                key: value for key, value in stored.items() if key not in TIER_SETTING_FIELDS
            }
        if GRACE_SETTING in self.fields:
            self.initial[GRACE_SETTING] = (
                demotion_grace_days(self.instance) if GRACE_SETTING in stored else None
            )
        if APPROVAL_SETTING in self.fields:
            self.initial[APPROVAL_SETTING] = changes_need_approval(self.instance)

    def clean(self):
        cleaned = super().clean()
        if "settings" not in self.fields or "settings" not in cleaned:
            return cleaned  # the JSON itself is invalid (a field error already)
        document = cleaned["settings"]
        if document in (None, ""):
            document = {}
        if not isinstance(document, dict):
            self.add_error("settings", _("Enter a JSON object ({...})."))
            return cleaned
        document = {k: v for k, v in document.items() if k not in TIER_SETTING_FIELDS}
        if GRACE_SETTING in self.fields and cleaned.get(GRACE_SETTING) is not None:
            document[GRACE_SETTING] = cleaned[GRACE_SETTING]
        if APPROVAL_SETTING in self.fields and cleaned.get(APPROVAL_SETTING):
            document[APPROVAL_SETTING] = True
        # Defaults are left out of the document: empty grace and "no approval" are the
        # program's defaults, and the document stays what the admin wrote.
        cleaned["settings"] = document
        return cleaned


@admin.register(Tenant)
class TenantAdmin(TrellisModelAdmin):
    """Operators: every tenant, full CRUD. Tenant admins: their own tenant's settings."""

    form = TenantAdminForm
    search_fields = ("name", "slug")
    ordering = ("name",)

    def get_list_display(self, request):
        if is_operator_mode(request):
            return ("name", "slug", "default_currency", "time_zone", "is_active", "created_at")
        return ("name", "slug", "default_currency", "time_zone")

    def get_list_filter(self, request):
        return ("is_active",) if is_operator_mode(request) else ()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_operator_mode(request):
            return queryset
        tenant = admin_tenant(request)
        # Tenant is not tenant-owned (no scoped manager): scope it by hand.
        return queryset.filter(pk=tenant.pk) if tenant is not None else queryset.none()

    def _main_fields(self, request, obj=None) -> tuple[str, ...]:
        if is_operator_mode(request) and obj is not None:
            return ("name", "slug", "default_currency", "time_zone", "is_active", "created_at")
        return ("name", "slug", "default_currency", "time_zone")

    def get_fields(self, request, obj=None):
        return (*self._main_fields(request, obj), *TIER_SETTING_FIELDS, "settings")

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": self._main_fields(request, obj)}),
            (gettext_lazy("Tier program"), {"fields": TIER_SETTING_FIELDS}),
            (
                gettext_lazy("Other settings"),
                {
                    "fields": ("settings",),
                    "description": gettext_lazy(
                        "Further program settings as a JSON object. The tier-program "
                        "settings above are edited in their own fields."
                    ),
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if not is_operator_mode(request):
            return ("slug",)
        return ("created_at",) if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if is_operator_mode(request) and obj is None else {}

    def _own_tenant(self, request, obj) -> bool:
        tenant = admin_tenant(request)
        return tenant is not None and (obj is None or obj.pk == tenant.pk)

    def has_view_permission(self, request, obj=None):
        if is_operator_mode(request):
            return super().has_view_permission(request, obj)
        return self._own_tenant(request, obj) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if is_operator_mode(request):
            return super().has_change_permission(request, obj)
        return self._own_tenant(request, obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return is_operator_mode(request) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return is_operator_mode(request) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if is_operator_mode(request):
            # Deleting a tenant takes every row it owns with it, including rows that are
            # read-only in the admin (tokens, the outbox, the run log): that is the point.
            perms_needed = set()
        return deleted, model_count, perms_needed, protected

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not is_operator_mode(request):
            with self.acting_in(request, admin_tenant(request)) as actor:
                saved = services.tenant_update_settings(
                    actor=actor,
                    values={key: data[key] for key in ("name", "default_currency", "time_zone")},
                    replace_settings=data.get("settings") or {},
                )
            adopt(obj, saved)
        elif not change:
            with self.service_refusals():
                saved = services.tenant_create(
                    name=data["name"],
                    slug=data["slug"],
                    default_currency=data["default_currency"],
                    time_zone=data["time_zone"],
                    settings_=data.get("settings") or {},
                )
            adopt(obj, saved)
        else:
            # Operators editing a tenant's row (slug, active flag): no service owns that.
            obj.settings = data.get("settings") or {}  # with the tier-program fields merged
            super().save_model(request, obj, form, change)


# ---------------------------------------------------------------- users (operators only)


class OperatorUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("A user with this email address already exists."))
        return email


class OperatorUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People are global: only operators see the user list. Tenant admins manage their
    people through memberships and invitations (registered without tenant_admin_enabled,
    so the site makes it operator-only)."""

    form = OperatorUserChangeForm
    add_form = OperatorUserCreationForm
    list_display = ("email", "full_name", "is_active", "is_staff", "is_superuser", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined", "tenant_memberships")
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        (gettext_lazy("Memberships"), {"fields": ("tenant_memberships",)}),
        (
            gettext_lazy("Operator permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (gettext_lazy("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )

    @admin.display(description=gettext_lazy("tenants"))
    def tenant_memberships(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        # Operator mode runs inside dangerously_all_tenants: every tenant's memberships.
        rows = Membership.objects.filter(user=obj).select_related("tenant", "partner")
        return (
            format_html_join(
                ", ",
                "{} ({}{})",
                (
                    (m.tenant.name, m.get_role_display(), "" if m.is_active else ", inactive")
                    for m in rows
                ),
            )
            or "-"
        )


# ---------------------------------------------------------------- partners and people


class _DryRun(Exception):
    """Rolls back a service call made only to learn whether the service accepts it."""


#: Profile fields of the partner form, in the order the form shows them.
PARTNER_PROFILE_FIELDS = (
    "name",
    "legal_name",
    "domain",
    "partner_type",
    "segment",
    "employee_count",
    "countries",
    "regions",
    "competencies",
    "lead_capacity",
)
#: Fields written only through their own services (status, tier engine, assignment).
PARTNER_STATE_FIELDS = (
    "status",
    "status_reason",
    "status_changed_at",
    "activated_on",
    "tier",
    "tier_pinned_until",
    "assigned_managers",
    "created_at",
)


class PartnerAdminForm(TenantScopedForm):
    """The partner's profile, saved by ``services.partner_create`` / ``partner_update``.

    Once the form's own checks pass, the service is called in a savepoint that is always
    rolled back, so every rule of the service (known competencies, the domain, unique name
    and domain, the actor's access) shows next to its field instead of as a page message.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("partner_type", "lead_capacity"):
            if name in self.fields:  # empty: the model's default
                self.fields[name].required = False
        if "status" in self.fields:
            # A new partner starts as an applicant, onboarding or active; suspending and
            # offboarding need a reason and go through the actions.
            self.fields["status"].choices = [
                (value, label)
                for value, label in PartnerStatus.choices
                if value not in STATUSES_NEEDING_REASON
            ]
        if "competencies" in self.fields and self.admin_tenant is not None:
            # The tenant's list; a competency the partner holds but the list has lost
            # stays offered, so saving the form does not drop it silently.
            held = list(self.instance.competencies or []) if self.instance.pk else []
            names = sorted(set(selectors.competency_names()) | set(held))
            self.fields["competencies"] = forms.MultipleChoiceField(
                label=_("competencies"),
                choices=[(name, name) for name in names],
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text=_("The program's list is kept under Competencies."),
            )

    @property
    def adding(self) -> bool:
        return self.instance._state.adding

    def profile_values(self) -> dict:
        """The profile as the services take it; empty type or capacity: the default."""
        values = {
            name: self.cleaned_data[name]
            for name in PARTNER_PROFILE_FIELDS
            if name in self.fields and name in self.cleaned_data
        }
        for name in ("partner_type", "lead_capacity"):
            if values.get(name) in (None, ""):
                values.pop(name, None)
        return values

    def save_through_service(self, actor: Membership | None) -> Partner:
        """Create or update the partner through its service (in the current tenant)."""
        values = self.profile_values()
        if self.adding:
            return services.partner_create(
                actor=actor,
                name=values.pop("name"),
                domain=values.pop("domain"),
                status=self.cleaned_data.get("status") or PartnerStatus.ACTIVE,
                **values,
            )
        changed = {k: v for k, v in values.items() if k in self.changed_data}
        if not changed:
            return self.instance
        return services.partner_update(actor=actor, partner=self.instance, **changed)

    @contextlib.contextmanager
    def _acting(self):
        if self.admin_tenant is not None:  # tenant mode: the request's tenant context
            yield self.acting_membership
        else:  # operator mode: the row's tenant, operator code (no actor)
            with tenant_context(self.instance.tenant):
                yield None

    def _get_validation_exclusions(self):
        # The service checks a unique name and domain (case-insensitively, after
        # normalizing the domain) and says which field clashes; the model's constraints
        # would only say so for the form as a whole, and miss "NORTHWIND.test".
        return super()._get_validation_exclusions() | {"name", "domain"}

    def _post_clean(self):
        super()._post_clean()
        if self.errors or self.instance.tenant_id is None:
            return
        try:
            with self._acting() as actor, transaction.atomic():
                self.save_through_service(actor)
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                self.add_error(None, exc)
        except PermissionDenied as exc:
            self.add_error(None, str(exc) or _("Your role does not allow this."))


class PartnerStatusChangeInline(admin.TabularInline):
    """The partner's dated status transitions, newest first (written by the services)."""

    model = PartnerStatusChange
    fields = ("at", "from_status", "to_status", "changed_by", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = gettext_lazy("status change")
    verbose_name_plural = gettext_lazy("status history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    def has_view_permission(self, request, obj=None):
        return role_allows(request, "partners.view_partnerstatuschange")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PartnerStatusReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


@admin.register(Partner)
class PartnerAdmin(TenantScopedAdmin):
    """Partner organizations: profile through the partner services; status changes through
    the "Suspend…" and "Reactivate…" actions (with a reason); tier and managers are
    shown here and changed by the tier engine and the staff console."""

    form = PartnerAdminForm
    list_display = (
        "name",
        "domain",
        "partner_type",
        "segment",
        "status",
        "tier",
        "managers",
        "created_at",
    )
    list_filter = ("status", "partner_type", "segment", "tier")
    list_select_related = ("tier",)
    search_fields = ("name", "legal_name", "domain")
    inlines = (PartnerStatusChangeInline,)
    actions = (
        "suspend_partners",
        "reactivate_partners",
        "pin_tier",
        "unpin_tier",
        "export_partners_csv",
    )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()  # a new partner has no history yet

    def get_model_fields(self, request, obj=None):
        if obj is None:
            return [*PARTNER_PROFILE_FIELDS, "status"]
        return [*PARTNER_PROFILE_FIELDS, *PARTNER_STATE_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += [f for f in PARTNER_STATE_FIELDS if f not in readonly]
        return readonly

    # -- assigned managers: one query for the page (selectors.partner_managers)
    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        managers = selectors.partner_managers(partner_ids=[p.pk for p in rows])
        for partner in rows:
            partner.assigned_manager_users = managers.get(partner.pk, [])
        return changelist

    def _managers_of(self, obj) -> list[User]:
        found = getattr(obj, "assigned_manager_users", None)
        if found is None:
            found = selectors.partner_managers(partner_ids=[obj.pk])[obj.pk]
        return found

    @admin.display(description=gettext_lazy("managers"))
    def managers(self, obj):
        return ", ".join(user.email for user in self._managers_of(obj)) or "-"

    @admin.display(description=gettext_lazy("assigned managers"))
    def assigned_managers(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return (
            ", ".join(f"{u.full_name} <{u.email}>" if u.full_name else u.email
                      for u in self._managers_of(obj))
            or _("None (assigned in the staff console)")
        )  # fmt: skip

    def save_in_tenant(self, request, obj, form, change, *, actor):
        adopt(obj, form.save_through_service(actor))

    # -- actions
    def _status_action(self, request, queryset, *, action: str, title: str, call, done: str):
        """An intermediate page asking for the reason, then the service for each partner."""
        if "apply" in request.POST:
            form = PartnerStatusReasonForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                self.run_service_action(
                    request, queryset, lambda actor, p: call(actor, p, reason), done
                )
                return None  # back to the list, with the messages
        else:
            form = PartnerStatusReasonForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "partners": list(queryset),
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request,
            "admin/partners/partner/status_action.html",
            context,
            status=400 if form.is_bound else 200,
        )

    @admin.action(description=gettext_lazy("Suspend…"), permissions=["change"])
    def suspend_partners(self, request, queryset):
        return self._status_action(
            request,
            queryset,
            action="suspend_partners",
            title=_("Suspend partners"),
            call=lambda actor, partner, reason: services.partner_suspend(
                actor=actor, partner=partner, reason=reason
            ),
            done=_("Suspended %(count)d partner(s)."),
        )

    @admin.action(description=gettext_lazy("Reactivate…"), permissions=["change"])
    def reactivate_partners(self, request, queryset):
        return self._status_action(
            request,
            queryset,
            action="reactivate_partners",
            title=_("Reactivate partners"),
            call=lambda actor, partner, reason: services.partner_reactivate(
                actor=actor, partner=partner, reason=reason
            ),
            done=_("Reactivated %(count)d partner(s)."),
        )

    def has_pin_tier_permission(self, request) -> bool:
        return role_allows(request, tier_engine.PIN_PERMISSION)

    @admin.action(description=gettext_lazy("Pin tier…"), permissions=["pin_tier"])
    def pin_tier(self, request, queryset):
        """An intermediate page asking for the tier, the last day and why, then
        ``tier_pin`` for each selected partner."""
        partners = list(queryset.select_related("tier"))
        tenant_ids = {p.tenant_id for p in partners}
        # The tenant's tiers; operators pin partners of one tenant at a time.
        tiers = Tier.objects.filter(tenant_id__in=tenant_ids) if len(tenant_ids) == 1 else None
        form = TierPinForm(
            request.POST if "apply" in request.POST else None,
            tiers=(tiers if tiers is not None else Tier.objects.none()).order_by("-rank"),
        )
        if form.is_bound:
            valid = form.is_valid()
            if len(tenant_ids) > 1:
                form.add_error(None, _("Select partners of one tenant to pin their tier."))
                valid = False
            if valid:
                data = form.cleaned_data
                self.run_service_action(
                    request,
                    queryset,
                    lambda actor, partner: tier_engine.tier_pin(
                        actor=actor, partner=partner, tier=data["tier"], until=data["until"],
                        reason=data["reason"].strip(),
                    ),
                    _("Pinned the tier of %(count)d partner(s)."),
                )  # fmt: skip
                return None  # back to the list, with the messages
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Pin the tier of partners"),
            "partners": partners,
            "form": form,
            "action": "pin_tier",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request,
            "admin/partners/partner/tier_pin_action.html",
            context,
            status=400 if form.is_bound else 200,
        )

    @admin.action(description=gettext_lazy("Remove tier pin"), permissions=["pin_tier"])
    def unpin_tier(self, request, queryset):
        self.run_service_action(
            request,
            queryset,
            lambda actor, partner: tier_engine.tier_unpin(actor=actor, partner=partner),
            _("Removed the tier pin of %(count)d partner(s)."),
        )

    @admin.action(description=gettext_lazy("Export selected as CSV"), permissions=["view"])
    def export_partners_csv(self, request, queryset):
        partners = queryset.select_related("tier").order_by("name", "pk")
        response = HttpResponse(
            partner_csv.to_csv_text(partner_csv.export_rows(partners)),
            content_type="text/csv; charset=utf-8",
        )
        tenant = admin_tenant(request)
        stem = f"partners-{tenant.slug}" if tenant is not None else "partners"
        filename = f"{stem}-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(PartnerStatusChange)
class PartnerStatusChangeAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("at", "partner", "from_status", "to_status", "changed_by", "reason")
    list_filter = ("to_status", "from_status")
    list_select_related = ("partner", "changed_by")
    search_fields = ("partner__name", "reason")
    date_hierarchy = "at"
    fields = ("partner", "from_status", "to_status", "at", "changed_by", "reason")
    readonly_fields = fields


@admin.register(Competency)
class CompetencyAdmin(TenantScopedAdmin):
    """The tenant's list of competencies partners may hold (lead routing matches them).
    Partners keep the names they hold; removing one here leaves them until edited."""

    list_display = ("name", "description")
    search_fields = ("name",)
    fields = ("name", "description")


class MembershipAdminForm(TenantScopedForm):
    def clean(self):
        cleaned = super().clean()
        _check_role_and_partner(self, cleaned)
        actor = self.acting_membership
        if actor is not None and self.instance.pk == actor.pk:
            demoted = "role" in cleaned and cleaned["role"] != actor.role
            if demoted or cleaned.get("is_active") is False:
                raise ValidationError(_("You cannot change your own role or deactivate yourself."))
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    """Tenant admins change a member's role, partner organization and active flag; people
    join by invitation. Adding a membership means picking a global user, which only
    operators may do (a tenant admin must not be able to enumerate other tenants' users)."""

    form = MembershipAdminForm
    list_display = ("user_email", "user_name", "role", "partner", "is_active", "created_at")
    list_filter = ("role", "is_active", "partner")
    list_select_related = ("user", "partner")
    search_fields = ("user__email", "user__full_name", "partner__name")
    autocomplete_fields = ("user",)

    @admin.display(description=gettext_lazy("email"), ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description=gettext_lazy("name"), ordering="user__full_name")
    def user_name(self, obj):
        return obj.user.full_name

    def _person_fields(self, request) -> list[str]:
        # Tenant admins see who the person is, without a link to the (operator-only) user.
        return ["user"] if is_operator_mode(request) else ["user_email", "user_name"]

    def get_model_fields(self, request, obj=None):
        if obj is None:
            return ["user", "role", "partner"]
        return [*self._person_fields(request), "role", "partner", "is_active", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += [*self._person_fields(request), "created_at"]
        return readonly

    def get_autocomplete_fields(self, request):
        return self.autocomplete_fields if is_operator_mode(request) else ()

    def has_add_permission(self, request):
        return is_operator_mode(request) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        # Tenant admins deactivate people (kept in the audit trail) rather than delete them.
        return is_operator_mode(request) and super().has_delete_permission(request, obj)

    def save_in_tenant(self, request, obj, form, change, *, actor):
        if change:
            # The form has set role, partner and is_active on obj; the service validates
            # the combination and saves.
            services.membership_update(
                actor=actor, membership=obj, role=obj.role, is_active=obj.is_active
            )
            return
        saved = services.membership_create(
            actor=actor, user=obj.user, role=obj.role, partner=obj.partner
        )
        adopt(obj, saved)


class InvitationStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("pending", _("Pending")),
            ("accepted", _("Accepted")),
            ("revoked", _("Revoked")),
            ("expired", _("Expired")),
        )

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
        match self.value():
            case "pending":
                return queryset.filter(open_, expires_at__gt=now)
            case "accepted":
                return queryset.filter(accepted_at__isnull=False)
            case "revoked":
                return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
            case "expired":
                return queryset.filter(open_, expires_at__lte=now)
        return queryset


class InvitationAdminForm(TenantScopedForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = self.acting_membership
        if actor is not None and "role" in self.fields:
            allowed = invitable_roles(actor.role, set(membership_permissions(actor)))
            self.fields["role"].choices = [
                (value, label) for value, label in Role.choices if value in allowed
            ]

    def clean(self):
        cleaned = super().clean()
        _check_role_and_partner(self, cleaned)
        return cleaned


@admin.register(Invitation)
class InvitationAdmin(TenantScopedAdmin):
    """Invitations are created (and emailed) by ``services.invitation_create`` and revoked
    by ``services.invitation_revoke``; they are never edited or deleted."""

    form = InvitationAdminForm
    list_display = ("email", "role", "partner", "state", "invited_by", "created_at", "expires_at")
    list_filter = (InvitationStateFilter, "role", "partner")
    list_select_related = ("partner", "invited_by")
    search_fields = ("email",)
    actions = ("revoke_invitations",)
    _view_fields = (
        "email",
        "role",
        "partner",
        "state",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )

    def get_model_fields(self, request, obj=None):
        return ["email", "role", "partner"] if obj is None else list(self._view_fields)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += [f for f in self._view_fields if f not in readonly]
        return readonly

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return role_allows(request, "partners.delete_invitation")

    def save_in_tenant(self, request, obj, form, change, *, actor):
        issued = services.invitation_create(
            actor=actor, email=obj.email, role=obj.role, partner=obj.partner
        )
        adopt(obj, issued.invitation)

    @admin.action(description=gettext_lazy("Revoke selected invitations"), permissions=["revoke"])
    def revoke_invitations(self, request, queryset):
        self.run_service_action(
            request,
            queryset,
            lambda actor, invitation: services.invitation_revoke(
                actor=actor, invitation=invitation
            ),
            _("Revoked %(count)d invitation(s)."),
        )


# ---------------------------------------------------------------- tokens and the system logs


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("prefix", "name", "membership", "created_at", "last_used_at", "is_live")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("membership__user",)
    search_fields = ("name", "prefix", "membership__user__email")
    fields = ("membership", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke_tokens",)

    @admin.display(description=gettext_lazy("live"), boolean=True)
    def is_live(self, obj):
        return obj.revoked_at is None

    def has_revoke_permission(self, request):
        return role_allows(request, "partners.delete_apitoken")

    @admin.action(description=gettext_lazy("Revoke selected tokens"), permissions=["revoke"])
    def revoke_tokens(self, request, queryset):
        self.run_service_action(
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda actor, token: services.api_token_revoke(actor=actor, token=token),
            _("Revoked %(count)d token(s)."),
        )


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("name", "created_at", "dispatched_at", "attempts", "failing", "gave_up_at")
    list_filter = (
        "name",
        ("dispatched_at", admin.EmptyFieldListFilter),
        ("gave_up_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("name",)
    fields = (
        "name",
        "payload",
        "created_at",
        "dispatched_at",
        "attempts",
        "next_attempt_at",
        "gave_up_at",
        "last_error",
        "delivered_to",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("failing"), boolean=True)
    def failing(self, obj):
        return bool(obj.last_error) and obj.dispatched_at is None

    @admin.display(description=gettext_lazy("delivered to"))
    def delivered_to(self, obj):
        handlers = obj.deliveries.order_by("delivered_at").values_list("handler", flat=True)
        return ", ".join(handlers) or "-"


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("job", "outcome", "needed_person", "started_at", "finished_at")
    list_filter = ("job", "outcome", "needed_person")
    search_fields = ("job",)
    date_hierarchy = "started_at"
    fields = ("job", "outcome", "needed_person", "started_at", "finished_at", "detail", "error")
    readonly_fields = fields
