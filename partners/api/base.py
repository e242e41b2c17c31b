"""Base classes of every tenant API view (PostHog's TeamAndOrgViewSetMixin, Sentry's
OrganizationEndpoint): the base owns the scope, the object lookup and the permissions, and a
view refines the already-scoped rows in one hook, ``scope_queryset``. A view cannot forget the
tenant (the base filters by it and the manager would raise without it), cannot widen the lookup
of a detail route, and cannot drop the role check by setting ``permission_classes``.

- 401: no or bad credentials (authentication);
- 403: a member whose role lacks a permission listed in ``required_perms`` for the method;
- 404: an id outside the actor's scope: another tenant's, another partner's, or none at all.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import exceptions, viewsets
from rest_framework.views import APIView

from partners.api.pagination import CursorPagination
from partners.api.permissions import HasRolePermissions
from partners.api.throttling import UserRateThrottle
from partners.models import Membership
from partners.tenancy import TenantModel, require_tenant

# A primary key is a PostgreSQL bigint; anything else cannot name a row.
_MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """The id in a URL or a body, or None if it cannot be one (so the caller answers 404)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 0 < number <= _MAX_ID else None


class TenantScopedMixin:
    """The acting membership and the role check, shared by viewsets and plain views."""

    #: Permissions per HTTP method, checked by HasRolePermissions (403 when missing).
    required_perms: dict[str, list[str | tuple[str, ...]]] = {}
    #: The member's rate (settings ``DEFAULT_THROTTLE_RATES["user"]``) in one Redis round
    #: trip; the anonymous rate never applies here (authentication comes first).
    throttle_classes = [UserRateThrottle]

    def get_permissions(self):
        # Owned here, not by the view: every tenant endpoint checks membership and role.
        return [HasRolePermissions()]

    @property
    def membership(self) -> Membership:
        membership = getattr(self.request._request, "membership", None)
        if membership is None:  # HasRolePermissions already refused; defensive
            raise exceptions.NotAuthenticated()
        return membership


class TenantAPIView(TenantScopedMixin, APIView):
    """A tenant endpoint that is not a collection of rows (``/me/``, the current token)."""


class TenantViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """A collection of tenant-owned rows. Subclasses set ``model`` and ``scope_queryset``."""

    model: type[TenantModel]
    pagination_class = CursorPagination
    #: The stable key rows are paged by (see partners.api.pagination).
    ordering: str | tuple[str, ...] = "-pk"
    lookup_value_converter = "int"

    def scope_queryset(self, *, actor: Membership) -> QuerySet:
        """The rows ``actor`` may see: call the app's selector here, nothing else."""
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return self.model.objects.none()
        tenant = require_tenant()
        queryset = self.scope_queryset(actor=self.membership)
        if queryset.model is not self.model:
            raise TypeError(f"{type(self).__name__}.scope_queryset must return {self.model}.")
        # Explicit (tenant, id) even though the manager scopes too: this is the plan, RLS the net.
        return queryset.filter(tenant_id=tenant.pk)

    def get_object(self):
        lookup_kwarg = self.lookup_url_kwarg or self.lookup_field
        pk = parse_id(self.kwargs.get(lookup_kwarg))
        if pk is None:
            raise exceptions.NotFound()
        # By primary key: one row at most, so no ORDER BY ... LIMIT 1 (as first() would add).
        obj = next(iter(self.get_queryset().order_by().filter(pk=pk)), None)
        if obj is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, obj)
        return obj
