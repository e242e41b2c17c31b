"""One permission layer for pages, the API and the admin.

``user.has_perm("partners.invite_staff")`` asks the role of the membership acting in the
current tenant (set by TenantMiddleware, tenant_task or tenant_context). Roles map to Django
groups (``partners.roles.ROLE_PERMISSIONS``); object grants go through django-guardian.
"""

from __future__ import annotations

import time

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache

from partners.roles import ROLE_PERMISSIONS
from partners.tenancy import get_current_membership

_CACHE_KEY = "trellis:role-permissions:v1"
# Roles change only with a deployment (sync_role_groups after migrate): a few seconds of
# process-local memory spares a Redis round trip on every request.
_LOCAL_TTL = 10.0
_local: dict = {"mapping": {}, "expires": 0.0}


def role_permissions() -> dict[str, frozenset[str]]:
    """Role -> permission names, read from the role groups (cached in Redis)."""
    now = time.monotonic()
    if _local["expires"] > now:
        return _local["mapping"]
    cached = cache.get(_CACHE_KEY)
    if cached is not None:
        mapping = {role: frozenset(perms) for role, perms in cached.items()}
        _local.update(mapping=mapping, expires=now + _LOCAL_TTL)
        return mapping
    mapping: dict[str, set[str]] = {role: set() for role in ROLE_PERMISSIONS}
    rows = Group.permissions.through.objects.filter(group__name__in=list(ROLE_PERMISSIONS))
    for group_name, app_label, codename in rows.values_list(
        "group__name", "permission__content_type__app_label", "permission__codename"
    ):
        mapping[group_name].add(f"{app_label}.{codename}")
    cache.set(_CACHE_KEY, {role: sorted(perms) for role, perms in mapping.items()}, 300)
    return {role: frozenset(perms) for role, perms in mapping.items()}


def sync_role_groups(**_kwargs) -> None:
    """Create one group per role holding exactly the permissions of ROLE_PERMISSIONS."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for name in names:
            app_label, codename = name.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
    cache.delete(_CACHE_KEY)
    _local["expires"] = 0.0


def membership_permissions(membership) -> frozenset[str]:
    if membership is None or not membership.is_active:
        return frozenset()
    # Memoized on the membership object (one per request or task), keyed by role so a role
    # change made through this object is seen at once.
    memo = getattr(membership, "_trellis_perms", None)
    if memo is None or memo[0] != membership.role:
        memo = (membership.role, role_permissions().get(membership.role, frozenset()))
        membership._trellis_perms = memo
    return memo[1]


class MembershipBackend(ModelBackend):
    """Logs in by email; answers permissions from the acting membership's role."""

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return set()
        membership = get_current_membership()
        if membership is None or membership.user_id != user_obj.pk:
            return set()
        return set(membership_permissions(membership))

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return set()
        if user_obj.is_superuser and get_current_membership() is None:
            # Operators, outside any tenant (the operator admin at /admin/).
            if not hasattr(user_obj, "_trellis_operator_perms"):
                user_obj._trellis_operator_perms = {
                    f"{ct}.{code}"
                    for ct, code in Permission.objects.values_list(
                        "content_type__app_label", "codename"
                    )
                }
            return user_obj._trellis_operator_perms
        return self.get_group_permissions(user_obj)

    def has_perm(self, user_obj, perm, obj=None):
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label):
        return any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj))
