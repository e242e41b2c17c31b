"""Per-object grants (django-guardian) on top of the role permissions.

Roles say what a member may do in general (``partners.roles``); a grant says they may do it
to one object: a channel manager assigned to some partners, a deal shared with a co-selling
partner, an asset visible to some tiers. Objects are tenant rows, so a grant never reaches
across tenants; queries through ``objects_with_grant`` stay on the scoped manager.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from partners.models import User


def grant(*, user: User, perm: str, obj: Model) -> None:
    assign_perm(perm, user, obj)


def revoke(*, user: User, perm: str, obj: Model) -> None:
    remove_perm(perm, user, obj)


def has_grant(*, user: User, perm: str, obj: Model) -> bool:
    return user.has_perm(perm, obj)


def objects_with_grant(*, user: User, perm: str, queryset: QuerySet) -> QuerySet:
    """The rows of ``queryset`` (already tenant-scoped) on which ``user`` holds ``perm``."""
    return get_objects_for_user(
        user, perm, klass=queryset, accept_global_perms=False, with_superuser=False
    )
