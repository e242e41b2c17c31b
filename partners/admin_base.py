"""The tenant-scoped Django admin: the site, and the base classes every ``admin.py`` uses.

One site serves two modes, decided by ``TenantMiddleware`` before the admin runs:

- **Tenant mode**, at ``/t/<slug>/admin/``: the request runs inside ``tenant_context`` and
  carries ``request.tenant`` and ``request.membership``. Only an active member whose role
  grants ``partners.access_tenant_admin`` gets in. Querysets, foreign-key choices and saves
  are limited to the tenant: the scoped manager (and row-level security under it) does the
  limiting, :class:`TenantScopedAdmin` never builds an unscoped query. Permissions come from
  the membership's role, never from ``is_superuser``, so even an operator who is also a
  member sees only that tenant here.
- **Operator mode**, at ``/admin/``: superusers only, inside ``dangerously_all_tenants``
  (``request.operator_admin``). Tenant-owned lists gain a tenant column and filter; a new
  tenant-owned row needs its tenant picked explicitly; writes run through the services
  inside ``tenant_context`` of the row's tenant, so a service's own queries stay scoped.

Fail closed: a model registered with a plain ``ModelAdmin`` (Django's Group, django-celery-
beat's schedules, anything a later app forgets to scope) is operator-only. Only admins that
declare ``tenant_admin_enabled = True`` (:class:`TenantScopedAdmin`, the Tenant admin) are
reachable in tenant mode.

Writes go through ``partners.services`` where a service exists; a service that refuses
(``ValidationError``, ``PermissionDenied``) becomes an error message on the admin page, not a
500. Forms check the same rules up front where they cheaply can, so the message usually
appears next to the field instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from partners.models import Membership, Tenant
from partners.permissions import membership_permissions
from partners.tenancy import TenantModel, tenant_context

TENANT_ADMIN_PERM = "partners.access_tenant_admin"
# The operator's tenant picker on add forms. Not called "tenant": TenantModel.tenant is not
# editable, and a ModelForm refuses to name a non-editable model field.
TENANT_CHOICE_FIELD = "owner_tenant"


# ---------------------------------------------------------------- request modes


def is_operator_mode(request: HttpRequest) -> bool:
    """The unprefixed /admin/, entered by a superuser (set by TenantMiddleware)."""
    user = getattr(request, "user", None)
    return bool(
        getattr(request, "operator_admin", False)
        and user is not None
        and user.is_active
        and user.is_superuser
    )


def admin_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant of a tenant-mode request (None in operator mode)."""
    if is_operator_mode(request):
        return None
    return getattr(request, "tenant", None)


def acting_membership(request: HttpRequest) -> Membership | None:
    """The membership acting in tenant mode, if it is live and belongs to this request."""
    tenant = admin_tenant(request)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if (
        tenant is None
        or membership is None
        or user is None
        or not membership.is_active
        or membership.user_id != user.pk
        or membership.tenant_id != tenant.pk
    ):
        return None
    return membership


def role_allows(request: HttpRequest, perm: str) -> bool:
    """One permission question for both modes: operators ask Django, members their role."""
    if is_operator_mode(request):
        return request.user.has_perm(perm)
    membership = acting_membership(request)
    return membership is not None and perm in membership_permissions(membership)


# ---------------------------------------------------------------- the site


