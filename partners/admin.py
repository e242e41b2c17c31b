"""Admin of the partners app, on the tenant-scoped site (see ``partners/admin_base.py``).

Tenant admins (``/t/<slug>/admin/``) manage their own tenant's settings, partners, people
(role and active flag; new people join by invitation), invitations and API tokens, and read
the event outbox and automation run log. Operators (``/admin/``) also manage tenants, users
and groups, and see every tenant's rows.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners import (
    admin_imports,  # noqa: F401  (registers the partner import admin)
    admin_tiers,  # noqa: F401  (registers the tier admins)
    services,
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
from partners.models import (
    ApiToken,
    AutomationRun,
    Invitation,
    Membership,
    OutboxEvent,
    Partner,
    Tenant,
    User,
)
from partners.permissions import membership_permissions
from partners.roles import PARTNER_ROLES, STAFF_ROLES, Role, invitable_roles


def _check_role_and_partner(form: forms.ModelForm, cleaned: dict) -> None:
    """The rule services enforce, checked up front so it shows next to the field."""
    role, partner = cleaned.get("role"), cleaned.get("partner")
    if role in PARTNER_ROLES and partner is None:
        form.add_error("partner", _("Partner roles need a partner organization."))
    elif role in STAFF_ROLES and partner is not None:
        form.add_error("partner", _("Vendor staff do not belong to a partner."))


# ---------------------------------------------------------------- tenants


@admin.register(Tenant)
class TenantAdmin(TrellisModelAdmin):
    """Operators: every tenant, full CRUD. Tenant admins: their own tenant's settings."""

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

    def get_fields(self, request, obj=None):
        if not is_operator_mode(request):
            return ("name", "slug", "default_currency", "time_zone", "settings")
        if obj is None:
            return ("name", "slug", "default_currency", "time_zone", "settings")
        return (
            "name",
            "slug",
            "default_currency",
            "time_zone",
            "settings",
            "is_active",
            "created_at",
        )

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


@admin.register(Partner)
class PartnerAdmin(TenantScopedAdmin):
    list_display = ("name", "domain", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "domain")
    fields = ("name", "domain", "status")

    def save_in_tenant(self, request, obj, form, change, *, actor):
        if change:
            # No partner_update service yet: the form's instance is saved (with history).
            return super().save_in_tenant(request, obj, form, change, actor=actor)
        saved = services.partner_create(
            actor=actor, name=obj.name, domain=obj.domain, status=obj.status
        )
        adopt(obj, saved)


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
