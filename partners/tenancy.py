"""Tenancy: the current tenant, the scoped manager, and the database session settings.

How tenancy is enforced (read this before adding a model, a view or a task):

1. Every tenant-owned model subclasses :class:`TenantModel`. Its ``objects`` manager filters
   by the current tenant and raises :class:`TenantContextMissing` when there is none, so a
   forgotten scope fails loudly instead of returning every tenant's rows.
2. The current tenant lives in a ContextVar set by :func:`tenant_context`, which also opens a
   transaction and runs ``set_config('app.tenant_id', <id>, true)`` (``SET LOCAL``) in it.
   ``TenantMiddleware`` wraps every tenant request in it, ``tenant_task`` every Celery task,
   and management commands call it themselves. On exit the setting is restored, so it never
   outlives the block, not even on a pooled connection or inside an outer test transaction.
3. PostgreSQL row-level security, enabled and forced on every table with a ``tenant_id``
   (added by migrations automatically, see ``partners.db_operations``), compares
   ``tenant_id`` with ``app.tenant_id``. The runtime role is neither superuser, owner nor
   BYPASSRLS, so a queryset bug returns nothing rather than another tenant's rows.
4. Operator code that must cross tenants uses :func:`dangerously_all_tenants`, the one escape
   hatch: it switches the app layer off and ``SET LOCAL ROLE``s to the BYPASSRLS ops role for
   the block. Grep for it in review.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Expression
from django.utils import timezone

if TYPE_CHECKING:
    from partners.models import Membership, Tenant


class TenantContextMissing(RuntimeError):
    """A tenant-owned model was queried with no tenant in context."""


class CrossTenantReference(ValueError):
    """A row would reference a row of another tenant."""


_current_tenant: ContextVar[Tenant | None] = ContextVar("trellis_tenant", default=None)
_current_membership: ContextVar[Membership | None] = ContextVar("trellis_membership", default=None)
_all_tenants: ContextVar[bool] = ContextVar("trellis_all_tenants", default=False)
_runtime_role_under_ops: ContextVar[str | None] = ContextVar("trellis_runtime_role", default=None)


def get_current_tenant() -> Tenant | None:
    return _current_tenant.get()


def require_tenant() -> Tenant:
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantContextMissing(
            "No tenant in context. Wrap the code in partners.tenancy.tenant_context(tenant)."
        )
    return tenant


def get_current_membership() -> Membership | None:
    return _current_membership.get()


def _set_db_tenant(tenant_id: int | None) -> str:
    """Set app.tenant_id for the current transaction; returns the previous value."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.tenant_id', true), set_config('app.tenant_id', %s, true)",
            ["" if tenant_id is None else str(tenant_id)],
        )
        previous = cursor.fetchone()[0]
    return previous or ""


@contextlib.contextmanager
def tenant_context(tenant: Tenant, membership: Membership | None = None) -> Iterator[Tenant]:
    """Run the block as ``tenant``: ContextVar for the app layer, SET LOCAL for the database.

    Nested inside :func:`dangerously_all_tenants` (the operator admin acting on one tenant's
    row through a service), the block is scoped to ``tenant`` again: a service's own queries
    (duplicate checks, bulk updates) must never reach across tenants.
    """
    operator_role = _runtime_role_under_ops.get() if _all_tenants.get() else None
    tenant_token = _current_tenant.set(tenant)
    membership_token = _current_membership.set(membership)
    all_tenants_token = _all_tenants.set(False)
    # The outermost block's COMMIT or ROLLBACK ends the SET LOCAL by itself; only a block
    # nested in an outer transaction must put the previous setting back.
    outermost = not connection.in_atomic_block
    try:
        # Dates and times render in the tenant's time zone inside its context.
        with timezone.override(tenant.time_zone or "UTC"), transaction.atomic():
            if operator_role:
                # Back from the BYPASSRLS ops role to the runtime role, so row-level security
                # guards this block too.
                with connection.cursor() as cursor:
                    cursor.execute(f'SET LOCAL ROLE "{operator_role}"')
            previous = _set_db_tenant(tenant.pk)
            try:
                yield tenant
            finally:
                if not outermost and not connection.needs_rollback:
                    with contextlib.suppress(Exception), connection.cursor() as cursor:
                        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [previous])
                        if operator_role:
                            cursor.execute(f'SET LOCAL ROLE "{settings.DATABASE_OPS_ROLE}"')
    finally:
        _all_tenants.reset(all_tenants_token)
        _current_membership.reset(membership_token)
        _current_tenant.reset(tenant_token)