class OperatorOnlyAdminMixin:
    """Mixed into every ModelAdmin that is not tenant-aware: invisible in tenant mode."""

    tenant_admin_enabled = False

    def has_module_permission(self, request):
        return is_operator_mode(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_operator_mode(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return is_operator_mode(request) and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return is_operator_mode(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_operator_mode(request) and super().has_delete_permission(request, obj)


class TrellisAdminSite(admin.AdminSite):
    """``admin.site`` of Trellis (installed by ``partners.apps.TrellisAdminConfig``)."""

    site_header = gettext_lazy("Trellis operators")
    site_title = gettext_lazy("Trellis admin")
    index_title = gettext_lazy("Administration")

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not getattr(admin_class, "tenant_admin_enabled", False) and not issubclass(
            admin_class, OperatorOnlyAdminMixin
        ):
            # Global tables (groups, beat schedules, ...) and anything not built on the
            # tenant-scoped base: operators only, whatever a role's permissions say.
            admin_class = type(
                admin_class.__name__,
                (OperatorOnlyAdminMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        return super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request):
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return False
        if is_operator_mode(request):
            return True
        membership = acting_membership(request)
        return membership is not None and TENANT_ADMIN_PERM in membership_permissions(membership)

    def each_context(self, request):
        context = super().each_context(request)
        tenant = admin_tenant(request)
        context["operator_mode"] = is_operator_mode(request)
        context["admin_tenant"] = tenant
        if tenant is not None:
            context["site_header"] = _("%(tenant)s administration") % {"tenant": tenant.name}
            context["site_title"] = _("%(tenant)s admin") % {"tenant": tenant.name}
            # The script prefix carries /t/<slug>/, so this is the tenant's home page.
            context["site_url"] = reverse("home")
        return context

    def index(self, request, extra_context=None):
        tenant = admin_tenant(request)
        if tenant is not None:
            title = _("%(tenant)s administration") % {"tenant": tenant.name}
            extra_context = {"title": title, **(extra_context or {})}
        return super().index(request, extra_context)

    def login(self, request, extra_context=None):
        # In tenant mode the visitor is always signed in (TenantMiddleware sends anonymous
        # visitors to the site's login page): a member without the admin role is refused,
        # rather than shown a second login form that could not let them in anyway.
        if admin_tenant(request) is not None:
            if self.has_permission(request):
                return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
            raise PermissionDenied
        return super().login(request, extra_context)


# ---------------------------------------------------------------- forms


class TenantLabeledModelChoiceField(forms.ModelChoiceField):
    """Operator mode lists rows of every tenant: say whose each one is."""

    def label_from_instance(self, obj):
        return f"{obj} · {obj.tenant}"


class TenantLabeledModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj} · {obj.tenant}"


class TenantScopedForm(forms.ModelForm):
    """Base form of tenant-owned models in the admin.

    ``admin_tenant`` and ``acting_membership`` are set per request by
    :meth:`TenantScopedAdmin.get_form`. The instance gets its tenant before validation, so
    unique constraints that start with ``tenant`` are checked by the form (a field error)
    rather than by the database (a 500).
    """

    admin_tenant: Tenant | None = None
    acting_membership: Membership | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.admin_tenant is not None and self.instance.tenant_id is None:
            self.instance.tenant = self.admin_tenant

    def clean(self):
        cleaned = super().clean()
        chosen = cleaned.get(TENANT_CHOICE_FIELD)
        if chosen is not None:
            self.instance.tenant = chosen
        if self.instance.tenant_id is not None:
            self._refuse_rows_of_other_tenants(cleaned)
        return cleaned

    def _refuse_rows_of_other_tenants(self, cleaned: dict) -> None:
        # Tenant mode cannot even offer such rows; an operator could pick one.
        for name, field in self.fields.items():
            if not isinstance(field, forms.ModelChoiceField):
                continue
            if not issubclass(field.queryset.model, TenantModel):
                continue
            value = cleaned.get(name)
            if value is None:
                continue
            values = value if isinstance(field, forms.ModelMultipleChoiceField) else [value]
            if any(row.tenant_id != self.instance.tenant_id for row in values):
                self.add_error(name, _("Choose a row of the same tenant."))

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if self.instance.tenant_id is not None:
            exclude.discard("tenant")
        return exclude


# ---------------------------------------------------------------- model admins


class ServiceRefused(Exception):
    """A service refused an admin write; shown as an error message on the page."""

    def __init__(self, messages_: list[str]) -> None:
        super().__init__("; ".join(messages_))
        self.messages = messages_


def adopt(obj, saved) -> None:
    """Make the admin's instance the row a service saved (the admin logs and links to it)."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


class TrellisModelAdmin(SimpleHistoryAdmin):
    """What every Trellis admin shares: service writes, 404 for missing rows, history.

    History (django-simple-history) is read-only here: reverting would write a row past
    its service, so the revert form is disabled and refuses POSTs.
    """

    tenant_admin_enabled = True

    # -- permissions: role-based in tenant mode (see role_allows)
    def _perm(self, action: str) -> str:
        return f"{self.opts.app_label}.{get_permission_codename(action, self.opts)}"

    def has_module_permission(self, request):
        if is_operator_mode(request):
            return super().has_module_permission(request)
        return acting_membership(request) is not None

    def has_view_permission(self, request, obj=None):
        return role_allows(request, self._perm("view")) or self.has_change_permission(request, obj)

    def has_add_permission(self, request):
        return role_allows(request, self._perm("add"))

    def has_change_permission(self, request, obj=None):
        return role_allows(request, self._perm("change"))

    def has_delete_permission(self, request, obj=None):
        return role_allows(request, self._perm("delete"))

    # -- writes
    @contextlib.contextmanager
    def service_refusals(self) -> Iterator[None]:
        """Turn a service's refusal into :class:`ServiceRefused` (an admin message)."""
        try:
            yield
        except ValidationError as exc:
            raise ServiceRefused(exc.messages) from exc
        except PermissionDenied as exc:
            raise ServiceRefused([str(exc) or _("Your role does not allow this.")]) from exc

    @contextlib.contextmanager
    def acting_in(self, request: HttpRequest, tenant: Tenant) -> Iterator[Membership | None]:
        """Run a service call as the right actor in ``tenant``.

        Yields the acting membership, or None for operators (services treat None as
        operator code), whose call runs inside ``tenant_context(tenant)``.
        """
        with self.service_refusals():
            if is_operator_mode(request):
                with tenant_context(tenant):
                    yield None
            else:
                membership = acting_membership(request)
                if membership is None or tenant.pk != membership.tenant_id:
                    raise PermissionDenied
                yield membership

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            for message in refused.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def run_service_action(self, request, queryset, call, done_message: str) -> None:
        """An admin action applying ``call(actor, row)`` to each selected row."""
        done, refused = 0, []
        for row in queryset:
            try:
                with self.acting_in(request, row.tenant) as actor:
                    call(actor, row)
            except ServiceRefused as exc:
                refused.append(f"{row}: {exc}")
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    # -- a row outside the queryset does not exist, whoever asks
    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404

    def history_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        if not _has_simple_history(self.model):
            return admin.ModelAdmin.history_view(self, request, object_id, extra_context)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not _has_simple_history(self.model):
            raise Http404
        if request.method != "GET":
            raise PermissionDenied
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True


def _has_simple_history(model) -> bool:
    return hasattr(model._meta, "simple_history_manager_attribute")


class TenantScopedAdmin(TrellisModelAdmin):
    """Base ModelAdmin of every tenant-owned model (a subclass of ``TenantModel``).

    Subclasses write through services by overriding :meth:`save_in_tenant`; the default
    saves the form's instance (for models without a service).
    """

    form = TenantScopedForm

    # -- reads
    def get_queryset(self, request):
        # model._default_manager is the scoped manager: the current tenant in tenant mode,
        # every tenant inside dangerously_all_tenants (operator mode).
        queryset = super().get_queryset(request)
        if is_operator_mode(request):
            queryset = queryset.select_related("tenant")
        return queryset

    def get_list_display(self, request):
        list_display = list(super().get_list_display(request))
        if is_operator_mode(request) and "tenant" not in list_display:
            list_display.append("tenant")
        return list_display

    def get_list_filter(self, request):
        list_filter = list(super().get_list_filter(request))
        if is_operator_mode(request) and "tenant" not in list_filter:
            list_filter.append("tenant")
        return list_filter

    def get_search_fields(self, request):
        search_fields = list(super().get_search_fields(request))
        if is_operator_mode(request) and search_fields:
            search_fields.append("tenant__name")
        return search_fields

    # -- permissions: never act on another tenant's row, even if one were handed in
    def _in_tenant(self, request, obj) -> bool:
        tenant = admin_tenant(request)
        return obj is None or tenant is None or obj.tenant_id == tenant.pk

    def has_view_permission(self, request, obj=None):
        return self._in_tenant(request, obj) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._in_tenant(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._in_tenant(request, obj) and super().has_delete_permission(request, obj)

    # -- forms: the tenant field is hidden for tenants, explicit for operators
    def get_model_fields(self, request, obj=None) -> list[str]:
        """The model's own fields for this form; subclasses override (not get_fields)."""
        return list(super().get_fields(request, obj))

    def get_fields(self, request, obj=None):
        fields = [
            f
            for f in self.get_model_fields(request, obj)
            if f not in ("tenant", TENANT_CHOICE_FIELD)
        ]
        if is_operator_mode(request):
            fields.insert(0, TENANT_CHOICE_FIELD if obj is None else "tenant")
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets and is_operator_mode(request):
            tenant_field = TENANT_CHOICE_FIELD if obj is None else "tenant"
            fieldsets = [(None, {"fields": [tenant_field]}), *fieldsets]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if is_operator_mode(request) and obj is not None and "tenant" not in readonly:
            readonly.append("tenant")  # moving a row between tenants is not a thing
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = kwargs.pop("form", None) or self.form
        attrs = {
            "admin_tenant": admin_tenant(request),
            "acting_membership": acting_membership(request),
            "__module__": base.__module__,
        }
        if is_operator_mode(request) and obj is None:
            attrs[TENANT_CHOICE_FIELD] = forms.ModelChoiceField(
                queryset=Tenant.objects.filter(is_active=True),
                label=_("Tenant"),
                help_text=_("The tenant this row belongs to. It cannot be changed later."),
            )
        kwargs["form"] = type(base.__name__, (base,), attrs)
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if (
            issubclass(related, TenantModel)
            and "queryset" not in kwargs
            and db_field.name not in self.get_autocomplete_fields(request)
            and db_field.name not in self.raw_id_fields
        ):
            kwargs["queryset"] = self._related_queryset(db_field, request)
            if is_operator_mode(request):
                kwargs.setdefault("form_class", TenantLabeledModelChoiceField)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if (
            issubclass(related, TenantModel)
            and "queryset" not in kwargs
            and db_field.name not in self.get_autocomplete_fields(request)
            and db_field.name not in self.raw_id_fields
        ):
            kwargs["queryset"] = self._related_queryset(db_field, request)
            if is_operator_mode(request):
                kwargs.setdefault("form_class", TenantLabeledModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _related_queryset(self, db_field, request):
        # The related model's scoped manager: only the current tenant's rows in tenant mode.
        queryset = self.get_field_queryset(None, db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.all()
        if is_operator_mode(request):
            queryset = queryset.select_related("tenant")
        return queryset

    # -- saves
    def save_model(self, request, obj, form, change):
        if not change:
            tenant = admin_tenant(request)
            if tenant is not None:
                obj.tenant = tenant
            elif obj.tenant_id is None:  # operator mode: the form's tenant picker
                raise ServiceRefused([_("Choose the tenant of the new row.")])
        obj._history_user = request.user
        with self.acting_in(request, obj.tenant) as actor:
            self.save_in_tenant(request, obj, form, change, actor=actor)

    def save_in_tenant(self, request, obj, form, change, *, actor: Membership | None) -> None:
        """Write ``obj`` inside its tenant. Override to call the model's service."""
        admin.ModelAdmin.save_model(self, request, obj, form, change)


class ReadOnlyAdminMixin:
    """Rows written only by the system (or by services through actions)."""

    def has_add_permission(self, request, *args, **kwargs):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
