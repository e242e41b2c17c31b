"""API permissions: the same role permissions the pages and the admin use.

Views declare what each method needs, like Sentry's scope_map::

    required_perms = {"GET": ["partners.view_membership"], "POST": ["partners.add_membership"]}

Every name in the list is required; a tuple in the list is a set of alternatives, any one of
which is enough (``("partners.change_membership", "partners.invite_partner_user")``: staff
manage people with the first, partner admins their own organization with the second, and the
service decides which applies to the row).
"""

from __future__ import annotations

from rest_framework import permissions


class IsTenantMember(permissions.BasePermission):
    """An authenticated, active member of the request's tenant."""

    message = "You are not a member of this tenant."

    def has_permission(self, request, view) -> bool:
        membership = getattr(request._request, "membership", None)
        return bool(
            request.user
            and request.user.is_authenticated
            and membership is not None
            and membership.is_active
            and membership.user_id == request.user.pk
        )


class HasRolePermissions(IsTenantMember):
    """IsTenantMember plus the permissions the view lists for the request's method."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        # HEAD runs the GET handler, so it needs what GET needs.
        method = "GET" if request.method == "HEAD" else request.method
        required = (getattr(view, "required_perms", None) or {}).get(method, [])
        for requirement in required:
            alternatives = (requirement,) if isinstance(requirement, str) else requirement
            if not any(request.user.has_perm(perm) for perm in alternatives):
                return False
        return True