def set_current_membership(membership: Membership | None) -> None:
    """Attach the acting membership inside an already-open tenant_context."""
    _current_membership.set(membership)


def _switch_role(role: str) -> str:
    """``SET LOCAL ROLE role`` in one round trip; returns the role it replaced."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, set_config('role', %s, true)", [role])
        return cursor.fetchone()[0]


@contextlib.contextmanager
def dangerously_all_tenants() -> Iterator[None]:
    """Operator escape hatch: read and write across tenants for the duration of the block.

    Only operator jobs (sweeps over every tenant), identity look-ups that happen before a
    tenant is known (login, token and invitation look-ups) and the superuser admin may use it.
    """
    token = _all_tenants.set(True)
    outermost = not connection.in_atomic_block  # then COMMIT/ROLLBACK ends the role itself
    try:
        with transaction.atomic():
            role_before = _switch_role(settings.DATABASE_OPS_ROLE)
            role_token = _runtime_role_under_ops.set(role_before)
            try:
                yield
            finally:
                if not outermost and not connection.needs_rollback:
                    with contextlib.suppress(Exception), connection.cursor() as cursor:
                        cursor.execute(f'SET LOCAL ROLE "{role_before}"')
                _runtime_role_under_ops.reset(role_token)
    finally:
        _all_tenants.reset(token)


@contextlib.contextmanager
def dangerously_bypass_rls() -> Iterator[None]:
    """Run raw SQL that needs an index PostgreSQL withholds under row-level security.

    The planner keeps operators that are not LEAKPROOF (pg_trgm's ``%``, ``ILIKE``) out of
    index conditions on tables with RLS, so such a search reads every row of the tenant.
    Inside this block the connection runs as the BYPASSRLS ops role, so the SQL itself MUST
    bind every table to the transaction's tenant with the policy's own predicate,
    ``tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint`` (no tenant set:
    no rows). Only for read-only raw SQL; grep for it in review.
    """
    require_tenant()
    with transaction.atomic():
        role_before = _switch_role(settings.DATABASE_OPS_ROLE)
        try:
            yield
        finally:
            if not connection.needs_rollback:
                with contextlib.suppress(Exception), connection.cursor() as cursor:
                    cursor.execute(f'SET LOCAL ROLE "{role_before}"')


def all_tenants_active() -> bool:
    return _all_tenants.get()


class TenantScope(Expression):
    """``tenant_id = <current tenant>``, decided when the SQL is compiled, not when the
    queryset is built. So a queryset may be declared anywhere (a form field at import time,
    a class attribute) and still fails closed: compiling it with no tenant raises."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, column: Any = None) -> None:
        super().__init__()
        self.column = column

    def get_source_expressions(self) -> list:
        return [self.column] if self.column is not None else []

    def set_source_expressions(self, exprs: list) -> None:
        self.column = exprs[0] if exprs else None

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        clone = self.copy()
        if self.column is None:
            clone.column = query.resolve_ref("tenant_id", allow_joins, reuse, summarize)
        else:
            # Already bound to its own query's column (e.g. used inside a subquery).
            clone.column = self.column.resolve_expression(
                query, allow_joins, reuse, summarize, for_save
            )
        return clone

    def as_sql(self, compiler, connection):
        if _all_tenants.get():
            return "TRUE", ()
        column_sql, params = compiler.compile(self.column)
        return f"{column_sql} = %s", (*params, require_tenant().pk)


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Scopes every query to the current tenant; fails closed (raises) without one."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(TenantScope())


class TenantModel(models.Model):
    """Base for every tenant-owned model."""

    tenant = models.ForeignKey(
        "partners.Tenant", on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = TenantManager()

    class Meta:
        abstract = True

    def assert_same_tenant(self, *related: Any) -> None:
        """Refuse references to rows of another tenant (the service-level guard)."""
        for obj in related:
            if obj is not None and getattr(obj, "tenant_id", self.tenant_id) != self.tenant_id:
                raise CrossTenantReference(
                    f"{type(obj).__name__} {obj.pk} belongs to another tenant."
                )
